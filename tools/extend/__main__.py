"""`mextend` (the console script) and `python -m mextend`: Ctrl-C during start-up is one line (mshared.startup)."""

try:  # first: from here on a Ctrl-C waits (SIGINT blocked) until the start-up handler is in place
    import _signal

    _MASK = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})
except KeyboardInterrupt:   # it came just before the block
    import os

    os.write(2, b"mextend: interrupted\n")
    os._exit(130)

from mshared.startup import console  # noqa: E402


def main():
    return console("mextend", "mextend.cli", prog_name="mextend", mask=_MASK)


if __name__ == "__main__":
    main()
