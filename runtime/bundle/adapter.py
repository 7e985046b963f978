"""The bundle as a pass sees it: an adapter whose jobs are tickets.

``submit_many`` hands ready steps to the bundle (one file of tickets per pass); ``status`` tells
how each ticket stands from the files the workers left, the workers' leases and one scheduler
query about the allocations; ``cancel`` takes back tickets no worker has claimed and asks the
workers to stop the others.  Read the allocations before the leases, and the leases before the
done records: a worker writes a step's done record before its lease says it ended, and its lease
before its allocation ends, so a pass that sees a worker gone has seen every done record it left.
"""

from __future__ import annotations

import os
from datetime import datetime

from mruntime.schedulers.base import FoundJob, JobRef, JobStatus
from mshared import states as S
from mshared.statusrows import iso_seconds
from mshared.times import iso_utc

from . import files as F
from .allocations import ENDED, Allocations

KEY = "bundle"
LEASE_TTL = 60.0     # seconds without a heartbeat after which a worker counts as gone


class BundleAdapter:
    key = KEY
    capabilities = frozenset()

    def __init__(self, root: str, settings: dict | None, inner, scheduler: str, batch: dict, name: str,
                 now: datetime, poll_interval: float = 0):
        self.root, self.settings, self.inner, self.now = root, settings, inner, now
        self.allocations = Allocations(root, settings or {}, inner, scheduler, batch, name, poll_interval)
        self._seen: dict | None = None      # the leases as this pass last read them

    def offers(self, capability: str) -> bool:
        return False

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ tickets in
    def submit_many(self, items: list[dict], durable: bool = True) -> list[str]:
        """Hand ``items`` (step, script, workspace, stem, cores, gpus, walltime) to the bundle as
        one file of tickets; returns their ticket ids, in order."""
        F.make_dirs(self.root)
        token = F.new_token()
        lines, ids = [], []
        for number, item in enumerate(items):
            ticket = f"{F.TICKET_PREFIX}{token}-{number}"
            ids.append(ticket)
            lines.append(F.dumps({**item, "ticket": ticket}))
        F.put(F.path(self.root, F.TICKETS, f"{token}.jsonl"), b"".join(lines), durable)
        return ids

    def find(self, workspaces: list[str]) -> list[FoundJob]:
        """Tickets of ``workspaces`` (after a pass was killed between writing them and its state)."""
        wanted = set(workspaces)
        found = []
        for name in sorted(F.names(F.path(self.root, F.TICKETS))):
            try:
                with open(F.path(self.root, F.TICKETS, name), "rb") as handle:
                    for line in handle:
                        ticket = F.loads(line)
                        if ticket["workspace"] in wanted:
                            found.append(FoundJob(ticket["ticket"], ticket["workspace"], ticket["stem"]))
            except (OSError, ValueError):
                continue
        return found

    # ------------------------------------------------------------------ how they stand
    def status(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """How each ticket stands (PENDING while no worker took it)."""
        moved = self.moved({ref.job_id: ref.job_id for ref in jobs})
        return {ref.job_id: moved.get(ref.job_id) or JobStatus(ref.job_id, S.PENDING) for ref in jobs}

    def moved(self, tickets: dict) -> dict[str, JobStatus]:
        """ticket -> its status, for the ``tickets`` a worker took or ended (the others wait)."""
        allocations = self.allocations.poll(self.now)          # 1. the scheduler (once per poll interval)
        leases = self._leases()                                # 2. the workers
        # 3. what ended, 4. what was taken: every name (a writer's temporary starts with '.', which no
        # ticket does, so the intersections below leave it out without a sweep of their own)
        done = F.all_names(F.path(self.root, F.DONE))
        claims = F.all_names(F.path(self.root, F.CLAIMS))
        ended = {name[:-5] for name in done if name.endswith(".json")}.intersection(tickets)
        taken = set(claims).intersection(tickets).difference(ended)
        out = {}
        for ticket in ended:
            record = F.get_json(F.path(self.root, F.DONE, ticket + ".json"))
            if record is not None:
                out[ticket] = _ended(ticket, record)
        for ticket in taken:
            found = self._claimed(ticket, leases, allocations)
            if found is None:      # its worker looks gone: ask the scheduler now, then look again
                allocations = self.allocations.poll(self.now, force=True)
                leases = self._leases()
                found = self._claimed(ticket, leases, allocations, settle=True)
            out[ticket] = found
        return out

    def idle_cores(self) -> int:
        """Cores that live workers reported free at their last heartbeat."""
        now = self.now.timestamp()
        return sum(lease.get("free") or 0 for lease in (self._seen or self._leases()).values()
                   if not lease.get("ended") and now - (lease.get("beat") or 0) < LEASE_TTL)

    def _leases(self) -> dict:
        """worker -> its lease, read once more (kept for the rest of the pass: ``idle_cores``)."""
        leases = {}
        for name in F.names(F.path(self.root, F.LEASES)):
            lease = F.get_json(F.path(self.root, F.LEASES, name))
            if isinstance(lease, dict):
                leases[lease.get("worker")] = lease
        self._seen = leases
        return leases

    def _claimed(self, ticket: str, leases: dict, allocations: dict, settle: bool = False) -> JobStatus | None:
        """How a claimed ticket stands; None (unless ``settle``) when its worker looks gone, so that
        the caller asks the scheduler how its allocation ended first."""
        now = self.now.timestamp()
        who = F.claimant(self.root, ticket) or {}
        if who.get("worker") == F.PASS_CLAIM:
            return JobStatus(ticket, S.CANCELLED, reason="cancelled before a worker took it")
        where = {"alloc": who.get("alloc"), "node": who.get("node")}
        allocation = allocations.get(who.get("allocation")) or {}
        alive = allocation.get("state") not in ENDED
        lease = leases.get(who.get("worker"))
        beat = (lease or {}).get("beat") or 0
        if alive and lease is not None and not lease.get("ended") and now - beat < LEASE_TTL:
            return JobStatus(ticket, S.RUNNING, started=who.get("at"), **where)
        if alive and lease is None and now - _seconds(who.get("at")) < LEASE_TTL:
            return JobStatus(ticket, S.RUNNING, started=who.get("at"), **where)
        record = F.get_json(F.path(self.root, F.DONE, ticket + ".json"))   # one more look, by name
        if record is not None:
            return _ended(ticket, record)
        if not settle:
            return None
        if alive and lease is not None and now - beat < LEASE_TTL:
            # the worker ended (a signal) but its allocation has not yet: how it ends tells
            return JobStatus(ticket, S.RUNNING, started=who.get("at"), **where)
        job = who.get("alloc") or "?"
        end = allocation.get("state")
        if end == S.TIMEDOUT:
            return JobStatus(ticket, S.TIMEDOUT, reason=f"allocation {job} reached its walltime while the step ran",
                             started=who.get("at"), **where)
        if end == S.CANCELLED:
            return JobStatus(ticket, S.CANCELLED, reason=f"allocation {job} was cancelled while the step ran",
                             started=who.get("at"), **where)
        if end == S.HWFAILURE:
            return JobStatus(ticket, S.HWFAILURE, reason=f"node {who.get('node')} of allocation {job} failed",
                             started=who.get("at"), **where)
        how = (f"its allocation ended ({end})" if not alive
               else f"its lease was not renewed for {LEASE_TTL:.0f} s")
        return JobStatus(ticket, S.FAILED, started=who.get("at"), **where,
                         reason=f"its bundle worker on {who.get('node')} (allocation {job}) died while it ran: "
                                f"{how}; it is not run again on its own (maestro rerun runs it again)")

    # ------------------------------------------------------------------ cancel
    def revoke_all(self) -> None:
        """The whole study was cancelled: every batch of tickets is taken back at once (renamed
        to revoked/; a worker checks its batch after each claim) and every worker told to stop:
        no work per ticket, whatever the number queued."""
        F.make_dirs(self.root)
        if not os.path.exists(F.path(self.root, F.STOP)):
            F.put_json(F.path(self.root, F.STOP), {"at": iso_utc(self.now)})
        for name in F.names(F.path(self.root, F.TICKETS)):
            os.rename(F.path(self.root, F.TICKETS, name), F.path(self.root, F.REVOKED, name))

    def cancel(self, jobs: list[JobRef]) -> None:
        """Tickets no worker took are taken back; the worker of each other one is asked to stop it."""
        at = iso_utc(self.now)
        for ref in jobs:
            ticket = ref.job_id
            if not F.is_ticket(ticket) or os.path.exists(F.path(self.root, F.DONE, ticket + ".json")):
                continue
            F.make_dirs(self.root)
            if not F.claim(self.root, ticket, {"worker": F.PASS_CLAIM, "at": at}):
                F.put_json(F.path(self.root, F.KILL, ticket), {"at": at})


def _ended(ticket: str, record: dict) -> JobStatus:
    where = {"alloc": record.get("alloc"), "node": record.get("node"),
             "started": record.get("started"), "ended": record.get("ended")}
    how, code = record.get("how"), record.get("exit_code")
    if how == "timed_out":
        return JobStatus(ticket, S.TIMEDOUT, exit_code=code, reason="ran past its walltime; stopped by its bundle worker", **where)
    if how == "cancelled":
        return JobStatus(ticket, S.CANCELLED, exit_code=code, reason="cancelled by request", **where)
    if code == 0:
        return JobStatus(ticket, S.FINISHED, exit_code=0, **where)
    why = record.get("reason") or (f"killed by signal {record['signal']}" if record.get("signal")
                                   else f"exited with code {code}")
    return JobStatus(ticket, S.FAILED, exit_code=code, reason=why, **where)


def _seconds(stamp: str | None) -> float:
    try:
        return iso_seconds(stamp) if stamp else 0.0
    except ValueError:
        return 0.0
