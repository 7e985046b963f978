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

What needs the whole state takes it (``ticketpass.attempt`` reads it then): the end of the
study, a journal grown to twice its share of state.json (only a pass with the whole state
compacts).  status.csv, when due, is rewritten from the file as it is (``status_csv``): the
ledger names that file (its size and sha256) and keeps the entries of the steps that ended
since it was written; the rows of those and of the steps in flight are made anew, every other
row is an ended step's and stays as it is.  When that cannot be (another file, a quoted cell,
an ended row that counts up to now, too many ended since), the pass reads the state it has just
written and makes the file whole.  Anything that would look at a step the ledger does not hold (iterating
the steps, a step not in flight) raises ``NeedsWholeState``; no path of the ticket pass does
(the equivalence tests of tests/unit/test_ticket_pass.py run it on ledgers).

Derived data: deleting it costs one ticket pass that reads the state.
"""

from __future__ import annotations

import hashlib
import os
from itertools import compress
from operator import eq, itemgetter

import orjson

from mshared import states as S
from mshared.contracts import MAX_DAG_BYTES
from mshared.errors import InvalidInput
from mshared.jsonio import dumps, loads, write_atomic
from mshared.printable import csv_cell, csv_column
from mshared.reading import read_regular
from mshared.statusrows import COLUMNS, NO_TIME, Times

from .records import FilesKey

FILE = os.path.join("meta", "ticket-ledger.json")
SCHEMA, VERSION = "maestro.ticket-ledger", 1
_JOB_ID, _JOBS = itemgetter("job_id"), itemgetter("jobs")
CSV_ENDED_MAX = 20_000    # steps ended since status.csv was written that the ledger keeps: past it, the
HEADER = ",".join(COLUMNS)  # next rewrite is made from the state (the ledger stays small)
_LINE = "%s,%s,%s,%s,%s".__mod__      # Step Name, Job ID, Workspace, the shared cells, Params


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
    setdefault = pop = popitem = update = copy = __reversed__ = _whole


class Ledger:
    """A ledger as read (``load``): the in-flight tickets both ways, each step's shape, the
    queued ones."""

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
    """After a ticket pass, or a full single pass of a bundled study: leave the ledger of the
    state it leaves (``previous``, the ledger it worked from, changed where the pass changed
    steps; or made from the whole state), when the study is in the ticket pass's shape; else
    take any ledger away."""
    try:
        doc = _made(study, previous)
    except NeedsWholeState:       # never on the ticket pass's paths; the next pass reads the state
        doc = None
    if doc is None:
        forget(study.root)
        return
    try:
        write_atomic(os.path.join(study.root, FILE), dumps(doc), durable=False)
    except OSError:
        pass         # derived data: the next pass reads the state


def _made(study, previous: Ledger | None) -> dict | None:
    store, index, state = study.store, study.synced_index(), study.state
    if (store.files is None or store.files.checksum is None or not index.open
            or len(index.ticket_of) != len(index.in_flight) or index.open != len(index.in_flight)):
        return None
    steps = state["steps"]
    if any(steps[sid].get("intent") for sid in index.intents):   # a full pass's index: a superset
        return None
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
    used = sorted(set(shape))            # shapes no step in flight has any more: dropped
    if len(used) != len(shapes):
        renumber = dict(zip(used, range(len(used))))
        shapes, shape = [shapes[at] for at in used], list(map(renumber.__getitem__, shape))
    return {"schema": SCHEMA, "version": VERSION, "files": [store.files.checksum.decode(), store.files.journal_size],
            "dag_sha256": state["study"].get("dag_sha256"), "total": _total(study, previous),
            "open": index.open, "backing_off": sorted(index.backing_off),
            "state": {key: value for key, value in state.items() if key not in ("steps", "checksum")},
            "shapes": shapes, "tickets": tickets, "steps": sids, "shape": shape, "csv": _csv_record(study, previous)}


def _csv_record(study, previous: Ledger | None) -> dict | None:
    """What the next pass needs to rewrite status.csv from the file as it is: the file (size,
    modification time, inode) as this pass or an earlier one wrote it, and the entries of the
    steps that ended since (their rows in it still show them in flight).  None when the file
    cannot be taken as it is: it holds a row of an ended step that counts up to now (an end
    with no time), or too many steps ended since."""
    store, steps = study.store, study.state["steps"]
    if store.csv_written:
        fixed = store.csv_fixed if store.csv_fixed is not None else ended_rows_fixed(steps.values())
        return {"file": _digest(study.root), "ended": {}} if fixed else None
    record = previous.doc.get("csv") if previous is not None else None
    if not record:
        return None
    ended = dict(record["ended"])
    for sid in study.changes.events.touched:
        entry = steps[sid]
        if entry["state"] in S.TERMINAL:
            if not ended_rows_fixed((entry,)):
                return None
            ended[sid] = entry
    if len(ended) > CSV_ENDED_MAX:
        return None
    return {"file": record["file"], "ended": ended}


def ended_rows_fixed(entries) -> bool:
    """No ended step among ``entries`` has a row that changes with the time (started or
    submitted, and no end time)."""
    return not any(entry["state"] in S.TERMINAL and not entry.get("ended")
                   and (entry.get("started") or entry.get("submitted")) for entry in entries)


def _digest(root: str, data: bytes | None = None) -> list | None:
    """status.csv as [its size, the sha256 of its bytes] (its modification time may change while
    its bytes do not, and the other way round)."""
    if data is None:
        try:
            with open(os.path.join(root, "status.csv"), "rb") as handle:
                data = handle.read()
        except OSError:
            return None
    return [len(data), hashlib.sha256(data).hexdigest()]


def status_csv(study, now, cells: dict | None) -> str | None:
    """status.csv for a pass on the ledger: the file as it is, its rows of the steps in flight
    and of those that ended since it was written made anew (``statusrows``' cells, the same
    bytes as the whole file made from the state); None when the file is not the one the ledger
    names, holds a quoted cell, or a new row would need quoting (the caller then makes it from
    the state)."""
    kept: Ledger = study.store.ledger
    record = kept.doc.get("csv")
    total = kept.doc["total"]
    if not record or cells is None or len(cells["ids"]) != total:
        return None
    try:
        with open(os.path.join(study.root, "status.csv"), "rb") as handle:
            data = handle.read()
        if _digest(study.root, data) != record["file"]:
            return None
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if '"' in text or "\r" in text:
        return None
    lines = text.split("\n")
    if len(lines) != total + 2 or lines[0] != HEADER or lines[-1]:
        return None
    index, steps, position = study.synced_index(), study.state["steps"], study.graph.position
    touched = study.changes.events.touched
    times = Times(now)
    workspaces, params = cells["workspaces"], cells["params"]
    # the steps in flight that this pass did not touch: their entries are their shapes'
    calm = [(ticket, sid) for ticket, sid in index.tickets.items() if sid not in touched]
    tickets, sids = [t for t, _ in calm], [sid for _, sid in calm]
    shared = {}
    try:
        for at, shape in enumerate(kept.shapes):
            shared[at] = ",".join(_cells(times, _row_key(shape)))
        mids = list(map(shared.__getitem__, map(kept.shape_of.__getitem__, sids)))
    except KeyError:
        return None
    places = list(map(position.__getitem__, sids))
    made = map(_LINE, zip(csv_column(sids), csv_column(tickets), map(workspaces.__getitem__, places), mids,
                          map(params.__getitem__, places)))
    for at, line in zip(places, made):
        lines[at + 1] = line
    # the steps this pass touched, and those that ended since the file was written
    fixed = True
    for sid, entry in (*record["ended"].items(), *((sid, steps[sid]) for sid in touched)):
        at = position[sid]
        key = _row_key(entry)
        fixed = fixed and ended_rows_fixed((entry,))
        lines[at + 1] = _LINE((csv_cell(sid), csv_cell(entry.get("job_id") or NO_TIME), workspaces[at],
                               ",".join(_cells(times, key)), params[at]))
    out = "\n".join(lines)
    if out.count(",") != (len(COLUMNS) - 1) * (total + 1) or out.count("\n") != total + 1 or '"' in out or "\r" in out:
        return None
    study.store.csv_fixed = fixed
    return out


def _row_key(entry: dict) -> tuple:
    return (entry["state"], entry.get("started"), entry.get("submitted"), entry.get("ended"), entry.get("restarts", 0))


def _cells(times, key: tuple) -> tuple:
    state, run, elapsed, start, submit, end, restarts = times.cells(*key)
    return (csv_cell(state), run, elapsed, start, submit, end, csv_cell(restarts))


class _Shapes(dict):
    """(an entry's fields but its ticket, as JSON) -> its shape's place in ``shapes``, made on
    the first lookup: ``map`` looks up every entry in C, Python runs once per shape.  JSON, not
    the values: 1, 1.0 and True are one key in a dict, and must be three shapes here."""

    def __init__(self, names: tuple, shapes: list):
        super().__init__()
        self.names, self.shapes = names, shapes

    def __missing__(self, values: bytes) -> int:
        self.shapes.append({**dict(zip(self.names, loads(values))), "job_id": None, "jobs": []})
        at = self[values] = len(self.shapes) - 1
        return at


def _shapes_of(sids: list, entries: list) -> tuple[list, dict]:
    """(shapes, step -> its shape) of the entries whose job list is their ticket alone (as a
    bundle's first try leaves it), by a few C-level sweeps per set of fields; the steps of the
    others, if any, are left out (the caller takes them one by one)."""
    shapes, shape_of = [], {}
    single = list(map(list, zip(map(_JOB_ID, entries))))
    ok = list(map(eq, map(_JOBS, entries), single))
    lengths = list(map(len, entries))
    for count in set(compress(lengths, ok)):
        mask = list(map(bool.__and__, ok, map(count.__eq__, lengths)))
        first = next(compress(entries, mask))
        names = tuple(sorted(name for name in first if name not in ("job_id", "jobs")))
        if len(names) < 2:                   # itemgetter of one name gives no tuple
            continue
        memo = _Shapes(names, shapes)
        try:
            found = list(map(memo.__getitem__, map(_as_json, map(itemgetter(*names), compress(entries, mask)))))
        except KeyError:                     # other fields with the same count
            del shapes[len(shapes) - len(memo):]
            continue
        shape_of.update(zip(compress(sids, mask), found))
    return shapes, shape_of


def _as_json(values: tuple) -> bytes:
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


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
