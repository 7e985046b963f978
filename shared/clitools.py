"""What every click command shares: help options, one-line errors, SIGPIPE, stdout/stderr helpers."""

import functools
import signal
import sys

import click

from .errors import MError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def tool_errors(func):
    """Turn an MError into ``<tool>: error: <message>`` on stderr and its exit code.

    Unexpected exceptions print one line too (exit 1); MAESTRO_DEBUG=1 shows the traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        _default_sigpipe()
        try:
            return func(*args, **kwargs)
        except MError as err:
            click.echo(f"{_prog()}: error: {err}", err=True)
            sys.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo(f"{_prog()}: interrupted", err=True)
            sys.exit(130)
        except Exception as err:  # noqa: BLE001 - last resort: one line, never a traceback
            import os

            if os.environ.get("MAESTRO_DEBUG"):
                raise
            click.echo(
                f"{_prog()}: internal error: {type(err).__name__}: {err} "
                "(set MAESTRO_DEBUG=1 for a traceback and report it)",
                err=True,
            )
            sys.exit(1)

    return wrapper


def warn(message: str) -> None:
    click.echo(f"{_prog()}: warning: {message}", err=True)


def info(message: str) -> None:
    click.echo(f"{_prog()}: {message}", err=True)


def stdout_bytes(data: bytes) -> None:
    """Write data to stdout as bytes (sys.stdout.buffer also works under click's CliRunner)."""
    stream = sys.stdout.buffer
    stream.write(data)
    stream.flush()


def stdin_bytes() -> bytes:
    return sys.stdin.buffer.read()


def _prog() -> str:
    """The tool's name for messages: "mexpand", or "maestro run" for a wrapper sub-command."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "maestro"
    names = []
    while ctx is not None:
        if ctx.info_name:
            names.append(ctx.info_name)
        ctx = ctx.parent
    return " ".join(reversed(names)) or "maestro"


def _default_sigpipe() -> None:
    # `mexpand spec | head` must end quietly, not with "[Errno 32] Broken pipe".
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
