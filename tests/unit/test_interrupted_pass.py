"""A signal during a pass never leaves a state that a later pass turns into a second run or an
endless study (fault campaign 2, F1), and a stranded state is repaired (F1, F4)."""

import os
import signal
from datetime import datetime, timedelta, timezone

import pytest

from mruntime.engine import passes, transitions
from mruntime.schedulers.base import FoundJob, JobStatus
from engine_helpers import render_study
from mshared import states as S
from mshared.errors import Interrupted
from mshared.statefile import read_state, write_state

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
WIDE = """
description: {name: wide, description: d}
study:
""" + "".join(f"  - {{name: s{i}, description: d, run: {{cmd: 'echo {i}'}}}}\n" for i in range(8))
FAN = """
description: {name: fan, description: d}
global.parameters:
  P: {values: [1, 2, 3, 4, 5, 6, 7, 8], label: P.%%}
study:
  - {name: a, description: d, run: {cmd: exit 1}}
  - {name: b, description: d, run: {cmd: echo $(P), depends: [a]}}
  - {name: c, description: d, run: {cmd: echo c, depends: [b_*]}}
"""


class Recorder:
    """A scheduler that records every job it was given; ``on_submit`` runs inside each submit."""

    key = "local"

    def __init__(self, on_submit=None, ending=S.RUNNING):
        self.jobs: list[tuple[str, str, str]] = []   # (job id, workspace, stem)
        self.on_submit, self.ending = on_submit, ending

    def submit(self, script, workspace, stem):
        self.jobs.append((str(len(self.jobs) + 1), workspace, stem))
        if self.on_submit:
            self.on_submit(len(self.jobs))
        return self.jobs[-1][0]

    def status(self, refs):
        return {r.job_id: JobStatus(r.job_id, self.ending, 1 if self.ending == S.FAILED else None) for r in refs}

    def cancel(self, refs):
        pass

    def find(self, workspaces):
        return [FoundJob(job_id, ws, stem) for job_id, ws, stem in self.jobs if ws in workspaces]

    def close(self):
        pass

    def offers(self, capability):
        return False


def _study(tmp_path, spec):
    return render_study(tmp_path, spec)


def _pass(root, adapter, **kw):
    return passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: NOW, adapters={"local": adapter},
                           local_slots=100, **kw)


def test_ctrl_c_during_submission_stops_at_a_whole_state_and_nothing_runs_twice(tmp_path):
    root = _study(tmp_path, WIDE)
    adapter = Recorder(on_submit=lambda n: n == 3 and os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(Interrupted) as caught:
        _pass(root, adapter)
    assert caught.value.signum == signal.SIGINT and caught.value.exit_code == 130
    assert len(adapter.jobs) == 3                          # it stopped submitting at once
    steps = read_state(root)["steps"]
    assert sorted(sid for sid, e in steps.items() if e["state"] == S.PENDING) == ["s0", "s1", "s2"]
    assert all(e["intent"] is None for e in steps.values())  # the others were never handed over
    adapter.on_submit = None
    _pass(root, adapter)                                  # the next pass submits the rest, once
    workspaces = [ws for _, ws, _ in adapter.jobs]
    assert len(workspaces) == len(set(workspaces)) == 8


def test_sigterm_during_a_pass_is_held_until_the_state_is_written(tmp_path):
    root = _study(tmp_path, WIDE)
    adapter = Recorder(on_submit=lambda n: n == 1 and os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(Interrupted) as caught:
        _pass(root, adapter)
    assert caught.value.exit_code == 128 + signal.SIGTERM
    assert read_state(root)["steps"]["s0"]["state"] == S.PENDING
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL    # handlers are given back


def test_an_interrupt_raised_mid_pass_writes_nothing_and_the_next_pass_finds_the_jobs(tmp_path):
    """An exception that is not an error of the pass (here a KeyboardInterrupt raised by the
    scheduler call itself) leaves the state on disk as it was, intents included; the next pass
    finds the jobs by their workspaces instead of submitting them again."""
    root = _study(tmp_path, WIDE)

    def interrupt(n):
        if n == 4:
            raise KeyboardInterrupt

    adapter = Recorder(on_submit=interrupt)
    with pytest.raises(KeyboardInterrupt):
        _pass(root, adapter, memory=None)
    adapter.on_submit = None
    later = NOW + timedelta(seconds=passes.INTENT_GRACE + 1)   # the intents without a job are settled
    passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: later, adapters={"local": adapter},
                    local_slots=100)
    steps = read_state(root)["steps"]
    workspaces = [ws for _, ws, _ in adapter.jobs]
    assert len(workspaces) == len(set(workspaces)) == 8
    assert all(len(e["jobs"]) == 1 for e in steps.values())
    assert steps["s0"]["reason"] == "found again after an interrupted submission"


def test_a_half_failed_subtree_is_failed_whole_by_the_next_pass(tmp_path):
    """A state with a failed parent and some of its subtree still INITIALIZED (written by an
    older release interrupted in the middle of failing the subtree, or edited by hand) ends."""
    root = _study(tmp_path, FAN)
    adapter = Recorder(ending=S.FAILED)
    _pass(root, adapter)                       # a submitted
    state = read_state(root)
    state["steps"]["a"].update(state=S.FAILED, exit_code=1, job_id="1", jobs=["1"])
    for sid in ("b_P.1", "b_P.2", "b_P.3"):
        state["steps"][sid].update(state=S.FAILED, reason="parent 'a' failed")
    write_state(root, state)                   # b_P.4 ... b_P.8 and c still INITIALIZED
    result = _pass(root, adapter)
    assert result.status == "FAILURE"
    steps = read_state(root)["steps"]
    assert {sid: e["state"] for sid, e in steps.items() if e["state"] != S.FAILED} == {}
    assert steps["b_P.8"]["reason"] == "parent 'a' failed" and steps["c"]["reason"].startswith("parent 'b_P.")


def test_a_step_set_back_to_initialized_under_a_failed_parent_is_failed_again(tmp_path):
    root = _study(tmp_path, FAN)
    adapter = Recorder(ending=S.FAILED)
    for _ in range(3):
        result = _pass(root, adapter)
    assert result.status == "FAILURE"
    state = read_state(root)
    state["steps"]["c"].update(state=S.INITIALIZED, reason=None, ended=None)
    write_state(root, state)
    assert _pass(root, adapter).status == "FAILURE"


def test_fail_stranded_leaves_steps_that_may_still_run_alone():
    from engine_helpers import build

    dag, graph, state = build()
    state["steps"]["a"]["state"] = S.FAILED
    events = []
    assert transitions.fail_stranded(state, graph, "t", events) == ["b", "c"]
    assert state["steps"]["gather"]["state"] == S.INITIALIZED     # after_failed_parents: it runs
    assert state["steps"]["other"]["state"] == S.INITIALIZED
