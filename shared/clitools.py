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
    stream = click.get_binary_stream("stdout")
    stream.write(data)
    stream.flush()


def _prog() -> str:
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None and ctx.parent.info_name:
        # report the top command ("maestro run" -> "maestro") with the sub-command
        return f"{ctx.parent.info_name} {ctx.info_name}"
    return ctx.info_name if ctx and ctx.info_name else "maestro"


def _default_sigpipe() -> None:
    # `mexpand spec | head` must end quietly, not with "[Errno 32] Broken pipe".
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
