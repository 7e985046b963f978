"""Errors the tools raise; each carries the documented exit code (docs/contracts.md)."""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DATAERR = 65      # bad input: spec, DAG, state or study directory
EXIT_UNAVAILABLE = 69  # scheduler missing or controller down
EXIT_TEMPFAIL = 75     # lock held by another process; try again later
EXIT_SIGNAL_BASE = 128  # a command ended by signal N exits 128 + N, as a shell reports it
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class MError(Exception):
    """Base of every error a tool reports as one line on stderr."""

    exit_code = EXIT_FAILURE


class InvalidInput(MError):
    """The input (spec, DAG, state, study directory) is not valid."""

    exit_code = EXIT_DATAERR


class SchedulerUnavailable(MError):
    """The scheduler cannot be reached; nothing was marked failed."""

    exit_code = EXIT_UNAVAILABLE


class StateBusy(MError):
    """Another process holds the study lock."""

    exit_code = EXIT_TEMPFAIL


class Interrupted(BaseException):
    """A signal that ends the command (SIGINT, SIGTERM, SIGHUP) arrived.  Like KeyboardInterrupt
    it is not an Exception: nothing that catches errors swallows it.  The engine holds these
    signals while a pass changes the state and raises this once the pass is written."""

    def __init__(self, signum: int):
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = EXIT_SIGNAL_BASE + signum
