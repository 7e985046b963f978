"""The harness of a scheduler replayed by the stand-ins in tests/standins/ (LSF, Flux, PBS)."""

from __future__ import annotations

from standins import engine
from standins.testing import use_standin

from . import BaseHarness


class StandinHarness(BaseHarness):
    queue = ""                 # the queue the stand-in knows (and "debug")
    header = ""                # the script header; {name} is the job name
    submit_fail = ""           # STANDIN_FAIL_<this> makes only the submit command fail
    finished: dict = {}        # the fields of a job that ended well
    faults = ("down", "garbage", "hang")

    def __init__(self, tmp_path, monkeypatch):
        super().__init__(tmp_path, monkeypatch)
        self.state = use_standin(monkeypatch, tmp_path, self.key, queues=[self.queue, "debug"])

    def adapter(self, **kwargs):
        return super().adapter(**{"timeout": 10, **kwargs})

    def job(self, name: str, long: bool = False, header: str | None = None,
            body: str = "echo hi\n") -> tuple[str, str]:
        return self.write(name, (self.header if header is None else header).format(name=name) + body)

    def end(self, adapter, ref) -> None:
        engine.update_job(self.state, ref.job_id, **self.finished)

    def refused_job(self, name: str) -> tuple[str, str, str]:
        raise NotImplementedError

    def unreachable(self) -> None:
        self.fail("down")

    def fail(self, mode: str, command: str | None = None) -> None:
        """``command`` "submit": only the submit command fails; None: every command."""
        self.monkeypatch.setenv(f"STANDIN_FAIL_{self.submit_fail}" if command == "submit" else "STANDIN_FAIL", mode)
        self.monkeypatch.setenv("STANDIN_HANG_SECONDS", "5")

    def jobs(self) -> dict:
        """What the stand-in scheduler holds."""
        return engine.jobs(self.state)
