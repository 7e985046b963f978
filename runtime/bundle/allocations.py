"""The allocations of a bundled study: submitted while tickets wait, polled once a pass.

``meta/bundle/allocations.json`` records them (written by passes under the study lock).  An
allocation is recorded before it is submitted (``intent``), as steps are, so that a pass killed
between the scheduler's answer and the write finds the job again by its working directory
(``Adapter.find``) instead of submitting a second one.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

from mruntime.schedulers import registry
from mruntime.schedulers.base import JobRef, SubmitRefused, SubmitUncertain
from mshared import states as S
from mshared.errors import SchedulerUnavailable
from mshared.times import iso_utc

from . import files as F

SCHEMA, VERSION = "maestro.bundle-allocations", 1
INTENT_GRACE = 30      # seconds an allocation's intent waits for its job to show before it counts as never made
BARREN_WAIT = 30       # seconds before the next allocation after one that started no worker; doubles
BARREN_WAIT_MAX = 1800
LOST = "LOST"          # an intent whose job never showed: never submitted
ENDED = frozenset(S.TERMINAL) | {LOST}


class Allocations:
    """One pass's view of the study's allocations (made per pass: nothing is kept between)."""

    def __init__(self, root: str, settings: dict, inner, scheduler: str, batch: dict, name: str,
                 poll_interval: float = 0):
        self.root, self.settings, self.inner = root, settings, inner
        self.poll_interval = poll_interval
        self.scheduler, self.batch, self.name = scheduler, batch, name
        self.doc = F.get_json(F.path(root, F.ALLOCATIONS)) or {}
        if self.doc.get("schema") != SCHEMA:
            self.doc = {"schema": SCHEMA, "version": VERSION, "allocations": []}
        self.polled = False
        self.changed = False
        self.alarm: str | None = None   # an allocation ended without starting a worker, in words

    @property
    def records(self) -> list[dict]:
        return self.doc["allocations"]

    def live(self) -> list[dict]:
        return [r for r in self.records if r["state"] not in ENDED]

    def by_id(self) -> dict[str, dict]:
        return {r["id"]: r for r in self.records}

    def workdir(self, record: dict) -> str:
        return F.path(self.root, F.ALLOC, record["id"])

    # ------------------------------------------------------------------ polling
    def poll(self, now: datetime, force: bool = False) -> dict[str, dict]:
        """Ask the scheduler how the live allocations stand; id -> record.  At most once a pass,
        and once per poll interval unless ``force``d (a worker looks gone: how did it end?):
        passes that only read what workers finished ask the scheduler nothing."""
        due = iso_utc(now - timedelta(seconds=self.poll_interval)) >= (self.doc.get("polled") or "")
        if not self.polled and (force or due):
            self.polled = True
            self.doc["polled"] = iso_utc(now)
            self.changed = True
            self._reconcile(now)
            refs = [JobRef(r["job_id"], self.workdir(r), r["id"]) for r in self.live() if r.get("job_id")]
            if refs:
                answers = self.inner.status(refs)
                at = iso_utc(now)
                for record in self.live():
                    answer = answers.get(record.get("job_id"))
                    if answer is not None and answer.state != record["state"]:
                        record["state"] = answer.state
                        record["reason"] = answer.reason
                        if answer.state in ENDED:
                            record["ended"] = answer.ended or at
                            self._check_started(record)
                        self.changed = True
        return self.by_id()

    def _check_started(self, record: dict) -> None:
        """An allocation that ended without a worker ever taking its lease is *barren* (a launcher
        that fails, a Python the nodes cannot run): the next one waits, and the pass says why."""
        prefix = record["id"] + "."
        if any(name.startswith(prefix) for name in F.names(F.path(self.root, F.LEASES))):
            return
        record["barren"] = True
        self.alarm = (f"bundle allocation {record['id']} (job {record.get('job_id')}) ended {record['state']} "
                      f"without starting a worker; its output is in {self.workdir(record)}; "
                      f"the next allocation waits {self._barren_wait():.0f} s")

    def _barren_wait(self) -> float:
        """Seconds to wait after the last allocation, by how many in a row started no worker."""
        streak = 0
        for record in reversed([r for r in self.records if r["state"] in ENDED]):
            if not record.get("barren"):
                break
            streak += 1
        return 0 if streak == 0 else min(BARREN_WAIT * 2 ** (streak - 1), BARREN_WAIT_MAX)

    def _reconcile(self, now: datetime) -> None:
        pending = [r for r in self.live() if not r.get("job_id")]
        if not pending:
            return
        found = self.inner.find([self.workdir(r) for r in pending])
        settled = iso_utc(now - timedelta(seconds=INTENT_GRACE))
        for record in pending:
            mine = [f.job_id for f in found if f.workspace == self.workdir(record)]
            if mine:
                record.update(job_id=mine[-1], state=S.PENDING, submitted=record["intent"], intent=None)
            elif record["intent"] <= settled:
                record.update(state=LOST, intent=None, reason="never found after an interrupted submission")
            self.changed = True

    # ------------------------------------------------------------------ submitting
    def provision(self, queued: int, now: datetime, idle_cores: int = 0) -> None:
        """Submit allocations while tickets wait beyond what the allocations not yet running (and
        idle workers) will take, up to ``allocations`` in flight."""
        self.poll(now)
        per_node = self.settings["cores"] or 1
        capacity = self.settings["nodes"] * per_node
        live = self.live()
        wait = self._barren_wait()
        if wait:
            last = max((r.get("ended") or "" for r in self.records if r.get("barren")), default="")
            if last and iso_utc(now - timedelta(seconds=wait)) < last:
                return
        waiting_room = sum(capacity for r in live if r["state"] not in (S.RUNNING, S.FINISHING)) + idle_cores
        while queued > waiting_room and len(live) < self.settings["allocations"]:
            record = self._submit(now)
            if record is None:
                break
            live.append(record)
            waiting_room += capacity

    def unit(self):
        """The scheduler's unit: its allocation script and the script's extension."""
        return registry.unit(self.scheduler)

    def _submit(self, now: datetime) -> dict | None:
        unit = self.unit()
        if unit.allocation is None:
            raise SchedulerUnavailable(f"the {self.scheduler} scheduler has no allocation script: bundles need slurm, lsf, flux or pbs")
        number = 1 + max((int(r["id"][1:]) for r in self.records), default=0)
        record = {"id": f"a{number}", "job_id": None, "state": S.INITIALIZED, "intent": iso_utc(now),
                  "submitted": None, "ended": None, "reason": None, "nodes": self.settings["nodes"]}
        workdir = self.workdir(record)
        os.makedirs(workdir, exist_ok=True)
        worker = [sys.executable, "-m", "mruntime.bundle.worker", self.root, record["id"]]
        shell = self.batch.get("shell") or "/bin/bash"
        name = f"{self.name}.bundle.{record['id']}"
        script = os.path.join(workdir, f"allocation.{unit.extension}")
        F.put_json(os.path.join(workdir, "worker.json"),
                   {k: self.settings[k] for k in ("cores", "gpus", "margin", "linger", "walltime")})
        F.put(script, unit.allocation(self.batch, self.settings, name, workdir, worker, shell).encode())
        os.chmod(script, 0o755)
        self.records.append(record)
        self.save(durable=True)            # the intent is on disk before the job exists
        try:
            job_id = self.inner.submit(script, workdir, name)
        except SubmitUncertain:
            return None                    # found by its working directory, or LOST after the grace
        except (SubmitRefused, SchedulerUnavailable):
            record.update(state=S.FAILED, intent=None, reason="the scheduler refused the allocation")
            self.changed = True
            raise
        record.update(job_id=job_id, state=S.PENDING, submitted=iso_utc(now), intent=None)
        self.changed = True
        return record

    def cancel_all(self) -> None:
        """The study was cancelled: every live allocation goes (one scheduler call)."""
        refs = [JobRef(r["job_id"], self.workdir(r), r["id"]) for r in self.live() if r.get("job_id")]
        if refs:
            self.inner.cancel(refs)

    def save(self, durable: bool = False) -> None:
        F.make_dirs(self.root)
        F.put_json(F.path(self.root, F.ALLOCATIONS), self.doc, durable)
        self.changed = False
