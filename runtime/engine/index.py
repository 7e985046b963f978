"""Which steps a pass has to look at, kept up to date from the pass's events.

Every pass needs the in-flight steps, the ready ones in order, the steps with an intent and
whether anything can still happen.  Scanning the whole state for each, in every pass, costs more
than the work itself once a loop makes a pass per finished local job (1,000 steps, 1,000 passes).
The index is built once from a state (one scan) and then follows the events: every change of a
step's state is an event (``transitions.move``), so the counts and sets stay exact.  A loop keeps
the index with the state it reuses; a state read from disk gets a new one.
"""

from bisect import bisect_left
from collections import Counter
from heapq import merge
from itertools import islice

from mruntime.bundle.files import TICKET_PREFIX
from mshared import states as S
from .transitions import is_ready


class StepIndex:
    def __init__(self, state: dict, graph):
        self.graph, self.steps = graph, state["steps"]
        flying, TERMINAL, IN_FLIGHT = set(), S.TERMINAL, S.IN_FLIGHT
        self.open = 0
        self.intents = set()   # a superset: checked where used
        self.backing_off = set()   # steps with a back-off time when the index was made
        # in-flight steps whose job is a bundle's ticket: ticket -> step, and those no worker
        # took yet (PENDING); a pass over 100,000 queued tickets then costs set operations
        self.tickets: dict[str, str] = {}
        self.ticket_of: dict[str, str] = {}
        self.queued_tickets: set[str] = set()
        tickets, ticket_of, queued, prefix, pending = self.tickets, self.ticket_of, self.queued_tickets, TICKET_PREFIX, S.PENDING
        for sid, entry in self.steps.items():
            now = entry["state"]
            if now not in TERMINAL:
                self.open += 1
                if now in IN_FLIGHT:
                    flying.add(sid)
                    job = entry["job_id"]
                    if job and job.startswith(prefix):      # as _note_ticket, inline: one per step
                        tickets[job], ticket_of[sid] = sid, job
                        if now == pending:
                            queued.add(sid)
            if entry.get("intent"):
                self.intents.add(sid)
            if entry.get("not_before"):
                self.backing_off.add(sid)
        self.in_flight = flying
        # INITIALIZED steps by adapter, in graph order, made when first needed; entries that
        # left INITIALIZED are skipped (and dropped in bulk once they outnumber the live ones)
        self._waiting: dict[str, list[str]] | None = None
        self.live: Counter = Counter()
        self.heads: dict[str, int] = {}   # before this, every entry has left INITIALIZED
        self._events = None
        self._seen = 0

    @property
    def waiting(self) -> dict[str, list[str]]:
        if self._waiting is None:
            keys, steps, waiting = self.graph.adapter_keys, self.steps, {}
            for sid in self.graph.order:
                if steps[sid]["state"] == S.INITIALIZED:
                    waiting.setdefault(keys[sid], []).append(sid)
            self._waiting = waiting
            self.live = Counter({key: len(ids) for key, ids in waiting.items()})
        return self._waiting

    def follow(self, events: list) -> None:
        """Apply the events of the current pass not applied yet (a new list: a new pass)."""
        if events is not self._events:
            self._events, self._seen = events, 0
        if self._seen == len(events):
            return
        keys = self.graph.adapter_keys
        for event in events[self._seen:]:
            sid, old, new = event["step"], event["from"], event["to"]
            if new in S.IN_FLIGHT:
                self.in_flight.add(sid)
            else:
                self.in_flight.discard(sid)
            if new in S.IN_FLIGHT or sid in self.ticket_of:
                self._note_ticket(sid, new, self.steps[sid]["job_id"])
            self.open += (new not in S.TERMINAL) - (old not in S.TERMINAL)
            if self._waiting is None:
                continue   # made from the state when first needed
            if old == S.INITIALIZED:
                self.live[keys[sid]] -= 1
            elif new == S.INITIALIZED:   # a restart or a re-run: back in line, in graph order
                self.live[keys[sid]] += 1
                self._requeue(keys[sid], sid)
        self._seen = len(events)

    def _requeue(self, key: str, sid: str) -> None:
        ids = self._waiting.setdefault(key, [])
        position = self.graph.position
        at = bisect_left(ids, position[sid], key=position.__getitem__)
        if at == len(ids) or ids[at] != sid:   # still listed (not compacted away): no duplicate
            ids.insert(at, sid)
        self.heads[key] = min(self.heads.get(key, 0), at)

    def _note_ticket(self, sid: str, state: str, job_id: str | None) -> None:
        """Keep ``tickets``/``queued_tickets`` up to date for one step now in ``state``."""
        old = self.ticket_of.pop(sid, None)
        if old is not None:
            self.tickets.pop(old, None)
            self.queued_tickets.discard(sid)
        if state in S.IN_FLIGHT and job_id and job_id.startswith(TICKET_PREFIX):
            self.tickets[job_id] = sid
            self.ticket_of[sid] = job_id
            if state == S.PENDING:
                self.queued_tickets.add(sid)

    def own_jobs_in_flight(self) -> set[str]:
        """The in-flight steps whose job is not a bundle's ticket.  Every ticket is in flight, so
        when they are as many, there is none (no set difference over 100,000 queued tickets)."""
        if len(self.ticket_of) == len(self.in_flight):
            return set()
        return self.in_flight.difference(self.ticket_of) if self.ticket_of else self.in_flight

    def flying(self) -> list[str]:
        """The in-flight steps, in graph order."""
        if not self.in_flight:
            return []
        return sorted(self.in_flight, key=self.graph.position.__getitem__)

    def ready(self, steps: dict, now_iso: str, key: str | None = None):
        """Ready steps (``transitions.is_ready``) of one adapter, or of all in graph order; lazy,
        so a caller that needs two reads no further."""
        if key is None:
            return merge(*(self.ready(steps, now_iso, k) for k in self.waiting),
                         key=self.graph.position.__getitem__)
        return self._ready_in(key, steps, now_iso)

    def _ready_in(self, key: str, steps: dict, now_iso: str):
        ids = self.waiting.get(key, [])
        head = self.heads.get(key, 0)
        while head < len(ids) and steps[ids[head]]["state"] != S.INITIALIZED:
            head += 1
        if len(ids) - head > 2 * self.live[key] + 64:
            ids = self._waiting[key] = [sid for sid in ids[head:] if steps[sid]["state"] == S.INITIALIZED]
            head = 0
        self.heads[key] = head
        graph = self.graph
        for sid in islice(ids, head, None):
            if steps[sid]["state"] == S.INITIALIZED and is_ready(steps, graph, sid, now_iso):
                yield sid

    def first_ready(self, steps: dict, now_iso: str, key: str, limit: int | None) -> list[str]:
        return list(islice(self._ready_in(key, steps, now_iso), limit))
