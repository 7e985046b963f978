"""Maestro's step semantics (maestro-behaviour.md §4) as pure transitions over the state."""

from hypothesis import given, strategies as st

from mshared import states as S
from mruntime.engine import transitions as T
from mruntime.schedulers.base import JobStatus

from engine_helpers import AT, build


def submitted(state, sid, job="1"):
    state["steps"][sid].update(state=S.PENDING, job_id=job, jobs=[job], submitted=AT, attempts=1)


def states(state):
    return {sid: e["state"] for sid, e in state["steps"].items()}


def test_roots_are_ready_and_children_wait_for_finished_parents():
    _, graph, state = build()
    assert T.ready_steps(state, graph, AT) == ["a", "other"]
    submitted(state, "a")
    events = []
    T.apply_status(state, graph, "a", JobStatus("1", S.FINISHED, 0), AT, events)
    assert T.ready_steps(state, graph, AT) == ["b", "other"]
    assert [(e["step"], e["from"], e["to"]) for e in events] == [("a", "PENDING", "FINISHED")]


def test_failure_fails_the_subtree_but_not_other_branches_or_opted_in_steps():
    _, graph, state = build()
    submitted(state, "a")
    events = []
    T.apply_status(state, graph, "a", JobStatus("1", S.FAILED, 3, "exit code 3"), AT, events)
    got = states(state)
    assert got["a"] == S.FAILED and state["steps"]["a"]["exit_code"] == 3
    assert got["b"] == S.FAILED and got["c"] == S.FAILED
    assert state["steps"]["b"]["reason"] == "parent 'a' failed"
    assert got["other"] == S.INITIALIZED
    assert got["gather"] == S.INITIALIZED          # opted in: runs once its parents have ended
    assert T.ready_steps(state, graph, AT) == ["other"]
    submitted(state, "other", "2")
    T.apply_status(state, graph, "other", JobStatus("2", S.FINISHED, 0), AT, events)
    assert T.ready_steps(state, graph, AT) == ["gather"]


def test_timeout_with_restart_is_resubmitted_up_to_the_limit():
    _, graph, state = build(rlimit=2)
    events = []
    for count in (1, 2):
        submitted(state, "a", str(count))
        T.apply_status(state, graph, "a", JobStatus(str(count), S.TIMEDOUT), AT, events)
        entry = state["steps"]["a"]
        assert entry["state"] == S.INITIALIZED and entry["use_restart"] and entry["restarts"] == count
    submitted(state, "a", "3")
    T.apply_status(state, graph, "a", JobStatus("3", S.TIMEDOUT), AT, events)
    assert state["steps"]["a"]["state"] == S.FAILED
    assert state["steps"]["b"]["state"] == S.FAILED


def test_rlimit_zero_means_unlimited_restarts():
    _, graph, state = build(rlimit=0)
    for count in range(1, 6):
        submitted(state, "a", str(count))
        T.apply_status(state, graph, "a", JobStatus(str(count), S.TIMEDOUT), AT, [])
        assert state["steps"]["a"]["state"] == S.INITIALIZED


def test_timeout_without_restart_stays_timedout_and_fails_descendants():
    _, graph, state = build()
    submitted(state, "b")
    T.apply_status(state, graph, "b", JobStatus("1", S.TIMEDOUT), AT, [])
    assert state["steps"]["b"]["state"] == S.TIMEDOUT
    assert state["steps"]["c"]["state"] == S.FAILED


def test_hardware_failure_is_resubmitted():
    _, graph, state = build()
    submitted(state, "a")
    T.apply_status(state, graph, "a", JobStatus("1", S.HWFAILURE, reason="NodeFail"), AT, [])
    assert state["steps"]["a"]["state"] == S.INITIALIZED
    assert "hardware failure" in state["steps"]["a"]["reason"]


def test_applying_the_same_answer_twice_changes_nothing_more():
    _, graph, state = build()
    submitted(state, "a")
    answer = JobStatus("1", S.FAILED, 3, "exit code 3")
    first, second = [], []
    T.apply_status(state, graph, "a", answer, AT, first)
    snapshot = repr(state)
    T.apply_status(state, graph, "a", answer, AT, second)
    assert repr(state) == snapshot and second == []


def test_an_answer_about_an_older_job_is_ignored():
    _, graph, state = build()
    submitted(state, "a", "2")
    T.apply_status(state, graph, "a", JobStatus("1", S.FAILED, 1), AT, [])
    assert state["steps"]["a"]["state"] == S.PENDING


def test_cancel_a_subtree_leaves_the_rest():
    _, graph, state = build()
    submitted(state, "b")
    events = []
    in_flight = T.cancel_steps(state, graph, ["b"], AT, events)
    assert in_flight == ["b"]
    got = states(state)
    assert got["b"] == got["c"] == got["gather"] == S.CANCELLED
    assert got["a"] == got["other"] == S.INITIALIZED


def test_rerun_a_finished_step_and_its_subtree():
    _, graph, state = build()
    for sid in ("a", "b", "c"):
        state["steps"][sid].update(state=S.FINISHED, job_id="9", exit_code=0)
    T.rerun_steps(state, graph, ["b"], True, AT, [])
    got = states(state)
    assert got["a"] == S.FINISHED and got["b"] == S.INITIALIZED and got["c"] == S.INITIALIZED
    assert T.ready_steps(state, graph, AT) == ["b", "other"]


def test_study_status_follows_maestro():
    _, graph, state = build()
    assert S.study_status(state) == "RUNNING"
    for entry in state["steps"].values():
        entry["state"] = S.FINISHED
    assert S.study_status(state) == "FINISHED"
    state["steps"]["c"]["state"] = S.FAILED
    assert S.study_status(state) == "FAILURE"
    state["steps"]["b"]["state"] = S.CANCELLED
    assert S.study_status(state) == "CANCELLED"


@given(st.lists(st.sampled_from(sorted(S.ALL)), min_size=1, max_size=8), st.booleans(), st.booleans())
def test_study_status_from_counts_is_the_status_from_the_steps(values, queued, cancel):
    """mreport's summary hands over the counts per state it made: the same status."""
    from collections import Counter

    state = {"steps": {f"s{i}": {"state": v} for i, v in enumerate(values)},
             "requests": {"queue": ["s0"] if queued else [], "cancel": cancel}}
    assert S.study_status(state, dict(Counter(values))) == S.study_status(state)


def test_not_before_delays_a_retry():
    _, graph, state = build()
    state["steps"]["a"]["not_before"] = "2026-01-02T03:05:00Z"
    assert "a" not in T.ready_steps(state, graph, AT)
    assert "a" in T.ready_steps(state, graph, "2026-01-02T03:05:00Z")
