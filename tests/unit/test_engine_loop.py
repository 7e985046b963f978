"""The loop keeps a study going through a scheduler outage, and says when it starts and ends."""

from mshared.engine import loop
from mshared.engine.passes import PassResult
from mshared.errors import SchedulerUnavailable


def test_an_outage_is_reported_once_and_the_loop_goes_on(monkeypatch):
    answers = iter(["down", "down", "RUNNING", "FINISHED"])

    def fake_pass(root, **kwargs):
        answer = next(answers)
        if answer == "down":
            raise SchedulerUnavailable("SLURM controller is not reachable")
        result = PassResult([], answer, 0, 0)
        result.poll_interval = 0
        return result

    monkeypatch.setattr(loop, "run_pass", fake_pass)
    told = []
    statuses = loop.run_loop(["/study"], sleep=lambda s: None, on_outage=lambda r, m: told.append(m))
    assert statuses == {"/study": "FINISHED"}
    assert told == ["SLURM controller is not reachable", None]
    assert loop.exit_code(statuses) == 0
