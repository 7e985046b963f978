"""The conductor's log says why it ended (issue 15, F13): finished, interrupted by a signal, an error."""

import os
import signal

import pytest

from maestro_cli import conduct
from mshared.errors import Interrupted, InvalidInput


@pytest.fixture
def root(tmp_path):
    os.mkdir(tmp_path / "logs")
    return str(tmp_path)


def _log(root) -> list[str]:
    with open(os.path.join(root, "logs", "conductor.log")) as handle:
        return [line.split(": ", 1)[1] for line in handle.read().splitlines()]


@pytest.mark.parametrize("raised,line", [
    (None, "finished with state 'FINISHED'"),
    (KeyboardInterrupt(), "interrupted by SIGINT; jobs in flight run on"),
    (Interrupted(signal.SIGTERM), "interrupted by SIGTERM; jobs in flight run on"),
    (Interrupted(signal.SIGHUP), "interrupted by SIGHUP; jobs in flight run on"),
    (InvalidInput("x: no\nsuch study"), "error: x: no\\nsuch study"),
    (RuntimeError("boom"), "internal error: RuntimeError: boom"),
])
def test_the_conductor_logs_why_it_ended(root, monkeypatch, raised, line):
    def loop(roots, **kwargs):
        if raised is not None:
            raise raised
        return {roots[0]: "FINISHED"}

    monkeypatch.setattr("mmonitor.core.monitor_loop", loop)
    if raised is None:
        statuses = conduct.conduct(root, interval=None, on_pass=None, on_outage=None, started_by="test")
        assert statuses == {root: "FINISHED"}
    else:
        with pytest.raises(type(raised)):
            conduct.conduct(root, interval=None, on_pass=None, on_outage=None, started_by="test")
    assert _log(root) == ["started (test)", line]
    with open(os.path.join(root, "conductor.pid")) as handle:
        assert handle.read().split()[0] == str(os.getpid())
    assert not os.stat(os.path.join(root, "conductor.pid")).st_mode & 0o002
