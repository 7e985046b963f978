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
