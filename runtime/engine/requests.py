"""Control requests (`maestro cancel`, `maestro rerun`): how they are written and carried out.

A request is written into the state's ``requests`` under the study lock (``ask_cancel``,
``ask_rerun``; mmonitor.core does it for the wrapper), and the next pass carries it out
(``carry_out``).  Requests wait in ``requests.queue`` in the order they were made, and are
carried out in that order, so the later of two requests wins:
- a cancel of the study cancels everything not ended, stops submission (``requests.cancel``) and
  drops re-runs still waiting; a cancel of some steps does the same for those steps' subtrees;
- a re-run makes ended steps INITIALIZED again; after a cancel of the study it also lifts that
  cancel, so the re-run steps are submitted.  A step still in flight when its re-run is carried
  out keeps its request in the queue until the step has ended, then runs again.
Releases before the queue wrote ``cancel`` / ``cancel_steps`` / ``rerun`` directly; those are
carried out first, as they were then.
"""

from __future__ import annotations

from datetime import datetime

from mshared import states as S
from mshared.times import iso_utc

from . import transitions as T
from .graph import BUNDLE

CANCEL, RERUN = "cancel", "rerun"


def ask_cancel(state: dict, step_ids: list[str] | None) -> None:
    """Queue a cancel of the whole study (``step_ids`` None) or of ``step_ids``' subtrees."""
    item = {"kind": CANCEL} if step_ids is None else {"kind": CANCEL, "steps": list(step_ids)}
    state["requests"].setdefault("queue", []).append(item)


def ask_rerun(state: dict, step_ids: list[str], subtree: bool) -> None:
    """Queue a re-run of ``step_ids`` (and their descendants when ``subtree``)."""
    state["requests"].setdefault("queue", []).append({"kind": RERUN, "steps": list(step_ids), "subtree": subtree})


def cancel_pending(requests: dict) -> bool:
    """The study is cancelled, or will be once the queue is carried out: submit nothing."""
    cancelled = bool(requests.get("cancel"))
    for item in requests.get("queue") or ():
        if item.get("kind") == CANCEL and item.get("steps") is None:
            cancelled = True
        elif item.get("kind") == RERUN:
            cancelled = False
    return cancelled


def waiting(requests: dict) -> bool:
    """Requests are queued (re-runs of steps still in flight, or not yet carried out)."""
    return bool(requests.get("queue"))


def carry_out(study, now: datetime) -> None:
    """Carry out the study's requests, in order; cancel the jobs of the steps cancelled."""
    at = iso_utc(now)
    state, graph, events = study.state, study.graph, study.events
    requests = state["requests"]
    to_cancel: list[str] = []
    if _legacy(study, at, to_cancel):
        study.changes.fields.add("requests")
    queue = requests.pop("queue", None)
    if queue is not None:
        later: list[dict] = []       # re-runs of steps still in flight
        for item in queue:
            steps = item.get("steps")
            if item.get("kind") == CANCEL and steps is None:
                to_cancel += T.cancel_steps(state, graph, _roots(graph), at, events)
                requests["cancel"] = requests["cancel_done"] = True
                later = []
            elif item.get("kind") == CANCEL:
                to_cancel += T.cancel_steps(state, graph, steps, at, events)
                dropped = set(steps).union(*(graph.descendants(sid) for sid in steps))
                later = [dict(w, steps=[s for s in w["steps"] if s not in dropped]) for w in later]
                later = [w for w in later if w["steps"]]
            elif item.get("kind") == RERUN:
                busy = [sid for sid in steps if state["steps"][sid]["state"] in S.IN_FLIGHT]
                ready = [sid for sid in steps if sid not in busy]
                if ready:
                    requests.pop("cancel", None)     # a re-run after a cancel of the study wins
                    requests.pop("cancel_done", None)
                    T.rerun_steps(state, graph, ready, bool(item.get("subtree")), at, events)
                if busy:
                    later.append({"kind": RERUN, "steps": busy, "subtree": bool(item.get("subtree"))})
        if later:
            requests["queue"] = later
        if later != queue:
            study.changes.fields.add("requests")
    _cancel_jobs(study, to_cancel)


def _legacy(study, at: str, to_cancel: list[str]) -> bool:
    """Requests as releases before the queue wrote them; True when any was carried out."""
    state, graph, events = study.state, study.graph, study.events
    requests = state["requests"]
    done = False
    if requests.get("cancel") and not requests.get("cancel_done"):
        to_cancel += T.cancel_steps(state, graph, _roots(graph), at, events)
        requests["cancel_done"] = done = True
    if requests.get("cancel_steps"):
        to_cancel += T.cancel_steps(state, graph, requests.pop("cancel_steps"), at, events)
        done = True
    if requests.get("rerun"):
        for item in requests.pop("rerun"):
            T.rerun_steps(state, graph, [item["step"]], bool(item.get("subtree")), at, events)
        done = True
    return done


def _roots(graph) -> list[str]:
    return [sid for sid in graph.order if not graph.steps[sid]["depends"]]


def _cancel_jobs(study, step_ids: list[str]) -> None:
    """One cancel call per scheduler for the jobs of ``step_ids``."""
    by_adapter: dict[str, list[str]] = {}
    for sid in step_ids:
        by_adapter.setdefault(study.job_key(sid), []).append(sid)
    whole = study.state["requests"].get("cancel")
    for key, sids in by_adapter.items():
        if key == BUNDLE and whole:
            study.adapter_by_key(key).revoke_all()     # a study's worth of tickets, at once
        else:
            study.adapter_by_key(key).cancel([study.ref(s) for s in sids])
