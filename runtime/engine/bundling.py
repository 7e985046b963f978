"""The bundle's part of a pass (after the steps' own part): allocations, the workers' outlook, a cancel.

Ready bundled steps became tickets in ``submission``; their ends came back through the bundle's
adapter in ``poll``.  Here the pass submits allocations while tickets wait (``Allocations.provision``),
tells the workers how many bundled steps still wait for parents (``outlook.json``: an idle worker
with nothing more to come ends at once), and when the study was cancelled asks every worker to stop
and cancels the allocations.  When bundling was turned off, tickets no worker took yet are taken
back and their steps go as their own jobs.
"""

from __future__ import annotations

import os
from datetime import datetime

from mruntime.bundle import files as F
from mshared import states as S
from mshared.errors import SchedulerUnavailable
from mshared.times import iso_utc

from . import transitions as T
from .graph import BUNDLE


def tend(study, now: datetime, *, submit: bool) -> None:
    root = study.root
    if study.graph.bundle is None and not os.path.isdir(F.base(root)):
        return                                   # never bundled: nothing to look at
    index = study.synced_index()
    queued = len(index.queued_tickets)
    adapter = study.adapter_by_key(BUNDLE)
    allocations = adapter.allocations
    if study.state["requests"].get("cancel"):
        if not os.path.exists(F.path(root, F.STOP)):
            F.make_dirs(root)
            F.put_json(F.path(root, F.STOP), {"at": iso_utc(now)})
        allocations.poll(now, force=True)
        allocations.cancel_all()
    else:
        _lift_stop(root)
        if study.graph.bundle is not None and submit:
            allocations.provision(queued, now, idle_cores=adapter.idle_cores())
        _tell_outlook(root, index, now)
    if allocations.changed:
        allocations.save()
    if allocations.alarm:
        raise SchedulerUnavailable(allocations.alarm)   # said once, when it happens; the study goes on


def ends_dir(root: str) -> str | None:
    """Where this study's workers record what ended, if it has bundles: a loop waiting between
    passes looks at it, and passes again as soon as a step ended."""
    path = F.path(root, F.DONE)
    return path if os.path.isdir(path) else None


def _lift_stop(root: str) -> None:
    """A study run again after a cancel: the old stop no longer holds (kept, under another name)."""
    stop = F.path(root, F.STOP)
    if os.path.exists(stop):
        os.rename(stop, f"{stop}.lifted-{F.new_token()}")


def take_back_if_off(study, now: datetime) -> None:
    """Bundling was turned off: tickets no worker took yet are taken back (before the pass
    submits), so that their steps go as their own jobs in this very pass."""
    if study.graph.bundle is not None or not os.path.isdir(F.base(study.root)):
        return
    at = iso_utc(now)
    queued = sorted(study.synced_index().queued_tickets, key=study.graph.position.__getitem__)
    for sid in queued:
        if F.claim(study.root, study.state["steps"][sid]["job_id"], {"worker": F.PASS_CLAIM, "at": at}):
            T.move(study.state, sid, S.INITIALIZED, at, study.events, intent=None,
                   reason="bundling was turned off before a worker took it: it goes as its own job")


def _tell_outlook(root: str, index, now: datetime) -> None:
    waiting = index.live[BUNDLE] if BUNDLE in index.waiting else 0
    target = F.path(root, F.OUTLOOK)
    if (F.get_json(target) or {}).get("waiting") != waiting:
        F.make_dirs(root)
        F.put_json(target, {"waiting": waiting, "at": iso_utc(now)})
