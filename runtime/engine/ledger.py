"""The ticket ledger, `<root>/meta/ticket-ledger.json`: what a ticket pass needs of the state,
so that the next one need not read it.

A ticket pass (``ticketpass``) of a 100,000-step bundled study still reads state.json whole
and sweeps every entry into its index, though in that shape only the in-flight tickets can
change, and those entries are nearly all alike (queued together; started in the same second).
Each ticket pass leaves this ledger (``keep``): the state's top-level fields, how many steps
it has and how many are open, the steps backing off, and every in-flight ticket with its step
and its entry, told as one of a few shapes (the entry but its job id and the job list's last
item, which are the ticket).  The next ticket pass (``load``) takes the ledger instead of the
state while state.json and its journal are the files it was made with (the checksum at the
head of state.json and the journal's size; every writer of the state changes one of them),
and works on a ``LedgerState``: the top-level fields, and the entry of an in-flight step made
from its shape when first looked up.  Its index (``index``) is the one the ticket pass would
sweep from the state.

What needs the whole state takes it (``passes.run_pass`` reads it then): rewriting status.csv,
the end of the study, a journal grown to twice its share of state.json (only a pass with the
whole state compacts).  Anything that would look at a step the ledger does not hold (iterating
the steps, a step not in flight) raises ``NeedsWholeState``; no path of the ticket pass does
(the equivalence tests of tests/unit/test_ticket_pass.py run it on ledgers).

Derived data: deleting it costs one ticket pass that reads the state.
"""

from __future__ import annotations

import os
from itertools import compress
from operator import eq, itemgetter

from mshared import states as S
from mshared.contracts import MAX_DAG_BYTES
from mshared.errors import InvalidInput
from mshared.jsonio import dumps, loads, write_atomic
from mshared.reading import read_regular

from .records import FilesKey

FILE = os.path.join("meta", "ticket-ledger.json")
SCHEMA, VERSION = "maestro.ticket-ledger", 1
_JOB_ID, _JOBS = itemgetter("job_id"), itemgetter("jobs")


class NeedsWholeState(Exception):
    """The pass looked at more of the state than the ledger holds."""


class LedgerState(dict):
    """The state as a ledger tells it: its top-level fields; ``["steps"]`` holds the entries of
    the in-flight tickets, each made from its shape when first looked up."""


class LedgerSteps(dict):
    def __init__(self, ledger: Ledger):
        super().__init__()
        self._ledger = ledger

    def __missing__(self, sid: str) -> dict:
        ticket = self._ledger.ticket_of.get(sid)
        if ticket is None:
            raise NeedsWholeState(f"step {sid!r} is not in the ledger")
        entry = self[sid] = self._ledger.entry(sid, ticket)
        return entry

    def _whole(self, *args, **kwargs):
        raise NeedsWholeState("the steps were iterated")

    __iter__ = __len__ = keys = values = items = __contains__ = get = _whole


class Ledger:
    """A ledger as read (``load``) or as made from a pass's state (``make``)."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.shapes: list[dict] = doc["shapes"]
        tickets, sids, shape_of = doc["tickets"], doc["steps"], doc["shape"]
        self.tickets = dict(zip(tickets, sids))
        self.ticket_of = dict(zip(sids, tickets))
        self.shape_of = dict(zip(sids, shape_of))
        queued = [shape.get("state") == S.PENDING for shape in self.shapes]
        self.queued = set(compress(sids, map(queued.__getitem__, shape_of)))

    def entry(self, sid: str, ticket: str) -> dict:
        shape = self.shapes[self.shape_of[sid]]
        return {**shape, "job_id": ticket, "jobs": [*shape["jobs"], ticket]}

    def state(self) -> LedgerState:
        state = LedgerState(self.doc["state"])
        state["steps"] = LedgerSteps(self)
        return state

    def index(self, graph):
        """The step index of the state the ledger tells (``ticketpass.TicketIndex``)."""
        from .ticketpass import TicketIndex

        return TicketIndex.made(graph, None, self.doc["open"], set(self.ticket_of), set(self.doc["backing_off"]),
                                dict(self.ticket_of), dict(self.tickets), set(self.queued))


def load(root: str, files: FilesKey, dag_sha256: str) -> Ledger | None:
    """The ledger, if it was made with these very state files (and DAG); else None."""
    try:
        doc = loads(read_regular(os.path.join(root, FILE), MAX_DAG_BYTES, "the ticket ledger"))
    except (OSError, ValueError, InvalidInput):
        return None
    if (not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != VERSION
            or files.checksum is None or doc.get("files") != [files.checksum.decode(), files.journal_size]
            or doc.get("dag_sha256") != dag_sha256):
        return None
    try:
        return Ledger(doc)
    except (KeyError, TypeError, IndexError, AttributeError):
        return None


def forget(root: str) -> None:
    try:
        os.unlink(os.path.join(root, FILE))
    except OSError:
        pass


def keep(study, previous: Ledger | None) -> None:
    """After a ticket pass: leave the ledger of the state it leaves (``previous``, the ledger it
    worked from, changed where the pass changed steps; or made from the whole state), when the
    study is still in the ticket pass's shape; else take any ledger away."""
    doc = _made(study, previous)
    if doc is None:
        forget(study.root)
        return
    try:
        write_atomic(os.path.join(study.root, FILE), dumps(doc), durable=False)
    except OSError:
        pass         # derived data: the next pass reads the state


def _made(study, previous: Ledger | None) -> dict | None:
    store, index, state = study.store, study.synced_index(), study.state
    if (store.files is None or store.files.checksum is None or not index.open or index.intents
            or len(index.ticket_of) != len(index.in_flight) or index.open != len(index.in_flight)):
        return None
    steps = state["steps"]
    if previous is not None:        # the ledger the pass worked from, and the steps it changed
        shapes, shape_of = list(previous.shapes), previous.shape_of
        changed = [sid for sid in study.changes.events.touched if sid in index.ticket_of]
        for sid in study.changes.events.touched:
            shape_of.pop(sid, None)
    else:                           # the whole state: every in-flight entry
        sids = list(index.ticket_of)
        shapes, shape_of = _shapes_of(sids, list(map(steps.__getitem__, sids)))
        changed = [sid for sid in sids if sid not in shape_of]
    keyed = {_key(shape): at for at, shape in enumerate(shapes)}
    for sid in changed:
        shape = _shape(steps[sid])
        if shape is None:
            return None
        key = _key(shape)
        at = keyed.get(key)
        if at is None:
            at = keyed[key] = len(shapes)
            shapes.append(shape)
        shape_of[sid] = at
    tickets = list(index.tickets)
    sids = list(map(index.tickets.__getitem__, tickets))
    try:
        shape = list(map(shape_of.__getitem__, sids))
    except KeyError:
        return None
    return {"schema": SCHEMA, "version": VERSION, "files": [store.files.checksum.decode(), store.files.journal_size],
            "dag_sha256": state["study"].get("dag_sha256"), "total": _total(study, previous),
            "open": index.open, "backing_off": sorted(index.backing_off),
            "state": {key: value for key, value in state.items() if key not in ("steps", "checksum")},
            "shapes": shapes, "tickets": tickets, "steps": sids, "shape": shape}


class _Shapes(dict):
    """(values of an entry's fields but its ticket) -> its shape's place in ``shapes``, made on
    the first lookup: ``map`` looks up every entry in C, Python runs once per shape."""

    def __init__(self, names: tuple, shapes: list):
        super().__init__()
        self.names, self.shapes = names, shapes

    def __missing__(self, values: tuple) -> int:
        self.shapes.append({**dict(zip(self.names, values)), "job_id": None, "jobs": []})
        at = self[values] = len(self.shapes) - 1
        return at


def _shapes_of(sids: list, entries: list) -> tuple[list, dict]:
    """(shapes, step -> its shape) of the entries whose job list is their ticket alone (as a
    bundle's first try leaves it), by a few C-level sweeps per set of fields; the steps of the
    others, if any, are left out (the caller takes them one by one)."""
    shapes, shape_of = [], {}
    single = list(map(list, zip(map(_JOB_ID, entries))))
    plain = list(map(_JOBS, entries))
    ok = list(map(eq, plain, single))
    lengths = list(map(len, entries))
    for count in set(compress(lengths, ok)):
        mask = list(map(bool.__and__, ok, map(count.__eq__, lengths)))
        first = next(compress(entries, mask))
        names = tuple(sorted(name for name in first if name not in ("job_id", "jobs")))
        if len(names) < 2:                   # itemgetter of one name gives no tuple
            continue
        memo = _Shapes(names, shapes)
        try:
            found = list(map(memo.__getitem__, map(itemgetter(*names), compress(entries, mask))))
        except (KeyError, TypeError):    # other fields, or a value that is a list or a mapping
            del shapes[len(shapes) - len(memo):]
            continue
        shape_of.update(zip(compress(sids, mask), found))
    return shapes, shape_of


def _total(study, previous: Ledger | None) -> int:
    return previous.doc["total"] if previous is not None else len(study.state["steps"])


def _shape(entry: dict) -> dict | None:
    """The entry but its ticket (job id, and the job list's last item), or None when the job
    list does not end with the job id."""
    jobs = entry.get("jobs")
    if not isinstance(jobs, list) or not jobs or jobs[-1] != entry.get("job_id"):
        return None
    return {**entry, "job_id": None, "jobs": jobs[:-1]}


def _key(shape: dict) -> bytes:
    return dumps(shape)
