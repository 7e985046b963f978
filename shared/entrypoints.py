"""The console scripts of every tool (pyproject.toml) and their `python -m` twins: Ctrl-C during
start-up is one line (mshared.startup explains the whole scheme).

The first statement blocks SIGINT: from here on a Ctrl-C waits until ``startup.console`` has put
the start-up handler in place, and then ends the command at once with one line.
"""

try:
    import _signal

    _MASK = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})
except KeyboardInterrupt:   # it came just before the block
    import os
    import sys

    os.write(2, os.path.basename(sys.argv[0] or "maestro").encode() + b": interrupted\n")
    os._exit(130)

from .startup import console  # noqa: E402


def mexpand():
    return console("mexpand", "mexpand.cli", prog_name="mexpand", mask=_MASK)


def mrender():
    return console("mrender", "mrender.cli", prog_name="mrender", mask=_MASK)


def msubmit():
    return console("msubmit", "msubmit.cli", prog_name="msubmit", mask=_MASK)


def mmonitor():
    return console("mmonitor", "mmonitor.cli", prog_name="mmonitor", mask=_MASK)


def mreport():
    return console("mreport", "mreport.cli", prog_name="mreport", mask=_MASK)


def mextend():
    return console("mextend", "mextend.cli", prog_name="mextend", mask=_MASK)


def maestro():
    return console("maestro", "maestro_cli.cli", prog_name="maestro", mask=_MASK)
