"""Maestro's step semantics as pure functions over the state document (no I/O, no clock).

Each function changes ``state`` in place and appends one event per state change to ``events``.
Applying the same scheduler answer twice gives the same state: every rule looks at the state it
finds, not at what happened before.
"""

from mshared import states as S
from mshared.contracts import EVENT_SCHEMA, EVENT_VERSION

DONE_OK = frozenset({S.FINISHED, S.DRYRUN})


_ABSENT = object()


class StepLog(list):
    """A pass's events, in order (a list of event documents), and the ids of every step it
    changed, with or without an event (``touched``, in the order first changed): what the pass
    must write."""

    def __init__(self):
        super().__init__()
        self.touched: dict[str, None] = {}


def event(step_id: str, old: str, new: str, at: str, **extra) -> dict:
    doc = {"schema": EVENT_SCHEMA, "version": EVENT_VERSION, "step": step_id, "from": old, "to": new, "at": at}
    doc.update({k: v for k, v in extra.items() if v is not None})
    return doc


def move(state: dict, step_id: str, new: str, at: str, events: list, **fields) -> None:
    """Set a step's state (and fields) in one update; one event when the state changes."""
    entry = state["steps"][step_id]
    old = entry["state"]
    if old == new and all(entry.get(key, _ABSENT) == value for key, value in fields.items()):
        return                         # nothing to change: the step is not touched
    entry.update(fields, state=new)
    _touch(events, step_id)
    if old != new:
        events.append(event(step_id, old, new, at, job_id=entry.get("job_id"), reason=entry.get("reason")))


def update(state: dict, step_id: str, events: list, **fields) -> None:
    """Change a step's fields, not its state (no event): an intent set or cleared, a back-off."""
    state["steps"][step_id].update(fields)
    _touch(events, step_id)


def _touch(events: list, step_id: str) -> None:
    touched = getattr(events, "touched", None)   # a plain list (a test's) keeps no record
    if touched is not None:
        touched[step_id] = None


def fail_descendants(state: dict, graph, step_id: str, new: str, at: str, events: list, why: str) -> None:
    """Mark what can no longer run: Maestro fails (or cancels) the whole subtree, other branches go on.

    A child that opted in with ``after_failed_parents`` is left to run once its parents have ended.
    """
    stack = list(graph.children[step_id])
    seen = set()
    while stack:
        child = stack.pop()
        if child in seen:
            continue
        seen.add(child)
        if graph.steps[child].get("after_failed_parents"):
            continue
        entry = state["steps"][child]
        if entry["state"] == S.INITIALIZED:
            move(state, child, new, at, events, reason=why, ended=at, intent=None)
        stack.extend(graph.children[child])


def fail_stranded(state: dict, graph, at: str, events: list) -> list[str]:
    """Repair a state in which INITIALIZED steps wait under a parent that ended without finishing
    (a hand edit, or a state written by an older release half-way through ``fail_descendants``):
    nothing could ever run them, and the study would stay RUNNING for ever.  Each is failed (or
    cancelled) as the parent's own end would have done.  Returns the steps it repaired."""
    steps, repaired = state["steps"], []
    for sid in graph.order:
        entry = steps[sid]
        step = graph.steps[sid]
        if entry["state"] != S.INITIALIZED or step.get("after_failed_parents"):
            continue
        ended = next((p for p in step["depends"] if steps[p]["state"] in S.FAILURES), None)
        if ended is None:
            continue
        if steps[ended]["state"] == S.CANCELLED:
            move(state, sid, S.CANCELLED, at, events, reason=f"parent '{ended}' was cancelled", ended=at, intent=None)
        else:
            move(state, sid, S.FAILED, at, events, reason=f"parent '{ended}' failed", ended=at, intent=None)
        repaired.append(sid)
    return repaired


def apply_status(state: dict, graph, step_id: str, status, at: str, events: list) -> None:
    """Apply one scheduler answer (a JobStatus) to an in-flight step."""
    entry = state["steps"][step_id]
    if entry["state"] not in S.IN_FLIGHT or status.job_id != entry["job_id"]:
        return  # already settled, or an answer about an older job of this step
    if status.alloc is not None and (entry.get("alloc"), entry.get("node")) != (status.alloc, status.node):
        update(state, step_id, events, alloc=status.alloc, node=status.node)   # a bundled step's place
    new = status.state
    if new in (S.PENDING, S.QUEUED, S.WAITING):
        move(state, step_id, new, at, events)
    elif new in (S.RUNNING, S.FINISHING):
        move(state, step_id, new, at, events, started=_started(entry, status, at))
    elif new == S.FINISHED:
        move(state, step_id, S.FINISHED, at, events, started=_started(entry, status, at),
             ended=status.ended or at, exit_code=status.exit_code if status.exit_code is not None else 0,
             reason=None)
    elif new == S.TIMEDOUT:
        _timed_out(state, graph, step_id, status, at, events)
    elif new == S.HWFAILURE:
        move(state, step_id, S.INITIALIZED, at, events, reason=f"hardware failure ({status.reason or 'node failed'}); resubmitting",
             job_id=entry["job_id"], use_restart=False)
    elif new == S.CANCELLED:
        why = status.reason or "cancelled outside the tool"
        move(state, step_id, S.CANCELLED, at, events, ended=status.ended or at, reason=why)
        fail_descendants(state, graph, step_id, S.CANCELLED, at, events, f"parent '{step_id}' was cancelled")
    else:  # FAILED, UNKNOWN, anything else: the job did not succeed
        why = status.reason or ("the scheduler no longer knows the job" if new == S.UNKNOWN else "failed")
        move(state, step_id, S.FAILED, at, events, started=_started(entry, status, None),
             ended=status.ended or at, exit_code=status.exit_code, reason=why)
        fail_descendants(state, graph, step_id, S.FAILED, at, events, f"parent '{step_id}' failed")


def _started(entry: dict, status, default):
    """When the job started: the first time recorded; never before it was submitted (a clock read
    to the second, or a /proc start time in 10 ms ticks, can fall just before it)."""
    started = entry["started"] or status.started or default
    submitted = entry.get("submitted")
    return submitted if started and submitted and started < submitted else started


def _timed_out(state, graph, step_id, status, at, events) -> None:
    entry = state["steps"][step_id]
    rlimit = state["settings"]["rlimit"]
    has_restart = bool(graph.steps[step_id].get("restart"))
    if has_restart and (rlimit == 0 or entry["restarts"] < rlimit):
        count = entry["restarts"] + 1
        limit = "unlimited" if rlimit == 0 else rlimit
        move(state, step_id, S.INITIALIZED, at, events, restarts=count, use_restart=True,
             reason=f"timed out; restarting with its restart script ({count} of {limit})")
        return
    if has_restart:
        why = f"timed out; restarted {entry['restarts']} of {rlimit} times already"
        move(state, step_id, S.FAILED, at, events, ended=status.ended or at, reason=why)
        fail_descendants(state, graph, step_id, S.FAILED, at, events, f"parent '{step_id}' timed out")
        return
    move(state, step_id, S.TIMEDOUT, at, events, ended=status.ended or at,
         reason="timed out and has no restart command")
    fail_descendants(state, graph, step_id, S.FAILED, at, events, f"parent '{step_id}' timed out")


def ready_steps(state: dict, graph, now_iso: str) -> list[str]:
    """INITIALIZED steps whose parents all finished (all ended, for after_failed_parents), in order."""
    steps = state["steps"]
    waiting = [sid for sid in graph.order if steps[sid]["state"] == S.INITIALIZED]  # fast filter first
    return [sid for sid in waiting if is_ready(steps, graph, sid, now_iso)]


def is_ready(steps: dict, graph, sid: str, now_iso: str) -> bool:
    """An INITIALIZED step may be submitted now: no intent pending, no back-off, parents done."""
    entry = steps[sid]
    if entry.get("intent") or (entry.get("not_before") and entry["not_before"] > now_iso):
        return False
    step = graph.steps[sid]
    if step.get("after_failed_parents"):
        return all(steps[p]["state"] in S.TERMINAL for p in step["depends"])
    return all(steps[p]["state"] in DONE_OK for p in step["depends"])


def cancel_steps(state: dict, graph, step_ids, at: str, events: list) -> list[str]:
    """Cancel ``step_ids`` and their subtrees; returns the in-flight ids whose jobs must be cancelled."""
    in_flight = []
    targets: dict[str, None] = {}
    for sid in step_ids:
        targets[sid] = None
        targets.update(dict.fromkeys(graph.descendants(sid)))
    for sid in targets:
        entry = state["steps"][sid]
        if entry["state"] in S.IN_FLIGHT:
            in_flight.append(sid)
        if entry["state"] not in S.TERMINAL:
            move(state, sid, S.CANCELLED, at, events, reason="cancelled by request", ended=at, intent=None)
    return in_flight


def rerun_steps(state: dict, graph, step_ids, subtree: bool, at: str, events: list) -> None:
    """Make ended steps (and, with ``subtree``, their descendants) run again; the rest is untouched."""
    targets: dict[str, None] = {}
    for sid in step_ids:
        targets[sid] = None
        if subtree:
            targets.update(dict.fromkeys(graph.descendants(sid)))
    for sid in targets:
        entry = state["steps"][sid]
        if entry["state"] in S.IN_FLIGHT:
            continue
        move(state, sid, S.INITIALIZED, at, events, reason="re-run by request", attempts=0, restarts=0,
             exit_code=None, started=None, ended=None, not_before=None, intent=None, use_restart=False)
        state["steps"][sid].pop("reused_from", None)   # it runs again: no longer the old study's
    # steps that were failed only because of a parent that now runs again get their chance too
    for sid in targets:
        for child in graph.descendants(sid):
            entry = state["steps"][child]
            if entry["state"] in (S.FAILED, S.CANCELLED) and (entry.get("reason") or "").startswith("parent '"):
                move(state, child, S.INITIALIZED, at, events, reason="parent re-run", ended=None, intent=None)
