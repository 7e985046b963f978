"""Every command sets its process up the same, explicit way before it runs: SIGPIPE back to its
default action (`mexpand spec | head` ends quietly) and the cyclic GC off (short-lived commands)."""

import gc
import importlib
import signal

import click
import pytest
from click.testing import CliRunner

TOOLS = ("mexpand.cli", "mrender.cli", "msubmit.cli", "mmonitor.cli", "mreport.cli", "maestro_cli.cli")


def _commands():
    for module in TOOLS:
        main = importlib.import_module(module).main
        if isinstance(main, click.Group):
            for name, sub in main.commands.items():
                yield f"{main.name} {name}", sub
        else:
            yield module.split(".")[0], main


CASES = list(_commands())


@pytest.fixture
def pristine_process():
    """SIGPIPE ignored and the GC on, as Python starts; both restored afterwards."""
    old_pipe, was_collecting = signal.getsignal(signal.SIGPIPE), gc.isenabled()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    gc.enable()
    yield
    signal.signal(signal.SIGPIPE, old_pipe)
    if was_collecting:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("name,command", CASES, ids=[c[0] for c in CASES])
def test_every_command_restores_sigpipe_and_turns_the_cyclic_gc_off(pristine_process, name, command, tmp_path):
    missing = str(tmp_path / "missing")     # the body runs, and refuses this path at once
    args = [missing] * sum(1 for p in command.params if isinstance(p, click.Argument))
    if command.name == "update":
        args += ["--throttle", "1"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code not in (0, 2), (name, result.output)    # past click's parsing
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL, name
    assert not gc.isenabled(), name


def test_tool_errors_only_turns_errors_into_one_line(pristine_process):
    """The set-up is not hidden in the error handler: each command asks for it by name."""
    from mshared.clitools import tool_errors

    @click.command()
    @tool_errors
    def plain():
        pass

    assert CliRunner().invoke(plain, []).exit_code == 0
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN and gc.isenabled()


def test_a_ctrl_c_python_wrapped_in_a_runtime_error_is_an_interruption(pristine_process):
    """A Ctrl-C while a lazily imported module sets up a class's attributes (a dataclass field)
    reaches the command as RuntimeError("Error calling __set_name__ ...") caused by the
    KeyboardInterrupt: one 'interrupted' line and exit 130, not an internal error; a SIGTERM
    (Interrupted) the same way ends with its own code."""
    from mshared.clitools import tool_errors
    from mshared.errors import Interrupted

    class Interrupts:
        def __set_name__(self, owner, name):
            raise KeyboardInterrupt

    @click.command()
    @tool_errors
    def importing():
        class Answer:   # noqa: F841 - defining it is the point
            unknown = Interrupts()

    result = CliRunner().invoke(importing, [])
    assert result.exit_code == 130 and "interrupted" in result.output, result.output
    assert "internal error" not in result.output

    class Terminates:
        def __set_name__(self, owner, name):
            raise Interrupted(signal.SIGTERM)

    @click.command()
    @tool_errors
    def terminated():
        class Answer:   # noqa: F841
            unknown = Terminates()

    result = CliRunner().invoke(terminated, [])
    assert result.exit_code == 128 + signal.SIGTERM and "interrupted (SIGTERM)" in result.output, result.output

    @click.command()
    @tool_errors
    def broken():
        raise RuntimeError("not a Ctrl-C") from ValueError("cause")

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 1 and "internal error: RuntimeError: not a Ctrl-C" in result.output
