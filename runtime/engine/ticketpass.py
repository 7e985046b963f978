"""The ticket pass: a single pass of a bundled study whose open steps are all tickets, made
without reading the DAG.

A bundled parameter sweep spends most of its life in one shape: every step not ended is a ticket
of its bundle (queued, or run by a worker), and none waits.  A single pass of such a study
(mmonitor from cron, msubmit) can only carry over what the workers did and tend the allocations;
yet a full pass also reads the pass view, builds the graph and scans every step into the step
index, which on 100,000 steps costs more than reading the state (bench/README.md).  So a single
pass first tries this one (``attempt``): it reads the state as a full pass does and checks the
shape on it; stands in for the graph and the index with what that shape allows (``TicketGraph``,
``TicketIndex``); asks the bundle which tickets moved; and then runs the full pass's own work and
persistence (``passes.do_work``, ``passes.persist``) on them.  It steps aside, having written
nothing, when anything else could happen:
- a control request, a dry run, an intent, an earlier release's intents file;
- a step waiting (INITIALIZED) or in flight as its own job; bundling off for the study now;
- an answer that sends a step back to INITIALIZED (a timeout, a node failure): the restart
  and the resubmission need the DAG.
The full pass that follows reuses the answers it got and the bundle adapter that got them, so
the bundle is asked once per pass.  In that shape the stand-ins answer as the real ones: no step
is ready or has an intent (nothing to submit), a failed step's descendants are all past
INITIALIZED (``transitions.fail_descendants`` moves none), no step is local.

Nor need it read the state, most of the time: each ticket pass leaves the ledger of the state
it leaves (``ledger``), and the next works on that while the state files are the ones it was
made with (``_usable``; the whole state is read when the journal is due to be folded in or the
study may end; status.csv, when due, is rewritten from the file as it is).

What it needs of the DAG is in ``meta/ticket-pass.json`` (derived data, written by a full single
pass of a bundled study, ``keep_note``): the DAG's study block (batch, bundle) and its step ids
in order (events come out in DAG order, as in a full pass); used only while dag.json is the file
it was made from.  When status.csv is due, the pass view is read for it then.
"""

from __future__ import annotations

import os
from collections import Counter
from functools import cached_property
from itertools import compress
from operator import itemgetter, methodcaller

from mruntime.bundle import files as bundle_files
from mshared import bundlesettings
from mshared import states as S
from mshared.contracts import MAX_DAG_BYTES
from mshared.dagview import signature
from mshared.errors import InvalidInput
from mshared.jsonio import dumps, loads, write_atomic
from mshared.reading import read_regular
from mshared.statefile import STATE_FILE

from . import journal, ledger
from .graph import BUNDLE
from .index import StepIndex
from .ledger import Ledger
from .store import COMPACT_MIN, COMPACT_SHARE, Store, files_key
from .study import PassStudy

FILE = os.path.join("meta", "ticket-pass.json")
SCHEMA, VERSION = "maestro.ticket-pass", 1
# the answers a ticket pass applies: none sends a step back to INITIALIZED
APPLIES = frozenset({S.PENDING, S.QUEUED, S.WAITING, S.RUNNING, S.FINISHING, S.FINISHED, S.FAILED, S.CANCELLED})
_STATE, _JOB = itemgetter("state"), itemgetter("job_id")
_INTENT, _NOT_BEFORE = methodcaller("get", "intent"), methodcaller("get", "not_before")
_IS_TICKET = methodcaller("startswith", bundle_files.TICKET_PREFIX)


class Attempt:
    """What ``attempt`` found: ``study``, ready for the full pass's work, or None; then what the
    full pass takes over: the ``store`` with the (whole) ``state`` it read, the bundle's
    ``answers`` and the ``bundle`` adapter that got them (each None when it got that far); and
    the ``ledger`` the study was taken from, if it was (``ledger.keep`` carries it on)."""

    def __init__(self, study: PassStudy | None = None, *, store: Store | None = None, state: dict | None = None,
                 answers: dict | None = None, bundle=None, ledger: Ledger | None = None):
        self.study, self.store, self.state = study, store, state
        self.answers, self.bundle, self.ledger = answers or {}, bundle, ledger


def attempt(root: str, adapters: dict, now, held) -> Attempt:
    """The ticket pass's study of ``root`` (under the study lock), if the study is in its shape:
    on the ledger the last ticket pass left, when it is of these very state files and the pass
    cannot need the whole state (``_usable``); else on the state."""
    store = Store(root)
    note = _load(store.root)
    if note is None:
        return Attempt()
    kept, whole = _usable(store, note, now)
    state = kept.state() if kept is not None and not whole else store.read_state()
    total = kept.doc["total"] if kept is not None else len(state["steps"])
    settings = bundlesettings.effective(note["study"].get("bundle"), state["settings"].get("bundle"))
    if (store.legacy_intents or settings is None or state["study"].get("dag_sha256") != note["dag_sha256"]
            or len(note["order"]) != total or not _quiet_requests(state)):
        return Attempt(store=store, state=_whole(store, state))
    graph = TicketGraph(note["order"], (note["study"].get("batch") or {}).get("type", "local"), settings)
    index = kept.index(graph) if kept is not None else TicketIndex.of(state, graph)
    if index is None:
        return Attempt(store=store, state=state)
    index.steps = state["steps"]
    dag = _NoteDag(note["study"], store, state)
    study = PassStudy(store.root, state, graph, dag, adapters, index, store)
    study.held, study.now = held, now
    bundle = study.adapter_by_key(BUNDLE)
    answers = bundle.moved(index.tickets)
    if any(status.state not in APPLIES for status in answers.values()):
        return Attempt(store=store, state=_whole(store, state), answers={BUNDLE: answers}, bundle=bundle)
    ending = sum(status.state in S.TERMINAL for status in answers.values()) >= index.open
    if ending and isinstance(state, ledger.LedgerState):      # the study may end: state.json is
        state = study.state = dag.state = _whole(store, state)   # then written whole
        index.steps = state["steps"]
    study.answers = {BUNDLE: answers}
    return Attempt(study, ledger=kept)


def _usable(store: Store, note: dict, now) -> tuple[Ledger | None, bool]:
    """(the ledger, if it is of the state files as they are; whether this pass needs the whole
    state all the same: the journal has grown to twice its share of state.json (a pass with the
    whole state folds it in), an earlier release's intents wait).  A ledger with the whole state
    still gives the index, and is carried on (``ledger.keep``).  status.csv, when due, is
    rewritten from the ledger and the file as it is (``ledger.status_csv``)."""
    files = files_key(store.root)
    kept = ledger.load(store.root, files, note["dag_sha256"])
    if kept is None:
        return None, True
    snapshot = _size(os.path.join(store.root, STATE_FILE))
    whole = (_size(journal.path(store.root)) > 0
             or files.journal_size > 2 * max(COMPACT_MIN, int(COMPACT_SHARE * snapshot)))
    if not whole:
        store.use_ledger(kept, files, snapshot)
    return kept, whole


def _whole(store: Store, state: dict) -> dict:
    """The whole state: ``state``, or, for a ledger's, the state read (the same files)."""
    return store.read_state() if isinstance(state, ledger.LedgerState) else state


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _quiet_requests(state: dict) -> bool:
    """No request waits or holds (a cancel, a re-run, an earlier release's), and no dry run."""
    return not any(state["requests"].values()) and not state["settings"].get("dry")


class TicketGraph:
    """The graph, as far as a pass of a study in the ticket pass's shape looks at it."""

    def __init__(self, order: list[str], scheduler: str, bundle: dict):
        self.order, self.scheduler, self.bundle = order, scheduler, bundle
        self.children = _NoChildren()         # no step waits: none to fail below a failed one
        self.adapter_keys = _AllBundled()     # every open step is a ticket
        self.steps: dict = {}                 # never looked at in this shape

    @cached_property
    def position(self) -> dict[str, int]:
        return dict(zip(self.order, range(len(self.order))))


class _NoChildren:
    def __getitem__(self, sid: str) -> tuple:
        return ()


class _AllBundled:
    def __getitem__(self, sid: str) -> str:
        return BUNDLE


class TicketIndex(StepIndex):
    """The step index of a study in the ticket pass's shape, made with a few sweeps in C
    (``StepIndex.__init__`` loops over every step in Python); the same content."""

    @classmethod
    def of(cls, state: dict, graph: TicketGraph) -> TicketIndex | None:
        """The index, or None when the state is not in the shape.  Every sweep is map, compress
        or zip over the entries: no bytecode runs per step."""
        steps = state["steps"]
        entries = steps.values()
        states = list(map(_STATE, entries))
        counts = Counter(states)
        if counts[S.INITIALIZED] or any(map(_INTENT, entries)):
            return None
        flies = list(map(S.IN_FLIGHT.__contains__, states))
        ids = list(compress(steps, flies))
        open_count = sum(n for name, n in counts.items() if name not in S.TERMINAL)
        jobs = list(map(_JOB, compress(entries, flies)))
        if open_count != len(ids) or None in jobs or not all(map(_IS_TICKET, jobs)):
            return None
        return cls.made(graph, steps, open_count, set(ids), set(compress(steps, map(_NOT_BEFORE, entries))),
                        dict(zip(ids, jobs)), dict(zip(jobs, ids)),
                        set(compress(ids, map(S.PENDING.__eq__, compress(states, flies)))))

    @classmethod
    def made(cls, graph: TicketGraph, steps, open_count: int, in_flight: set, backing_off: set, ticket_of: dict,
             tickets: dict, queued_tickets: set) -> TicketIndex:
        """The index of these sets (of a study in the shape: no intent, none waiting)."""
        index = cls.__new__(cls)
        index.graph, index.steps = graph, steps
        index.open, index.intents, index.in_flight = open_count, set(), in_flight
        index.backing_off, index.ticket_of, index.tickets = backing_off, ticket_of, tickets
        index.queued_tickets = queued_tickets
        index._waiting, index.live, index.heads = {}, Counter(), {}
        index._events, index._seen = None, 0
        return index


class _NoteDag(dict):
    """The DAG as the note has it: the study block; the steps (the pass view) read when first
    needed (status.csv)."""

    def __init__(self, study: dict, store: Store, state: dict):
        super().__init__(study=study)
        self._store, self.state = store, state

    def __missing__(self, key: str):
        if key != "steps":
            raise KeyError(key)
        steps = self["steps"] = self._store.load_dag(self.state)["steps"]
        return steps


def keep_note(study) -> None:
    """After a full single pass of a bundled study: leave the note a ticket pass needs, unless
    the one there is of this very dag.json.  Derived data: a study that takes no new file goes
    on with full passes."""
    if study.graph.bundle is None or not study.state["study"].get("dag_sha256"):
        return
    root = study.root
    if _load(root) is not None:
        return
    try:
        info = os.stat(os.path.join(root, "dag.json"))
        dag_study = study.dag["study"]
        note = {"schema": SCHEMA, "version": VERSION, "dag_sha256": study.state["study"]["dag_sha256"],
                "dag_file": signature(info), "order": study.graph.order,
                "study": {"batch": dag_study.get("batch"), "bundle": dag_study.get("bundle")}}
        write_atomic(os.path.join(root, FILE), dumps(note), durable=False)
    except OSError:
        pass


def _load(root: str) -> dict | None:
    """The note, if it was made from this very dag.json; else None."""
    try:
        info = os.stat(os.path.join(root, "dag.json"))
        doc = loads(read_regular(os.path.join(root, FILE), MAX_DAG_BYTES, "the ticket pass's note"))
    except (OSError, ValueError, InvalidInput):
        return None
    if (not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != VERSION
            or doc.get("dag_file") != signature(info) or not isinstance(doc.get("order"), list)
            or not isinstance(doc.get("study"), dict) or not doc.get("dag_sha256")):
        return None
    return doc
