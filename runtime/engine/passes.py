"""One pass over a study: lock, load, do the work, persist.

msubmit and mmonitor are two modes of the same pass: msubmit submits what is ready
(``poll_jobs=False``); mmonitor first carries out control requests (``requests``) and polls the
schedulers, then submits.  The lock is held for the pass only; no pass sleeps.  Every scheduler gets one status
query per pass.  The work (``do_work``) changes the state in memory; the persistence
(``persist``, through the ``Store``) decides what to write and writes it.
"""

from __future__ import annotations

import os
from datetime import datetime

from mshared import states as S
from mshared.statefile import lock_study
from mshared.times import iso_utc, utcnow

from . import bundling, ledger, requests, signals, summary, ticketpass
from . import transitions as T
from .graph import BUNDLE
from .records import LoopMemory, PassResult
from .store import (CSV_RATE, CSV_RATE_SINGLE, Store, files_key, status_csv_mtime, status_csv_size,
                    write_status_csv)
from .study import PassStudy
from .submission import INTENT_GRACE, submit_ready  # noqa: F401 (INTENT_GRACE: part of this API)


def run_pass(root: str, *, poll_jobs: bool, submit: bool, clock=utcnow, adapters: dict | None = None,
             local_slots: int | None = None, memory: LoopMemory | None = None,
             csv_every: float = 0) -> PassResult:
    """Lock, load, work (requests, poll, submit), persist.

    A loop passes its ``memory`` of the study (the parsed DAG; the state it left, reused while
    state.json and the intent journal are the files it left) and ``csv_every``: status.csv is then
    rewritten at most that often, and always when the study ends.
    """
    slots = local_slots if local_slots is not None else cores()
    if adapters is None:          # the pass's own adapters: let their helpers go when it ends
        adapters = {}
        try:
            return run_pass(root, poll_jobs=poll_jobs, submit=submit, clock=clock, adapters=adapters,
                            local_slots=slots, memory=memory, csv_every=csv_every)
        finally:
            close_adapters([adapters])
    with signals.held() as held, lock_study(os.path.abspath(root), keep=memory.lock if memory is not None else None):
        answers: dict = {}
        tried = ticketpass.Attempt()
        if memory is None and poll_jobs:     # a single pass: nothing may have moved since the last
            quiet, answers = summary.quiet(os.path.abspath(root), adapters, clock(), submit=submit,
                                           local_slots=slots)
            if quiet is not None:
                return quiet
            if not answers:                  # a bundled study whose open steps are all tickets
                tried = ticketpass.attempt(root, adapters, clock(), held)
        study = tried.study
        if study is None:                    # the full pass (on what the ticket pass read, if it did)
            store = tried.store or Store(root, memory)
            study = store.load(adapters, state=tried.state)
            study.held, study.answers = held, tried.answers or answers
            if tried.bundle is not None:
                study.reuse_bundle(tried.bundle)     # it was asked already in this pass
        store = study.store
        try:
            try:
                do_work(study, clock(), poll_jobs=poll_jobs, submit=submit, local_slots=slots)
            except ledger.NeedsWholeState:
                # the ticket pass's work never looks past a ledger (tests/unit/test_ticket_pass.py);
                # should it, and nothing is written yet, the pass is made again on the whole state
                ledger.forget(study.root)
                if store.wrote or store.files != files_key(study.root):
                    raise
                store = Store(root, memory)
                redo = store.load(adapters)
                redo.held, redo.answers = held, study.answers
                redo.reuse_bundle(study.adapter_by_key(BUNDLE))
                study, tried = redo, ticketpass.Attempt()
                do_work(study, clock(), poll_jobs=poll_jobs, submit=submit, local_slots=slots)
        except Exception:
            # an error between whole changes (a scheduler that cannot be reached, a disk that is
            # full): write what the pass did, so that the jobs it started are on record
            if memory is not None:
                memory.forget_state()   # the in-memory state may differ from the files now
            store.commit(study, clock(), ended=False)
            raise
        except BaseException:
            # not an error of the pass (signals are held while it runs): write nothing that may
            # be half-done; the intents on disk let the next pass find the jobs this one started
            if memory is not None:
                memory.forget_state()
            raise
        result = persist(study, clock(), memory, csv_every)
        if memory is None:
            submitted = submit and not requests.cancel_pending(study.state["requests"])
            summary.save(store.root, summary.make(study, result, submitted=submitted, local_slots=slots))
            if isinstance(study.graph, ticketpass.TicketGraph):
                ledger.keep(study, tried.ledger)
            else:
                ticketpass.keep_note(study)
                if study.graph.bundle is not None:    # e.g. msubmit's, handing every step over:
                    ledger.keep(study, None)         # the next ticket pass need not read the state
        return result


def load_study(root: str) -> PassStudy:
    """The study as a pass sees it (state.json checked against dag.json, the intent journal merged
    in), for a caller that edits the state under the lock itself (control requests, settings)."""
    return Store(root).load({})


def do_work(study: PassStudy, now: datetime, *, poll_jobs: bool, submit: bool, local_slots: int) -> None:
    """The work of a pass, in memory (only submissions reach the disk first, as intents)."""
    study.now = now
    if poll_jobs:
        requests.carry_out(study, now)
        poll(study, now)
        if requests.waiting(study.state["requests"]):   # a re-run whose step has just ended
            requests.carry_out(study, now)
    if submit and not requests.cancel_pending(study.state["requests"]):
        bundling.take_back_if_off(study, now)
        submit_ready(study, now, local_slots)
        repair_if_stranded(study, now)
    bundling.tend(study, now, submit=submit)


def repair_if_stranded(study: PassStudy, now: datetime) -> None:
    """When nothing is in flight, nothing is ready and no intent waits, yet steps are open, look
    for INITIALIZED steps under a parent that ended without finishing and fail them: a study
    never stays RUNNING for ever with nothing that could happen (``transitions.fail_stranded``)."""
    index = study.synced_index()
    if not index.open or index.in_flight:
        return
    steps, at = study.state["steps"], iso_utc(now)
    if any(steps[sid].get("intent") for sid in index.intents) or next(index.ready(steps, at), None):
        return
    T.fail_stranded(study.state, study.graph, at, study.events)


def persist(study: PassStudy, end: datetime, memory: LoopMemory | None, csv_every: float) -> PassResult:
    """Write what the pass changed (``Store.commit``) and status.csv; the result tells the caller
    how the study stands."""
    store = study.store
    index = study.synced_index()
    status = "RUNNING" if index.open else S.study_status(study.state)
    events = store.commit(study, end, ended=status != "RUNNING")
    if memory is None:
        if store.wrote and (status != "RUNNING" or end.timestamp() - status_csv_mtime(study)
                            >= status_csv_size(study) / CSV_RATE_SINGLE):
            write_status_csv(study, end)
    else:
        store.remember(study)
        memory.csv_stale = memory.csv_stale or store.wrote
        due = end.timestamp() - memory.csv_at >= csv_interval(study, csv_every)
        if memory.csv_stale and (status != "RUNNING" or due):
            write_status_csv(study, end)
            memory.csv_at, memory.csv_stale = end.timestamp(), False
    local = study.local_in_flight()
    return PassResult(events, status, local, len(index.in_flight),
                      study.state["settings"].get("poll_interval", 60))


def csv_interval(study: PassStudy, at_least: float) -> float:
    """How often status.csv is rewritten while a study runs: at most every ``at_least`` seconds,
    and no faster than CSV_RATE bytes a second on average (a large study's file is rewritten less
    often; every study's, when it ends)."""
    return max(at_least, status_csv_size(study) / CSV_RATE)


def poll(study: PassStudy, now: datetime) -> None:
    """One status query per scheduler for every in-flight job, then Maestro's transitions."""
    at = iso_utc(now)
    steps = study.state["steps"]
    groups: dict[str, list[str]] = {}
    index = study.synced_index()
    others = index.own_jobs_in_flight()
    for sid in sorted(others, key=study.graph.position.__getitem__):
        if steps[sid].get("job_id"):
            groups.setdefault(study.job_key(sid), []).append(sid)
    if index.tickets:           # a bundle's tickets: asked about as a set, no lookup per step
        groups[BUNDLE] = []
    for key, sids in groups.items():
        answers = study.answers.get(key)     # asked already, by the quiet pass or the ticket pass
        if key == BUNDLE:
            # only the tickets a worker took or ended: one still waiting has nothing to tell,
            # and a study of 100,000 queued tickets would otherwise cost work per ticket
            if answers is None:
                answers = study.adapter_by_key(key).moved(index.tickets)
            sids = sorted((index.tickets[t] for t in answers if t in index.tickets),
                          key=study.graph.position.__getitem__)
        elif answers is None:
            answers = study.adapter_by_key(key).status([study.ref(s) for s in sids])
        for sid in sids:
            status = answers.get(steps[sid]["job_id"])
            if status is not None:
                T.apply_status(study.state, study.graph, sid, status, at, study.events)


def cores() -> int:
    """Local jobs in flight at once by default: one per core."""
    return os.cpu_count() or 1


def close_adapters(groups) -> None:
    """Let the adapters' helpers go (a local launcher ends; its jobs run on).  ``groups``: dicts
    of adapters, as a pass or a loop keeps them."""
    for group in groups:
        for adapter in group.values():
            adapter.close()
