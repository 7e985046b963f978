"""The step index a loop keeps follows the events exactly: after any sequence of transitions it
says what a scan of the whole state says (in flight, open, ready in order)."""

from hypothesis import given, settings, strategies as st

from mshared import states as S
from mruntime.engine import transitions as T
from mruntime.engine.index import StepIndex
from mruntime.schedulers.base import JobStatus

from engine_helpers import AT, build

ANSWERS = [S.RUNNING, S.FINISHED, S.FAILED, S.TIMEDOUT, S.HWFAILURE, S.CANCELLED, S.PENDING]


def scan(state, graph):
    steps = state["steps"]
    return ({sid for sid, e in steps.items() if e["state"] in S.IN_FLIGHT},
            sum(e["state"] not in S.TERMINAL for e in steps.values()),
            T.ready_steps(state, graph, AT))


def tickets_by_scan(state):
    """In-flight steps whose job is a bundle's ticket (ticket -> step), and those still PENDING."""
    steps = state["steps"]
    tickets = {e["job_id"]: sid for sid, e in steps.items()
               if e["state"] in S.IN_FLIGHT and (e["job_id"] or "").startswith("b-")}
    return tickets, {sid for sid in tickets.values() if steps[sid]["state"] == S.PENDING}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["submit", "answer", "rerun", "cancel"]),
                          st.integers(0, 4), st.sampled_from(ANSWERS)), max_size=40))
def test_the_index_agrees_with_a_scan_after_any_transitions(moves):
    _, graph, state = build(rlimit=0)
    index = StepIndex(state, graph)
    events: list = []
    index.follow(events)
    ids = graph.order
    jobs = 0
    for kind, which, answer in moves:
        sid = ids[which % len(ids)]
        entry = state["steps"][sid]
        if kind == "submit" and sid in T.ready_steps(state, graph, AT):
            jobs += 1       # every other job a bundle's ticket: the index keeps those apart
            job = str(jobs) if jobs % 2 else f"b-{jobs:013x}-0"
            T.move(state, sid, S.PENDING, AT, events, job_id=job, jobs=entry["jobs"] + [job])
        elif kind == "answer" and entry["state"] in S.IN_FLIGHT:
            T.apply_status(state, graph, sid, JobStatus(entry["job_id"], answer), AT, events)
        elif kind == "rerun":
            T.rerun_steps(state, graph, [sid], True, AT, events)
        elif kind == "cancel":
            T.cancel_steps(state, graph, [sid], AT, events)
        index.follow(events)
        flying, open_, ready = scan(state, graph)
        assert index.in_flight == flying
        assert index.open == open_
        assert list(index.ready(state["steps"], AT)) == ready
        assert sorted(index.flying(), key=ids.index) == index.flying()
        tickets, queued = tickets_by_scan(state)
        assert index.tickets == tickets and index.queued_tickets == queued
        assert index.own_jobs_in_flight() == flying - set(tickets.values())
        assert StepIndex(state, graph).tickets == tickets          # made from the state: the same


def test_ready_is_lazy_and_by_adapter():
    _, graph, state = build()
    index = StepIndex(state, graph)
    assert index.first_ready(state["steps"], AT, "local", 1) == ["a"]
    assert index.first_ready(state["steps"], AT, "local", None) == ["a", "other"]
    assert index.first_ready(state["steps"], AT, "slurm", None) == []
