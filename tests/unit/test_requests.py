"""Control requests are carried out in the order they were made (fault campaign 2, F4), and a
re-run of a step in flight is kept until the step has ended (F18)."""

from datetime import datetime, timezone

from mmonitor import core as monitor
from mruntime.engine import passes
from mruntime.schedulers.base import JobStatus
from engine_helpers import FakeScheduler, render_study
from mshared import states as S
from mshared.statefile import read_state

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
SPEC = """
description: {name: req, description: d}
study:
  - {name: a, description: d, run: {cmd: echo a}}
  - {name: b, description: d, run: {cmd: echo b, depends: [a]}}
  - {name: c, description: d, run: {cmd: echo c}}
"""


class Scheduler(FakeScheduler):
    """Jobs stay where the test puts them (RUNNING by default)."""

    def __init__(self):
        super().__init__()
        self.states: dict[str, str] = {}   # stem -> state to report

    def status(self, refs):
        return {r.job_id: JobStatus(r.job_id, self.states.get(r.stem, S.RUNNING), 0) for r in refs}


def _study(tmp_path):
    return render_study(tmp_path, SPEC)


def _pass(root, scheduler, submit=True, poll=True):
    return passes.run_pass(root, poll_jobs=poll, submit=submit, clock=lambda: NOW,
                           adapters={"local": scheduler}, local_slots=10)


def _finish_all(root, scheduler):
    for _ in range(10):
        scheduler.states = {stem: S.FINISHED for stem in scheduler.jobs.values()}
        result = _pass(root, scheduler)
        if result.status != "RUNNING":
            return result.status
    raise AssertionError("the study did not end")


def test_a_rerun_then_a_cancel_in_one_pass_cancels_and_the_study_ends(tmp_path):
    root = _study(tmp_path)
    scheduler = Scheduler()
    _pass(root, scheduler)                                      # a and c run
    assert _finish_all(root, scheduler) == "FINISHED"
    monitor.request_rerun(root, "a")
    monitor.request_cancel(root)                                # later: it wins
    assert _pass(root, scheduler).status == "CANCELLED"
    steps = read_state(root)["steps"]
    assert steps["a"]["state"] == S.CANCELLED and steps["b"]["state"] == S.FINISHED   # b had ended


def test_a_cancel_then_a_rerun_in_one_pass_reruns_and_the_study_ends(tmp_path):
    root = _study(tmp_path)
    scheduler = Scheduler()
    _pass(root, scheduler)
    monitor.request_cancel(root)
    monitor.request_rerun(root, "a")                            # later: it wins for a
    result = _pass(root, scheduler)
    assert result.status == "RUNNING"
    steps = read_state(root)["steps"]
    assert steps["a"]["state"] == S.PENDING and len(steps["a"]["jobs"]) == 2
    assert steps["c"]["state"] == S.CANCELLED
    assert _finish_all(root, scheduler) == "CANCELLED"          # c stays cancelled
    assert read_state(root)["steps"]["b"]["state"] == S.CANCELLED   # only a was asked for


def test_a_rerun_of_a_step_in_flight_runs_it_again_once_it_has_ended(tmp_path):
    root = _study(tmp_path)
    scheduler = Scheduler()
    _pass(root, scheduler)
    _pass(root, scheduler)                                      # a RUNNING
    monitor.request_rerun(root, "a")
    _pass(root, scheduler)
    assert read_state(root)["requests"]["queue"] == [{"kind": "rerun", "steps": ["a"], "subtree": False}]
    scheduler.states = {"a": S.FINISHED}
    _pass(root, scheduler)                                      # a ends: its re-run is carried out
    steps = read_state(root)["steps"]
    assert steps["a"]["state"] == S.PENDING and len(steps["a"]["jobs"]) == 2
    assert "queue" not in read_state(root)["requests"]
    assert _finish_all(root, scheduler) == "FINISHED"


def test_a_queued_cancel_stops_submission_even_in_a_pass_that_does_not_carry_it_out(tmp_path):
    root = _study(tmp_path)
    monitor.request_cancel(root)
    scheduler = Scheduler()
    _pass(root, scheduler, poll=False)                          # msubmit's pass
    assert scheduler.jobs == {}
    assert _pass(root, scheduler).status == "CANCELLED"


def test_requests_of_an_earlier_release_are_still_carried_out(tmp_path):
    from mshared.statefile import write_state

    root = _study(tmp_path)
    scheduler = Scheduler()
    _pass(root, scheduler)
    state = read_state(root)
    state["requests"].update(cancel_steps=["c"])
    write_state(root, state)
    _pass(root, scheduler)
    assert read_state(root)["steps"]["c"]["state"] == S.CANCELLED and scheduler.cancelled == ["c"]
