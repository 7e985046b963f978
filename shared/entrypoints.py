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


def _script(tool: str, module: str):
    def run():
        return console(tool, module, prog_name=tool, mask=_MASK)

    run.__name__ = run.__qualname__ = tool.replace("-", "_")
    run.__doc__ = f"The `{tool}` command ({module}.main)."
    return run


mexpand = _script("mexpand", "mexpand.cli")
mrender = _script("mrender", "mrender.cli")
msubmit = _script("msubmit", "msubmit.cli")
mmonitor = _script("mmonitor", "mmonitor.cli")
mreport = _script("mreport", "mreport.cli")
mextend = _script("mextend", "mextend.cli")
maestro = _script("maestro", "maestro_cli.cli")
