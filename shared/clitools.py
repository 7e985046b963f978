"""What every click command shares: help options, one-line errors, the process set-up (SIGPIPE,
GC), stdout/stderr helpers."""

import functools
import gc
import re
import signal
import sys

import click
import orjson  # noqa: F401 - here, under the start-up SIGINT handler (mshared.startup): orjson's
#                module init assumes its own imports succeed, and a KeyboardInterrupt during them
#                crashes the process (SIGSEGV, ijl/orjson#310); every command reads JSON anyway

from .errors import EXIT_FAILURE, EXIT_INTERRUPTED, Interrupted, MError
from .startup import command_signals

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
MAX_MESSAGE = 2000   # characters in one error or warning line
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def tool_errors(func):
    """Turn an MError into ``<tool>: error: <message>`` on stderr and its exit code.

    Unexpected exceptions print one line too (exit 1); MAESTRO_DEBUG=1 shows the traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with command_signals():    # Ctrl-C is KeyboardInterrupt here (mshared.startup)
                return func(*args, **kwargs)
        except MError as err:
            click.echo(f"{_prog()}: error: {one_line(str(err))}", err=True)
            sys.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except (KeyboardInterrupt, Interrupted) as err:
            _end_interrupted(err)
        except OSError as err:   # the system refused (disk full, permissions): not a bug, one line
            import os

            if os.environ.get("MAESTRO_DEBUG"):
                raise
            click.echo(f"{_prog()}: error: {one_line(_os_error(err))}", err=True)
            sys.exit(EXIT_FAILURE)
        except MemoryError:
            click.echo(f"{_prog()}: error: out of memory: the study is too large for the memory this "
                       "process may use (the machine's, or a ulimit); use fewer combinations, or run "
                       "where there is more memory", err=True)
            sys.exit(EXIT_FAILURE)
        except Exception as err:  # noqa: BLE001 - last resort: one line, never a traceback
            signal_end = _wrapped_signal(err)
            if signal_end is not None:
                _end_interrupted(signal_end)
            _internal_error(err)

    return wrapper


def _wrapped_signal(err: Exception) -> BaseException | None:
    """The KeyboardInterrupt or Interrupted (a signal that ends the command) that Python wrapped
    in ``err``: an exception raised while a class body's attributes are set up (a dataclass's
    fields, during a lazy import) becomes a RuntimeError whose cause it is (Python 3.11)."""
    cause = err.__cause__
    return cause if isinstance(err, RuntimeError) and isinstance(cause, (KeyboardInterrupt, Interrupted)) else None


def _end_interrupted(err: BaseException):
    """A Ctrl-C (KeyboardInterrupt: exit 130) or another signal that ends the command
    (Interrupted: 128 + its number), in one line."""
    if isinstance(err, Interrupted):
        click.echo(f"{_prog()}: interrupted ({err})", err=True)
        sys.exit(err.exit_code)
    click.echo(f"{_prog()}: interrupted", err=True)
    sys.exit(EXIT_INTERRUPTED)


def _internal_error(err: Exception):
    import os

    if os.environ.get("MAESTRO_DEBUG"):
        raise err
    click.echo(
        f"{_prog()}: internal error: {type(err).__name__}: {one_line(str(err))} "
        "(set MAESTRO_DEBUG=1 for a traceback and report it)",
        err=True,
    )
    sys.exit(EXIT_FAILURE)


def check_pargs(pgen, pargs) -> None:
    """--pargs are arguments of the --pgen file (mexpand, maestro run): refuse them alone."""
    if pargs and not pgen:
        raise click.UsageError("--pargs needs --pgen (the pargs are arguments of the pgen file)")


def default_sigpipe(func):
    """Restore SIGPIPE's default action before the command runs.

    Python ignores SIGPIPE, so a command writing into a closed pipe (`mexpand spec | head`) would
    end with "[Errno 32] Broken pipe"; with the default action it ends quietly, as a Unix filter.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if hasattr(signal, "SIGPIPE"):
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return func(*args, **kwargs)

    return wrapper


def without_cyclic_gc(func):
    """Turn the cyclic garbage collector off for the rest of the process before the command runs.

    A command builds its objects from JSON and keeps them until it exits: the collector would
    only scan them again and again.  The loops (`mmonitor --loop`, `maestro conductor`) collect
    explicitly between passes (mruntime.engine.loop).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        gc.disable()
        return func(*args, **kwargs)

    return wrapper


def _os_error(err: OSError) -> str:
    import errno

    where = f"{err.filename}: " if err.filename else ""
    what = err.strerror or str(err)
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "; free some space and run again (files are replaced whole: the previous one is intact)"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "; check the permissions of the study directory"
    else:
        hint = ""
    return f"{where}{what}{hint}"


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """A message as ONE line of bounded length: user text quoted in it (a step name with a newline,
    a huge value) must not break the one-line contract.  Line breaks and other control characters
    are shown escaped; the middle of an over-long message is cut."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], message.rstrip("\n"))
    if len(text) > limit:
        half = (limit - 5) // 2
        text = f"{text[:half]} ... {text[-half:]}"
    return text


def warn(message: str) -> None:
    click.echo(f"{_prog()}: warning: {one_line(message)}", err=True)


def info(message: str) -> None:
    click.echo(f"{_prog()}: {one_line(message)}", err=True)


def stdout_bytes(data: bytes) -> None:
    """Write data to stdout as bytes (sys.stdout.buffer also works under click's CliRunner)."""
    stream = sys.stdout.buffer
    stream.write(data)
    stream.flush()


def command_name() -> str:
    """The running command's name for messages ("mexpand", "maestro run")."""
    return _prog()


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

