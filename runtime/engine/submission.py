"""Submitting the ready steps of a study, exactly once (the submit half of a pass).

The path of one intent, from ready to submitted exactly once:
  1. ``_within_limits`` picks the ready steps (from the step index), up to the throttle, or for
     local steps up to the free local slots;
  2. each gets ``intent = {attempt, at}`` in the state, and ``Store.record_intents`` puts the
     intents on disk before any job exists (one line of the state's journal, fsynced when a
     batch job is among them);
  3. ``_submit_all`` hands them to their schedulers (batch jobs a few at a time);
  4. the outcome is recorded in order: ``_record_job`` (PENDING with the job id, intent cleared),
     ``_record_refusal`` (an attempt counted, a back-off or FAILED), or, for a scheduler that was
     not reached, the intent cleared (kept when it may have been reached: SubmitUncertain);
  5. the pass's write (``Store.commit``) records the outcome.
A crash between 3 and 5 leaves the intent on disk: the next pass's ``reconcile_intents`` finds the
job by its workspace (``Adapter.find``), or, once the intent is older than INTENT_GRACE, clears it
so the step is submitted again.
"""

import threading
from datetime import datetime, timedelta
from itertools import islice

from mruntime.schedulers.base import SubmitRefused, SubmitUncertain
from mshared import states as S
from mshared.errors import SchedulerUnavailable
from mshared.bundlesettings import needs
from mshared.times import iso_utc

from . import transitions as T
from .graph import BUNDLE

MAX_BACKOFF = 300  # seconds between submission attempts, at most
# After a crash mid-submission, a job can surface a moment later (a runner still starting, an
# sbatch that outlived its parent): an intent younger than this is left for a later pass.
INTENT_GRACE = 10
SUBMIT_WORKERS = 4   # batch submissions in flight at once: sbatch spends its time waiting on slurmctld


def submit_ready(study, now: datetime, local_slots: int) -> None:
    """Submit what is ready, up to the throttle; the intent is on disk before any job exists."""
    at = iso_utc(now)
    reconcile_intents(study, now)
    steps = study.state["steps"]
    index = study.synced_index()
    if study.state["settings"].get("dry"):
        for sid in list(index.ready(steps, at)):   # their children wait for the next pass
            T.move(study.state, sid, S.DRYRUN, at, study.events, reason="dry run: scripts only")
        return
    chosen = _within_limits(study, at, local_slots)
    if not chosen:
        return
    for sid in chosen:
        T.update(study.state, sid, study.events, intent={"attempt": steps[sid]["attempts"] + 1, "at": at})
    index.intents.update(chosen)
    # It must survive a power cut only for batch jobs: local jobs die with the machine anyway.
    durable = any(study.graph.adapter_keys[sid] != "local" for sid in chosen)
    study.store.record_intents(study, chosen, durable)
    _submit_all(study, chosen, at, now)


def _within_limits(study, at: str, local_slots: int) -> list[str]:
    """The ready steps to submit now, in graph order: up to the throttle; without one, local steps
    up to ``local_slots`` in flight and every ready batch step."""
    steps = study.state["steps"]
    index = study.synced_index()
    throttle = study.state["settings"].get("throttle") or 0
    if throttle > 0:
        return list(islice(index.ready(steps, at), max(throttle - len(index.in_flight), 0)))
    chosen = []
    for key in list(index.waiting):
        local_free = None
        if key == "local":          # counted only when a local step waits
            local_free = max(local_slots - study.local_in_flight(), 0)
        chosen += index.first_ready(steps, at, key, local_free)
    return sorted(chosen, key=study.graph.position.__getitem__) if len(index.waiting) > 1 else chosen


def _submit_all(study, chosen: list[str], at: str, now: datetime) -> None:
    """Submit ``chosen`` (their intents are on disk), batch jobs a few at a time, then record the
    outcomes in order, in this thread.  After a scheduler that cannot be reached, or once a signal
    that ends the command came, nothing more is submitted; a submit that may have reached its
    scheduler (SubmitUncertain) keeps its intent."""
    steps = study.state["steps"]
    keys = study.graph.adapter_keys
    for key in dict.fromkeys(keys[sid] for sid in chosen):      # adapters made here, not in threads
        study.adapter(next(sid for sid in chosen if keys[sid] == key))
    stop = threading.Event() if len(chosen) > 1 else None

    def call(sid):
        if (stop is not None and stop.is_set()) or study.interrupted():
            return "skipped", None   # a scheduler down, or Ctrl-C: the rest waits for a later pass
        try:
            return "ok", _call_submit(study, sid)
        except SubmitRefused as err:
            return "refused", err
        except SchedulerUnavailable as err:
            if stop is not None:
                stop.set()
            return "down", err

    outcomes = {}
    bundled = [sid for sid in chosen if keys[sid] == BUNDLE]
    if bundled:
        outcomes.update(_hand_to_bundle(study, bundled))
    batch = [sid for sid in chosen if keys[sid] not in ("local", BUNDLE)]
    if len(batch) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(SUBMIT_WORKERS) as pool:
            outcomes.update(zip(batch, pool.map(call, batch)))
    outcomes.update((sid, call(sid)) for sid in chosen if sid not in outcomes)
    failure = None
    for sid in chosen:
        kind, value = outcomes[sid]
        if kind == "ok":
            _record_job(study, sid, value, at)
        elif kind == "refused":
            _record_refusal(study, sid, value, at, now)
        else:
            if kind == "down":
                failure = failure or value
            if not (kind == "down" and isinstance(value, SubmitUncertain)) and steps[sid]["state"] == S.INITIALIZED:
                T.update(study.state, sid, study.events, intent=None)   # never reached the scheduler
    if failure is not None:
        raise failure


def _hand_to_bundle(study, chosen: list[str]) -> dict:
    """Tickets for ``chosen`` (one file): the bundle's workers take them from there."""
    items = []
    for sid in chosen:
        entry, step = study.state["steps"][sid], study.graph.steps[sid]
        need = needs(step)
        items.append({"step": sid, "stem": step["stem"], "workspace": study.graph.workspace(sid, study.root),
                      "script": study.graph.script(sid, study.root, study.scripts_dir,
                                                   restart=bool(entry.get("use_restart"))),
                      "cores": need.cores, "gpus": need.gpus, "walltime": need.walltime})
    try:
        tickets = study.adapter_by_key(BUNDLE).submit_many(items)
    except OSError as err:
        down = SchedulerUnavailable(f"cannot write the bundle's tickets: {err.strerror or err}")
        return {sid: ("down", down) for sid in chosen}
    return {sid: ("ok", ticket) for sid, ticket in zip(chosen, tickets)}


def _call_submit(study, sid: str) -> str:
    entry = study.state["steps"][sid]
    script = study.graph.script(sid, study.root, study.scripts_dir, restart=bool(entry.get("use_restart")))
    workspace = study.graph.workspace(sid, study.root)
    return study.adapter(sid).submit(script, workspace, study.graph.steps[sid]["stem"])


def _record_refusal(study, sid: str, err: SubmitRefused, at: str, now: datetime) -> None:
    entry = study.state["steps"][sid]
    attempt = entry["intent"]["attempt"]
    message = str(err).strip() or "refused by the scheduler"
    limit = study.state["settings"].get("attempts") or 1
    if attempt >= limit:
        T.move(study.state, sid, S.FAILED, at, study.events, attempts=attempt, intent=None, ended=at,
               reason=f"submission refused {attempt} time(s): {message}")
        T.fail_descendants(study.state, study.graph, sid, S.FAILED, at, study.events, f"parent '{sid}' failed")
    else:
        wait = min(2 ** attempt, MAX_BACKOFF)
        T.update(study.state, sid, study.events, attempts=attempt, intent=None,
                 not_before=iso_utc(now + timedelta(seconds=wait)),
                 reason=f"submission refused ({message}); attempt {attempt} of {limit}, next in {wait} s")


def _record_job(study, sid: str, job_id: str, at: str) -> None:
    entry = study.state["steps"][sid]
    T.move(study.state, sid, S.PENDING, at, study.events, jobs=entry["jobs"] + [job_id], job_id=job_id,
           attempts=entry["intent"]["attempt"], intent=None, submitted=at, started=None, ended=None,
           exit_code=None, not_before=None, reason=entry["reason"] if entry.get("use_restart") else None)


def reconcile_intents(study, now: datetime) -> None:
    """A crash between a scheduler accepting a job and the state write left an intent: find the job."""
    at = iso_utc(now)
    grace = study.state["settings"].get("submit_grace", INTENT_GRACE)
    settled = iso_utc(now - timedelta(seconds=grace))
    steps = study.state["steps"]
    candidates = study.synced_index().intents
    pending = sorted((sid for sid in candidates if steps[sid].get("intent") and steps[sid]["state"] == S.INITIALIZED),
                     key=study.graph.position.__getitem__)
    candidates.intersection_update(pending)
    if not pending:
        return
    by_adapter: dict[str, list[str]] = {}
    for sid in pending:
        by_adapter.setdefault(study.graph.adapter_key(sid), []).append(sid)
    for key, sids in by_adapter.items():
        found = study.adapter(sids[0]).find([study.graph.workspace(s, study.root) for s in sids])
        for sid in sids:
            workspace, stem = study.graph.workspace(sid, study.root), study.graph.steps[sid]["stem"]
            known = set(steps[sid]["jobs"])
            mine = [f.job_id for f in found if f.workspace == workspace and f.job_id not in known
                    and (key != "local" or f.name == stem)]
            intent = steps[sid]["intent"]
            if mine:
                job_id = max(mine, key=_job_order)
                T.move(study.state, sid, S.PENDING, at, study.events, jobs=steps[sid]["jobs"] + [job_id],
                       job_id=job_id, attempts=intent["attempt"], submitted=intent["at"], intent=None,
                       reason="found again after an interrupted submission")
            elif intent["at"] <= settled:
                T.update(study.state, sid, study.events, intent=None)   # never reached it: submit again


def _job_order(job_id: str):
    head = job_id.split(".")[0].split("_")[0]
    return (0, int(head), job_id) if head.isdigit() else (1, 0, job_id)
