"""`mmonitor` (the console script) and `python -m mmonitor`: Ctrl-C during start-up is one line (mshared.startup)."""

try:  # first: from here on a Ctrl-C waits (SIGINT blocked) until the start-up handler is in place
    import _signal

    _MASK = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})
except KeyboardInterrupt:   # it came just before the block
    import os

    os.write(2, b"mmonitor: interrupted\n")
    os._exit(130)

from mshared.startup import console  # noqa: E402


def main():
    return console("mmonitor", "mmonitor.cli", prog_name="mmonitor", mask=_MASK)


if __name__ == "__main__":
    main()
