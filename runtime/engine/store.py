"""The files a pass reads and writes, under the study lock: every byte of a pass's I/O but the
schedulers' goes through here.

Reading (``Store.load``): state.json, checked, with the intent journal merged in; the pass view of
dag.json (``view``).  A loop reuses what its last pass left (``LoopMemory``) while no other process
wrote.

Writing: the path of one event, from a step's end to events.jsonl, is
  1. ``transitions.move`` changes the step in the pass's state and appends the event to the pass's
     ``Changes.events``;
  2. ``Store.save`` writes state.json (atomically) with the change, and then appends to
     events.jsonl every event that state records and that is not logged yet;
  3. a loop that defers the write (``finish``: only local jobs changed, the last write was moments
     ago) keeps the events in ``LoopMemory.unlogged``, and the pass that writes logs them first.
So an event is in events.jsonl exactly when a state.json recording it was written.  status.csv is
derived from the state (``write_status_csv``), rewritten after a write or, in a loop, at most once
per ``csv_every`` seconds.
"""

from __future__ import annotations

import glob
import os
from datetime import datetime

from mshared.errors import InvalidInput
from mshared.jsonio import dumps, write_atomic
from mshared.statefile import STATE_FILE, head_checksum, read_state, write_state
from mshared.statusrows import status_csv
from mshared.studydir import read_dag, study_root
from mshared.times import iso_utc

from . import journal, view
from .graph import Graph
from .index import StepIndex
from .records import FileId, FilesKey, KeptDag, KeptState, LoopMemory
from .study import PassStudy

# In a loop, a state that changed only by local jobs is written at most this often (seconds):
# each write is a new file, and a loop over many short local steps would spend its time on them.
STATE_EVERY = 0.25
TEMPORARY_AGE = 60   # seconds: a temporary state file older than this was left by a killed writer


class Store:
    """One pass's reading and writing of a study's files (made under the study lock)."""

    def __init__(self, root: str, memory: LoopMemory | None = None):
        self.root = study_root(root)
        self.memory = memory
        self.files: FilesKey | None = None   # a loop's: what identifies the files this pass left
        self.journaled = False       # the journal holds lines that the next save makes stale
        self.carried: list[dict] = []      # events of earlier deferred passes, logged first
        self.logged = 0              # how many of the pass's own events are in events.jsonl
        self.committed: list[dict] = []    # the events this pass logged (carried ones first)
        self.saved = False           # this pass wrote state.json

    # ------------------------------------------------------------------ reading

    def load(self, adapters: dict) -> PassStudy:
        """The study as a pass works on it: the state (the one this loop left while no other
        process wrote, else state.json merged with the journal) and the DAG's pass view."""
        root, memory = self.root, self.memory
        kept = memory.state if memory is not None else None
        self.files = files_key(root) if memory is not None else None
        if kept is not None and kept.files.checksum is not None and kept.files == self.files:
            state, index, self.journaled = kept.state, kept.index, kept.journaled   # nobody else wrote
        else:
            if memory is not None:      # another process wrote: what we had not saved is re-derived
                memory.forget_state()
            state, index = read_state(root), None
            journal_size = self.files.journal_size if self.files is not None else _journal_size(root)
            self.journaled = bool(journal.merge(root, state["steps"])) or journal_size > 0
        dag, graph, fresh_dag = self._load_dag(state)
        if fresh_dag:
            index = None
        if index is None:
            _check_same_steps(root, state, graph)
            index = StepIndex(state, graph)
        if memory is not None:
            self.carried = list(memory.unlogged)
        return PassStudy(root, state, graph, dag, adapters, index, self)

    def _load_dag(self, state: dict) -> tuple[dict, Graph, bool]:
        """(the pass view, its graph, whether it was parsed in this pass)."""
        path = os.path.join(self.root, "dag.json")
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise InvalidInput(f"{path}: missing; is this a study directory made by mrender?") from None
        file = FileId(info.st_ino, info.st_size, info.st_mtime_ns)
        memory = self.memory
        if memory is not None and memory.dag is not None and memory.dag.file == file:
            return memory.dag.dag, memory.dag.graph, False
        sha = state["study"].get("dag_sha256")
        dag = view.load(self.root, sha, info)      # what a pass needs of dag.json, if made from it
        if dag is None:
            dag = read_dag(self.root, state)
            if sha:
                dag = view.make(dag, sha, info)
                view.save(self.root, dag)
        graph = Graph.from_dag(dag)
        if memory is not None:
            memory.dag = KeptDag(file, dag, graph)
        return dag, graph, True

    # ------------------------------------------------------------------ writing

    def save(self, study: PassStudy, durable: bool = True) -> None:
        """Write the state, then log every event it records that is not logged yet."""
        write_state(self.root, study.state, durable=durable)
        if self.journaled:               # the state now holds what the journal said
            journal.clear(self.root)
            self.journaled = False
        if self.files is not None:
            self.files = files_key(self.root)
        fresh = self.carried + study.changes.events[self.logged:]
        if fresh:
            with open(os.path.join(self.root, "events.jsonl"), "ab") as handle:
                handle.write(b"".join(dumps(e) for e in fresh))
        self.committed += fresh
        self.carried, self.logged = [], len(study.changes.events)

    def record_intents(self, study: PassStudy, step_ids: list[str], durable: bool) -> None:
        """Put the intents of ``step_ids`` (set in the state) on disk, before any job exists: in the
        journal for a loop (a line per step), in state.json for a single pass."""
        if self.memory is not None:
            size = journal.record(self.root, study.state["steps"], step_ids, durable)
            self.journaled, self.files = True, FilesKey(self.files.checksum, size)
        else:
            self.save(study, durable=durable)

    def finish(self, study: PassStudy, now: datetime, defer: bool = False, csv: bool = True) -> list[dict]:
        """Write what the pass changed: state.json, events.jsonl, and status.csv when ``csv``.
        Returns the events this pass logged (deferred passes' first).

        ``defer`` (a loop, only local steps changed) leaves state.json for a later pass: the loop
        keeps the newer state (and its events) in memory, and the intents on disk let any other
        process find the jobs this pass started, so nothing is lost or run twice.
        """
        changes = study.changes
        if not (changes.events or changes.dirty or self.carried):
            return self.committed
        if defer:
            return self.committed
        self.saved = True
        sweep_temporaries(self.root, now)
        study.state["updated"] = iso_utc(now)
        self.save(study)
        if csv:
            write_status_csv(study, now)
        return self.committed

    def remember(self, study: PassStudy) -> None:
        """Keep the state (and its index) this pass left, with what identifies the files it left:
        the next pass reuses them only if no other process wrote since."""
        memory = self.memory
        if self.saved:
            memory.unlogged, memory.unsaved = [], False
        elif self.carried or study.changes.events[self.logged:]:
            memory.unlogged, memory.unsaved = self.carried + study.changes.events[self.logged:], True
        memory.state = KeptState(self.files, study.state, study.index, self.journaled)


def files_key(root: str) -> FilesKey:
    return FilesKey(head_checksum(root), _journal_size(root))


def _journal_size(root: str) -> int:
    try:
        return os.stat(journal.path(root)).st_size
    except FileNotFoundError:
        return 0


def _check_same_steps(root: str, state: dict, graph: Graph) -> None:
    steps = state["steps"]
    if len(steps) != len(graph.order) or not steps.keys() >= set(graph.order):
        missing = [sid for sid in graph.order if sid not in steps][:1]
        raise InvalidInput(f"{root}: state.json and dag.json do not describe the same steps "
                           f"(e.g. {missing or 'extra steps in state'}); restore the study's files")


def sweep_temporaries(root: str, now: datetime) -> None:
    """A writer killed mid-write leaves its temporary file (ours, never the user's): under the
    lock, remove the ones older than a minute."""
    for path in glob.glob(os.path.join(glob.escape(root), ".tmp-*-" + STATE_FILE)):
        try:
            if now.timestamp() - os.stat(path).st_mtime > TEMPORARY_AGE:
                os.unlink(path)
        except OSError:
            pass


def write_status_csv(study: PassStudy, now: datetime) -> None:
    """Maestro's status.csv: derived data (rebuilt from state.json at will), so no fsync.  The
    file as it is spares formatting the rows of steps nothing has happened to (see status_csv)."""
    path = os.path.join(study.root, "status.csv")
    try:
        with open(path, encoding="utf-8") as handle:
            previous = handle.read()
    except (OSError, UnicodeDecodeError):
        previous = None
    text = status_csv(study.dag["steps"], study.state["steps"], now, previous)
    write_atomic(path, text.encode("utf-8"), durable=False)
