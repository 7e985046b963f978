"""Console-script start-up: until a command's own error handling runs, Ctrl-C ends it in one line.

Python turns SIGINT into KeyboardInterrupt from its first moments.  One that arrived while a
tool's modules were being imported (click, the cores) or while click parsed the arguments
printed a traceback (or click's "Aborted!", exit 1).  Each console script is `<package>.__main__:
main`, whose first statement blocks SIGINT (a Ctrl-C then waits, pending); ``console`` installs
the start-up handler and restores the signal mask, so a pending Ctrl-C ends the command at once
in one line.  The command's body (``mshared.clitools.tool_errors``) puts Python's handler back
with ``command_signals``, and there Ctrl-C is an interruption the command handles (a pass ends
whole, a loop says what it left running).  This module imports only what is loaded already, or
built in: it runs before everything else.

What runs before the first line of `__main__` is not covered: Python's own start-up (the `site`
module: a SIGINT there ends in Python's "Fatal Python error: init_import_site") and finding our
package.
"""

import _signal
import os


class _Interrupted:
    """The start-up SIGINT handler: '<tool>: interrupted' and exit 130, at once."""

    def __init__(self, tool: str):
        self.message = f"{tool}: interrupted\n".encode()

    def __call__(self, signum, frame):
        os.write(2, self.message)
        os._exit(128 + signum)


def console(tool: str, module: str, prog_name: str | None = None, mask=None):
    """Run the click command ``main`` of ``module`` as the console script ``tool``; ``mask`` is
    the signal mask to restore once the start-up handler is in place (None: nothing blocked)."""
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:   # not when it is ignored
        _signal.signal(_signal.SIGINT, _Interrupted(tool))
    if mask is not None:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)    # a Ctrl-C that waited arrives now
    command = __import__(module, fromlist=["main"]).main
    return command(prog_name=prog_name) if prog_name else command()


class command_signals:   # noqa: N801 - a context manager, used as `with command_signals():`
    """Python's own SIGINT handler (KeyboardInterrupt) for the block, when the start-up one is in
    place; the start-up one again after it (click's exit, the interpreter's shutdown)."""

    def __enter__(self):
        self.handler = _signal.getsignal(_signal.SIGINT)
        if isinstance(self.handler, _Interrupted):
            _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        return self

    def __exit__(self, *exc):
        if isinstance(self.handler, _Interrupted):
            _signal.signal(_signal.SIGINT, self.handler)
        return False
