"""Errors the tools raise; each carries the documented exit code (docs/contracts.md)."""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DATAERR = 65      # bad input: spec, DAG, state or study directory
EXIT_UNAVAILABLE = 69  # scheduler missing or controller down
EXIT_TEMPFAIL = 75     # lock held by another process; try again later
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)


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
