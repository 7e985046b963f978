"""mmonitor's core: one pass (poll, apply Maestro's transitions, submit what became ready), a loop
of passes until the studies end, and the requests (cancel, rerun) that the passes carry out.

mruntime's engine does the passes; a request is written into the study's state under its lock,
and the next pass (of a running loop, or of `mmonitor`) acts on it.
"""

from mruntime.engine import requests
from mruntime.engine.loop import exit_code, run_loop
from mruntime.engine.passes import PassResult, run_pass
from mshared.errors import InvalidInput
from mshared.times import utcnow

__all__ = ["monitor_study", "monitor_loop", "exit_code", "request_cancel", "request_rerun", "instances"]


def monitor_study(root: str, *, submit: bool = True, clock=utcnow, adapters: dict | None = None) -> PassResult:
    """One pass: poll the in-flight jobs, apply what they did, then (``submit``) submit the steps
    that became ready.  CLI twin: `mmonitor STUDY_DIR`."""
    return run_pass(root, poll_jobs=True, submit=submit, clock=clock, adapters=adapters)


def monitor_loop(roots: list[str], *, interval: float | None = None, submit: bool = True, on_pass=None,
                 on_outage=None) -> dict:
    """Passes over ``roots`` until every study has ended; returns {root: final status}
    ("FINISHED", "FAILED", "CANCELLED"; ``exit_code`` turns them into Maestro's exit code).
    ``on_pass(root, events, status)`` after each pass; ``on_outage(root, message or None)`` when
    a scheduler stops and starts answering (the loop keeps trying).
    CLI twins: `mmonitor --loop`, `maestro conductor`, `maestro run -fg`."""
    return run_loop(roots, interval=interval, submit=submit, on_pass=on_pass, on_outage=on_outage)


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
