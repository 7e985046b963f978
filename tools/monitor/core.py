"""mmonitor's core: one pass (poll, apply Maestro's transitions, submit what became ready), a loop
of passes until the studies end, and the requests (cancel, rerun) that the passes carry out.

mruntime's engine does the passes; a request is written into the study's state under its lock,
and the next pass (of a running loop, or of `mmonitor`) acts on it.  After a pass, the requests
of decide steps that finished (a study that grows: docs/mextend.md) are applied through
mextend's core; mmonitor.rounds has the loop's part of that.
"""

from mruntime.engine import requests
from mruntime.engine.loop import exit_code
from mruntime.engine.passes import PassResult, run_pass
from mshared.errors import InvalidInput, MError
from mshared.times import utcnow

__all__ = ["monitor_study", "monitor_loop", "exit_code", "request_cancel", "request_rerun", "instances"]


def monitor_study(root: str, *, submit: bool = True, clock=utcnow, adapters: dict | None = None,
                  on_round=None) -> PassResult:
    """One pass: poll the in-flight jobs, apply what they did, then (``submit``) submit the steps
    that became ready.  Then the requests of decide instances that finished are applied (a study
    with extend.decide), and when the study grew a second pass submits the new steps (its events
    follow the first's).  ``on_round(root, outcomes)`` hears of the requests read.
    CLI twin: `mmonitor STUDY_DIR`."""
    from mextend.core import apply_requests, decide_ids

    result = run_pass(root, poll_jobs=True, submit=submit, clock=clock, adapters=adapters)
    if not decide_ids(root):
        return result
    try:
        outcomes = apply_requests(root, now=clock())
    except MError as err:
        outcomes = [{"step": None, "status": "error", "reason": str(err)}]
    if outcomes and on_round:
        on_round(root, outcomes)
    if not submit or not any(o["status"] == "applied" for o in outcomes):
        return result
    more = run_pass(root, poll_jobs=False, submit=True, clock=clock, adapters=adapters)
    return PassResult(result.events + more.events, more.status, more.local_in_flight, more.in_flight,
                      more.poll_interval)


def monitor_loop(roots: list[str], *, interval: float | None = None, submit: bool = True, on_pass=None,
                 on_outage=None, on_round=None) -> dict:
    """Passes over ``roots`` until every study has ended; returns {root: final status}
    ("FINISHED", "FAILED", "CANCELLED"; ``exit_code`` turns them into Maestro's exit code).
    ``on_pass(root, events, status)`` after each pass; ``on_outage(root, message or None)`` when
    a scheduler stops and starts answering (the loop keeps trying); ``on_round(root, outcomes)``
    when decide steps' requests were read (mmonitor.rounds).  A study that grows runs on; an
    open one (extend.open) waits for mextend until it is done.
    CLI twins: `mmonitor --loop`, `maestro conductor`, `maestro run -fg`."""
    from .rounds import monitor_loop as loop

    return loop(roots, interval=interval, submit=submit, on_pass=on_pass, on_outage=on_outage, on_round=on_round)


def instances(dag_steps: list[dict], name: str) -> list[str]:
    """Ids of the instances of spec step ``name``, or ``[name]`` if it is a step id itself."""
    ids = [s["id"] for s in dag_steps if s["step"] == name or s["id"] == name]
    if not ids:
        raise InvalidInput(f"no step or step instance named '{name}' in this study")
    return ids


def request_cancel(root: str, step: str | None = None) -> list[str] | None:
    """Ask for the study to be cancelled (``step`` None), or only ``step`` (a spec step's
    instances, or one instance id) and its descendants; returns the step ids asked for.
    Requests are carried out in the order they were made (mruntime.engine.requests).
    CLI twin: `maestro cancel [--step STEP]`."""
    def change(state, dag):
        ids = None if step is None else instances(dag["steps"], step)
        requests.ask_cancel(state, ids)
        return ids

    from mshared.studydir import edit_state   # here: a pass does not need it

    return edit_state(root, change)


def request_rerun(root: str, step: str, subtree: bool = False) -> list[str]:
    """Ask for ``step`` (a spec step's instances, or one instance id) to run again, with its
    descendants when ``subtree``; after a cancel of the study, the re-run lifts it.  A step still
    in flight runs again once it has ended.  Returns the step ids.
    CLI twin: `maestro rerun STUDY_DIR STEP [--subtree]`."""
    def change(state, dag):
        ids = instances(dag["steps"], step)
        requests.ask_rerun(state, ids, subtree)
        return ids

    from mshared.studydir import edit_state   # here: a pass does not need it

    return edit_state(root, change)
