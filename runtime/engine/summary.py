"""The pass summary, `<root>/meta/pass-summary.json`: what a monitoring pass needs to see that
nothing can happen, without reading the state.

A single pass (mmonitor from cron, msubmit) reads the whole state, and on a large study that is
most of its cost, even when no job has moved.  So each single pass leaves a summary of how it
left the study: the jobs in flight (id, state, scheduler, workspace, stem), whether steps are
still waiting for a slot, the earliest back-off, the study's status.  The next single pass first
reads the summary, and if the state's files are still the ones it describes (state.json's
checksum and the journal's size, dag.json's identity), asks the schedulers about the jobs in
flight.  If every job is where the summary left it, and nothing else could happen (no request
or intent waiting, no free slot with a step waiting for one, no back-off ending), the pass is
over: it would have changed nothing.  Otherwise the pass goes on as usual, reusing the answers
(still one query per scheduler).  The summary is derived data: deleting it costs one full pass.
"""

from __future__ import annotations

import os
from datetime import datetime

from mruntime.schedulers.base import JobRef
from mshared import states as S
from mshared import statejournal
from mshared.jsonio import dumps, loads, write_atomic
from mshared.statefile import head_checksum
from mshared.times import iso_utc

from .records import PassResult
from .study import adapter_for

FILE = os.path.join("meta", "pass-summary.json")
SCHEMA, VERSION = "maestro.pass-summary", 1


def make(study, result: PassResult, *, submitted: bool, local_slots: int) -> dict | None:
    """The summary of the study as this pass leaves it, or None when a quiet pass could not
    stand for the next one (a dry run, intents or requests still waiting)."""
    state, graph = study.state, study.graph
    steps = state["steps"]
    index = study.synced_index()
    if state["settings"].get("dry") or state["requests"].get("queue"):
        return None
    if graph.bundle is not None or os.path.isdir(os.path.join(study.root, "meta", "bundle")):
        return None       # a bundled study's passes also tend its allocations: none is quiet
    if any(steps[sid].get("intent") for sid in index.intents):
        return None
    checksum = head_checksum(study.root)
    if checksum is None:
        return None
    flying = {}
    for sid in index.in_flight:
        entry = steps[sid]
        flying[sid] = {"job_id": entry["job_id"], "state": entry["state"], "scheduler": graph.adapter_key(sid),
                       "workspace": graph.steps[sid]["workspace"], "stem": graph.steps[sid]["stem"]}
    return {"schema": SCHEMA, "version": VERSION, "files": [checksum.decode(), statejournal.size(study.root)],
            "dag_file": _dag_id(study.root), "status": result.status, "open": index.open,
            "in_flight": flying, "submitted": submitted, "local_slots": local_slots,
            "not_before": _earliest_back_off(steps, index.backing_off.union(study.events.touched)), "batch": study.dag["study"].get("batch") or {},
            "poll_interval": result.poll_interval}


def save(root: str, summary: dict | None) -> None:
    path = os.path.join(root, FILE)
    try:
        if summary is None:
            if os.path.exists(path):
                os.unlink(path)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, dumps(summary), durable=False)
    except OSError:
        pass   # derived data: the next pass is a full one


def quiet(root: str, adapters: dict, now: datetime, *, submit: bool,
          local_slots: int) -> tuple[PassResult | None, dict]:
    """(the result of a pass that would change nothing, or None; the scheduler answers it got,
    by scheduler key, for the full pass to reuse)."""
    summary = _load(root)
    if summary is None or summary["files"] != _files(root) or summary["dag_file"] != _dag_id(root):
        return None, {}
    if summary["status"] != "RUNNING":
        return _result(summary, []), {}
    if submit and not (summary["submitted"] and summary["local_slots"] == local_slots):
        return None, {}
    if summary["not_before"] and summary["not_before"] <= iso_utc(now):
        return None, {}
    answers: dict[str, dict] = {}
    by_scheduler: dict[str, list] = {}
    for sid, job in summary["in_flight"].items():
        by_scheduler.setdefault(job["scheduler"], []).append(job)
    moved = False

    for key, jobs in by_scheduler.items():
        refs = [JobRef(job["job_id"], os.path.join(root, job["workspace"]), job["stem"]) for job in jobs]
        answers[key] = adapter_for(adapters, key, summary["batch"]).status(refs)
        for job in jobs:
            status = answers[key].get(job["job_id"])
            if status is not None and _moved(job["state"], status.state):
                moved = True
    if moved:
        return None, answers
    return _result(summary, []), answers


def _moved(recorded: str, answered: str) -> bool:
    """Whether applying the answer would change the step (``transitions.apply_status`` leaves a
    step alone when the scheduler says what the state already says)."""
    return answered != recorded


def _result(summary: dict, events: list) -> PassResult:
    flying = summary["in_flight"].values()
    local = sum(1 for job in flying if job["scheduler"] == "local")
    return PassResult(events, summary["status"], local, len(summary["in_flight"]), summary["poll_interval"])


def _earliest_back_off(steps: dict, candidates) -> str | None:
    """The earliest `not_before` of a step waiting to be submitted again (``candidates``: a
    superset of those steps)."""
    times = [steps[sid]["not_before"] for sid in candidates
             if steps[sid]["state"] == S.INITIALIZED and steps[sid].get("not_before")]
    return min(times) if times else None


def _files(root: str) -> list:
    checksum = head_checksum(root)
    return [checksum.decode() if checksum else None, statejournal.size(root)]


def _dag_id(root: str) -> list | None:
    try:
        info = os.stat(os.path.join(root, "dag.json"))
    except OSError:
        return None
    return [info.st_ino, info.st_size, info.st_mtime_ns]


def _load(root: str) -> dict | None:
    try:
        with open(os.path.join(root, FILE), "rb") as handle:
            doc = loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != VERSION:
        return None
    return doc
