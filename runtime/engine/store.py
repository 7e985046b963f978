"""The files a pass reads and writes, under the study lock: every byte of a pass's I/O but the
schedulers' goes through here.

Reading (``Store.load``): the state (state.json with its journal applied: ``statefile.read_state``)
and the pass view of dag.json (``view``).  A loop reuses what its last pass left (``LoopMemory``)
while no other process wrote.

Writing: the path of one event, from a step's end to events.jsonl, is
  1. ``transitions.move`` changes the step in the pass's state, appends the event to the pass's
     ``Changes.events`` and notes the step as touched;
  2. ``Store.commit`` writes the whole entry of every touched step as one line of the state's
     journal (``mshared.statejournal``), or, when the journal has grown to a share of state.json
     or the study has ended, state.json whole (a compaction, which empties the journal);
  3. then it appends the pass's events to events.jsonl.
So an event is in events.jsonl only once a state recording it is on disk, and finishing a step
costs a line of a few hundred bytes, whatever the size of the study.  status.csv is derived from
the state (``write_status_csv``): a single pass rewrites it when it changed something; a loop at
most once per ``csv_interval`` and when the study ends.
"""

from __future__ import annotations

import glob
import os
from datetime import datetime

from mshared import bundlesettings, statejournal
from mshared.errors import InvalidInput
from mshared.jsonio import append, dumps, write_atomic
from mshared.statefile import STATE_FILE, head_checksum, read_state, write_state
from mshared.statusrows import status_csv, status_csv_of
from mshared.studydir import read_dag, study_root
from mshared.times import iso_utc

from . import journal, view
from .graph import Graph
from .index import StepIndex
from .records import FileId, FilesKey, KeptDag, KeptState, LoopMemory
from .study import PassStudy

# The journal is folded into state.json (a compaction) once it is larger than this share of
# state.json, and at least this many bytes: a reader applies at most about that much (a pass on
# the ticket ledger, which cannot compact, appends up to twice that before a pass with the whole
# state folds it in), and the bytes written per finished step stay bounded.
COMPACT_SHARE = 0.25
COMPACT_MIN = 256 * 1024
TEMPORARY_AGE = 60   # seconds: a temporary state file older than this was left by a killed writer
CSV_RATE = 1 << 20   # bytes per second: a loop rewrites status.csv no faster than this on average
# ... and single passes (cron) no faster than this: each of them rewrites the file from scratch, so
# on a large study it would be most of the pass (a 100,000-step study's file: once in ~90 s)
CSV_RATE_SINGLE = 1 << 17


class Store:
    """One pass's reading and writing of a study's files (made under the study lock)."""

    def __init__(self, root: str, memory: LoopMemory | None = None):
        self.root = study_root(root)
        self.memory = memory
        self.files: FilesKey | None = None   # what identifies the files as this pass leaves them
        self.base = ""               # the checksum of state.json: the journal's lines apply to it
        self.snapshot_size = 0       # the size of state.json
        self.legacy_intents = False  # an intents.jsonl of an earlier release holds lines
        self.committed: list[dict] = []    # the events this pass logged
        self.wrote = False           # this pass wrote the state (a journal line or state.json)
        self.partial = False         # the pass holds a ledger's state (ledger.py): never written whole
        self.ledger = None           # ... and this is the ledger (ledger.Ledger)
        self.csv_written = False     # this pass rewrote status.csv ...
        self.csv_fixed = None        # ... and, from the ledger: none of its ended rows counts up to now

    # ------------------------------------------------------------------ reading

    def load(self, adapters: dict, state: dict | None = None) -> PassStudy:
        """The study as a pass works on it: the state this loop left while no other process
        wrote, else the state on disk (``state``: as ``read_state`` read it already in this pass,
        under the same lock); and the DAG's pass view."""
        root, memory = self.root, self.memory
        kept = memory.state if memory is not None else None
        index = None
        if state is None:                 # not read yet in this pass
            files = files_key(root) if kept is not None else None
            if files is not None and kept.files.checksum is not None and kept.files == files:
                state, index = kept.state, kept.index              # nobody else wrote
                self.files, self.base, self.snapshot_size = files, kept.base, kept.snapshot_size
            else:
                if memory is not None:
                    memory.forget_state()
                state = self.read_state()
        dag, graph, fresh_dag = self._load_dag(state)
        settings = bundlesettings.effective(dag["study"].get("bundle"), state["settings"].get("bundle"))
        if graph.use_bundle(settings) or fresh_dag:
            index = None          # the index groups waiting steps by the adapter that runs them
        if index is None:
            _check_same_steps(root, state, graph)
            index = StepIndex(state, graph)
        return PassStudy(root, state, graph, dag, adapters, index, self)

    def read_state(self) -> dict:
        """The state on disk: state.json with its journal applied (and an earlier release's
        intents merged); notes what identifies the files, for the writes of this pass."""
        root = self.root
        self.files, self.partial = files_key(root), False
        state = read_state(root)
        self.base = state.get("checksum") or ""
        self.snapshot_size = _size(os.path.join(root, STATE_FILE))
        self.legacy_intents = bool(journal.merge(root, state["steps"])) or _size(journal.path(root)) > 0
        return state

    def use_ledger(self, kept, files: FilesKey, snapshot_size: int) -> None:
        """This pass works on ``kept``, the ledger of these state files (ledger.py), not on the state."""
        self.files, self.base, self.snapshot_size = files, files.checksum.decode(), snapshot_size
        self.partial, self.ledger = True, kept

    def load_dag(self, state: dict) -> dict:
        """The pass view of the DAG (or the DAG, for a state that records no checksum)."""
        return self._load_dag(state)[0]

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
        if dag is not None and not view.others_there(self.root):
            dag = None                             # one of its siblings was deleted: make all again
        if dag is None:
            dag = read_dag(self.root, state)
            if sha:
                view.save(self.root, view.make_report(dag, sha, info), view.REPORT_FILE)
                view.save(self.root, view.make_csv(dag, sha, info), view.CSV_FILE)
                dag = view.make(dag, sha, info)
                view.save(self.root, dag)
        graph = Graph.from_dag(dag)
        if memory is not None:
            memory.dag = KeptDag(file, dag, graph)
        return dag, graph, True

    # ------------------------------------------------------------------ writing

    def record_intents(self, study: PassStudy, step_ids: list[str], durable: bool) -> None:
        """Put the intents of ``step_ids`` (set in the state) on disk before any job exists: one
        journal line (fsynced when ``durable``)."""
        steps = study.state["steps"]
        self._append(study, {sid: steps[sid] for sid in step_ids}, {}, durable)

    def commit(self, study: PassStudy, now: datetime, ended: bool) -> list[dict]:
        """Write what the pass changed: a journal line, or state.json whole when the journal has
        grown past its share or the study has ended; then log the events.  Returns the events
        this pass logged."""
        changes, state = study.changes, study.state
        if not changes.any():
            if ended and (self.files.journal_size or self.legacy_intents):
                self._compact(study)       # a finished study's state.json is its whole state
            return self.committed
        sweep_temporaries(self.root)
        state["updated"] = iso_utc(now)
        steps = state["steps"]
        touched = {sid: steps[sid] for sid in changes.events.touched}
        fields = {name: state[name] for name in sorted(changes.fields | {"updated"})}
        line = statejournal.encode(self.base, touched, fields)
        if ended or self.legacy_intents or (self.files.journal_size + len(line) > self._journal_limit()
                                            and not self.partial):
            self._compact(study)
        else:
            self._append_line(line, durable=False)
        self.wrote = True
        self._log(changes.events)
        return self.committed

    def _journal_limit(self) -> int:
        return max(COMPACT_MIN, int(COMPACT_SHARE * self.snapshot_size))

    def _append(self, study: PassStudy, steps: dict, fields: dict, durable: bool) -> None:
        self._append_line(statejournal.encode(self.base, steps, fields), durable)

    def _append_line(self, line: bytes, durable: bool) -> None:
        size = statejournal.append(self.root, line, durable)
        self.files = FilesKey(self.files.checksum, size)

    def _compact(self, study: PassStudy) -> None:
        """Write state.json whole (it empties the journal: every line is in it)."""
        if self.partial:                 # a ledger's state holds only the steps in flight
            from .ledger import NeedsWholeState

            raise NeedsWholeState("state.json is written whole only from the whole state")
        write_state(self.root, study.state)
        if self.legacy_intents:          # an earlier release's intents: now in state.json too
            journal.clear(self.root)
            self.legacy_intents = False
        checksum = head_checksum(self.root)
        self.base = checksum.decode() if checksum else ""
        self.snapshot_size = _size(os.path.join(self.root, STATE_FILE))
        self.files = FilesKey(checksum, statejournal.size(self.root))

    def _log(self, events: list[dict]) -> None:
        if events:   # one write of whole lines, never world-writable; a failed one is cut back
            append(os.path.join(self.root, "events.jsonl"), b"".join(dumps(e) for e in events))
        self.committed = list(events)

    def remember(self, study: PassStudy) -> None:
        """Keep the state (and its index) this pass left, with what identifies the files it left:
        the next pass reuses them only if no other process wrote since."""
        self.memory.state = KeptState(self.files, study.state, study.index, self.base, self.snapshot_size)


def files_key(root: str) -> FilesKey:
    return FilesKey(head_checksum(root), statejournal.size(root))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _check_same_steps(root: str, state: dict, graph: Graph) -> None:
    steps = state["steps"]
    if len(steps) != len(graph.steps) or not steps.keys() >= graph.steps.keys():
        missing = [sid for sid in graph.order if sid not in steps][:1]
        raise InvalidInput(f"{root}: state.json and dag.json do not describe the same steps "
                           f"(e.g. {missing or 'extra steps in state'}); restore the study's files")


def sweep_temporaries(root: str) -> None:
    """A writer killed mid-write leaves its temporary file (ours, never the user's): under the
    lock, remove the ones older than a minute."""
    import time

    for path in glob.glob(os.path.join(glob.escape(root), ".tmp-*-" + STATE_FILE)):
        try:
            if time.time() - os.stat(path).st_mtime > TEMPORARY_AGE:
                os.unlink(path)
        except OSError:
            pass


def status_csv_size(study: PassStudy) -> int:
    return _size(os.path.join(study.root, "status.csv"))


def status_csv_mtime(study: PassStudy) -> float:
    try:
        return os.stat(os.path.join(study.root, "status.csv")).st_mtime
    except OSError:
        return 0.0


def write_status_csv(study: PassStudy, now: datetime) -> None:
    """Maestro's status.csv: derived data (rebuilt from state.json at will), so no fsync.  Its
    Workspace and Params cells come from the CSV view while it is of this dag.json.  A pass on
    the ticket ledger changes the rows that can have changed in the file as it is
    (``ledger.status_csv``), or, when it cannot, reads the state it just wrote."""
    root, store = study.root, study.store
    try:
        cells = view.load_csv(root, study.state["study"].get("dag_sha256"), os.stat(os.path.join(root, "dag.json")))
    except OSError:
        cells = None
    text, steps = None, study.state["steps"]
    if store.partial:
        from . import ledger

        text = ledger.status_csv(study, now, cells)
        if text is None:
            steps = read_state(root)["steps"]        # as the pass left it on disk
            store.csv_fixed = ledger.ended_rows_fixed(steps.values())
    if text is None:
        if cells is not None and len(cells["ids"]) == len(steps):
            text = status_csv_of(cells["ids"], cells["workspaces"], cells["params"], steps, now)
        else:
            text = status_csv(study.dag["steps"], steps, now)
    write_atomic(os.path.join(root, "status.csv"), text.encode("utf-8"), durable=False)
    store.csv_written = True
