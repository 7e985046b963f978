"""One pass over a study: read the state under the lock, talk to the schedulers, write the state.

msubmit runs ``submit_pass``; mmonitor runs ``monitor_pass`` (poll, apply, then submit).  The lock
is held for the pass only; no pass sleeps.  Every scheduler gets one status query per pass.
"""

import os
from datetime import datetime

from mshared.contracts import DAG_SCHEMA, DAG_VERSION, check_envelope, parse_dag
from mshared.errors import InvalidInput
from mshared.jsonio import dumps, loads_hashed, write_atomic
from ..schedulers.base import JobRef
from ..schedulers.registry import get_adapter
from mshared.statefile import STATE_FILE, head_checksum, lock_study, read_state, write_state
from mshared.statusrows import status_csv
from mshared.times import iso_utc, utcnow
from . import journal, view
from . import transitions as T
from .graph import Graph
from .index import StepIndex
from .submission import INTENT_GRACE, submit_ready  # noqa: F401 (INTENT_GRACE: part of this API)
# In a loop, a state that changed only by local jobs is written at most this often (seconds):
# each write is a new file, and a loop over many short local steps would spend its time on them.
STATE_EVERY = 0.25


class Study:
    """What a pass works on: the root, its state (mutable), its graph and its adapters; ``dag``
    is the pass view of the DAG (``view``), or the DAG itself for a state without a checksum."""

    def __init__(self, root: str, state: dict, graph: Graph, dag: dict, adapters: dict,
                 index: StepIndex | None = None, in_loop: bool = False):
        self.root, self.state, self.graph, self.dag, self.adapters = root, state, graph, dag, adapters
        self.index = index if index is not None else StepIndex(state, graph)
        self.in_loop = in_loop           # intents go to the journal, not to state.json
        self.files_key: tuple | None = None   # a loop's: what identifies the files it leaves
        self.journaled = False           # the journal holds lines that the next save makes stale
        self.events: list[dict] = []
        self.dirty = False
        self.must_save = False   # a change that may not wait for a later write (requests, refusals)
        self.saved = False
        self.carried: list[dict] = []    # events of earlier deferred passes, not yet logged
        self.logged = 0                  # how many of self.events are in events.jsonl
        self.committed: list[dict] = []  # events logged by this pass (carried ones first)

    def save(self, durable: bool = True) -> None:
        """Write the state and log, with it, every event it records that is not logged yet: an
        event is in events.jsonl exactly when a state recording it was written."""
        write_state(self.root, self.state, durable=durable)
        if self.journaled:               # the state now holds what the journal said
            journal.clear(self.root)
            self.journaled = False
        if self.files_key is not None:
            self.files_key = _files_key(self.root)
        fresh = self.carried + self.events[self.logged:]
        if fresh:
            with open(os.path.join(self.root, "events.jsonl"), "ab") as handle:
                handle.write(b"".join(dumps(e) for e in fresh))
        self.committed += fresh
        self.carried, self.logged = [], len(self.events)

    def synced_index(self) -> StepIndex:
        """The index, with this pass's events applied."""
        self.index.follow(self.events)
        return self.index

    @property
    def scripts_dir(self):
        return self.state["study"].get("scripts_dir")

    def adapter(self, step_id: str):
        key = self.graph.adapter_key(step_id)
        if key not in self.adapters:
            self.adapters[key] = get_adapter(key, self.dag["study"].get("batch") or {})
        return self.adapters[key]

    def ref(self, step_id: str) -> JobRef:
        return JobRef(self.state["steps"][step_id]["job_id"], self.graph.workspace(step_id, self.root),
                      self.graph.steps[step_id]["stem"])


def load_study(root: str, adapters: dict | None = None, cache: dict | None = None) -> Study:
    """Read the state (merged with the intent journal) and the DAG.  A loop passes ``cache``: the
    DAG is parsed once while dag.json is unchanged, and the state (with its index) this loop left
    is reused while state.json and the journal are still the files it left."""
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise InvalidInput(f"{root}: not a directory; give a study directory made by mrender")
    remembered = cache.pop("state", None) if cache is not None else None
    files_key = _files_key(root) if cache is not None else None
    if remembered is not None and remembered[0][0] is not None and files_key == remembered[0]:
        state, index, journaled = remembered[1], remembered[2], remembered[3]   # nobody else wrote
    else:
        state, index = read_state(root), None
        journal_size = files_key[1] if files_key is not None else _journal_size(root)
        journaled = bool(journal.merge(root, state["steps"])) or journal_size > 0
        if cache is not None:      # another process wrote: what we had not saved is re-derived
            cache.update(pending_events=[], unsaved=False)
    path = os.path.join(root, "dag.json")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InvalidInput(f"{path}: missing; is this a study directory made by mrender?") from None
    key = (info.st_ino, info.st_size, info.st_mtime_ns)
    if cache is not None and cache.get("dag_key") == key:
        dag, graph = cache["dag"], cache["graph"]
    else:
        sha = state["study"].get("dag_sha256")
        dag = view.load(root, sha, info)      # what a pass needs of dag.json, if made from it
        if dag is None:
            dag = _read_dag(path, state)
            if sha:
                dag = view.make(dag, sha, info)
                view.save(root, dag)
        graph = Graph.from_dag(dag)
        index = None
        if cache is not None:
            cache.update(dag_key=key, dag=dag, graph=graph)
    steps = state["steps"]
    if index is None and (len(steps) != len(graph.order) or not steps.keys() >= set(graph.order)):
        missing = [sid for sid in graph.order if sid not in steps][:1]
        raise InvalidInput(f"{root}: state.json and dag.json do not describe the same steps "
                           f"(e.g. {missing or 'extra steps in state'}); restore the study's files")
    study = Study(root, state, graph, dag, adapters if adapters is not None else {}, index=index,
                  in_loop=cache is not None)
    study.journaled, study.files_key = journaled, files_key
    if cache is not None:
        study.carried = list(cache.get("pending_events") or [])
    return study


def _journal_size(root: str) -> int:
    try:
        return os.stat(journal.path(root)).st_size
    except FileNotFoundError:
        return 0


def _files_key(root: str) -> tuple:
    """What tells a loop that no other process wrote since its last pass: the checksum at the
    head of state.json (a new state has a new one) and the journal's size (only appended to)."""
    return head_checksum(root), _journal_size(root)


def _read_dag(path: str, state: dict) -> dict:
    """dag.json, checked against the sha256 mrender recorded in the state (cheaper than validating
    100,000 steps again, and it also catches a DAG swapped or edited after rendering)."""
    with open(path, "rb") as handle:
        data = handle.read()
    expected = state["study"].get("dag_sha256")
    if not expected:
        return parse_dag(data, path)
    try:
        doc, digest = loads_hashed(data)
    except ValueError:
        digest = None
    if digest != expected:
        raise InvalidInput(f"{path}: does not match the DAG this study was rendered from "
                           "(edited or replaced?); render the study again")
    check_envelope(doc, DAG_SCHEMA, DAG_VERSION, path)
    return doc


def _sweep_temporaries(root: str, now: datetime) -> None:
    """A writer killed mid-write leaves its temporary file (ours, never the user's): under the
    lock, remove the ones older than a minute."""
    import glob

    for path in glob.glob(os.path.join(glob.escape(root), ".tmp-*-" + STATE_FILE)):
        try:
            if now.timestamp() - os.stat(path).st_mtime > 60:
                os.unlink(path)
        except OSError:
            pass


def finish_pass(study: Study, now: datetime, write_csv: bool = True, defer: bool = False) -> list[dict]:
    """Write what changed: state.json (atomically), events.jsonl (appended), status.csv.
    Returns the events this pass logged (those of deferred passes first).

    ``defer`` (a loop, only local steps changed) leaves state.json for a later pass: the loop
    keeps the newer state (and its events) in memory, and the intents on disk let any other
    process find the jobs this pass started, so nothing is lost or run twice.
    """
    if not (study.events or study.dirty or study.carried):
        return study.committed
    study.saved = not defer
    if defer:
        return study.committed
    _sweep_temporaries(study.root, now)
    study.state["updated"] = iso_utc(now)
    study.save()
    if write_csv:
        write_status_csv(study, now)
    return study.committed


def write_status_csv(study: Study, now: datetime) -> None:
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


def poll(study: Study, now: datetime) -> None:
    """One status query per scheduler for every in-flight job, then Maestro's transitions."""
    at = iso_utc(now)
    steps = study.state["steps"]
    groups: dict[str, list[str]] = {}
    for sid in study.synced_index().flying():
        if steps[sid].get("job_id"):
            groups.setdefault(study.graph.adapter_key(sid), []).append(sid)
    for key, sids in groups.items():
        answers = study.adapter(sids[0]).status([study.ref(s) for s in sids])
        for sid in sids:
            status = answers.get(steps[sid]["job_id"])
            if status is not None:
                T.apply_status(study.state, study.graph, sid, status, at, study.events)


def handle_requests(study: Study, now: datetime) -> None:
    """Cancel and re-run requests left in the state by `maestro cancel` / `maestro rerun`."""
    at = iso_utc(now)
    requests = study.state["requests"]
    targets = []
    if requests.get("cancel") and not requests.get("cancel_done"):
        roots = [sid for sid in study.graph.order if not study.graph.steps[sid]["depends"]]
        targets = T.cancel_steps(study.state, study.graph, roots, at, study.events)
        requests["cancel_done"] = True
        study.dirty = study.must_save = True
    if requests.get("cancel_steps"):
        targets += T.cancel_steps(study.state, study.graph, requests.pop("cancel_steps"), at, study.events)
        study.dirty = study.must_save = True
    if requests.get("rerun"):
        for item in requests.pop("rerun"):
            T.rerun_steps(study.state, study.graph, [item["step"]], bool(item.get("subtree")), at, study.events)
        study.dirty = study.must_save = True
    by_adapter: dict[str, list] = {}
    for sid in targets:
        by_adapter.setdefault(study.graph.adapter_key(sid), []).append(sid)
    for key, sids in by_adapter.items():
        study.adapter(sids[0]).cancel([study.ref(s) for s in sids])


class PassResult:
    def __init__(self, events: list, status: str, local_in_flight: int, in_flight: int):
        self.events, self.status = events, status
        self.local_in_flight, self.in_flight = local_in_flight, in_flight


def run_pass(root: str, *, poll_jobs: bool, submit: bool, clock=utcnow, adapters: dict | None = None,
             local_slots: int | None = None, cache: dict | None = None, csv_every: float = 0) -> PassResult:
    """Lock, load, (requests, poll,) submit, write.

    A loop passes ``cache`` (the parsed DAG; the state it left, reused while state.json and the
    intent journal are the files it left) and ``csv_every``: status.csv is then rewritten at most
    that often, and always when the study ends.
    """
    slots = local_slots if local_slots is not None else cores()
    if adapters is None:          # the pass's own adapters: let their helpers go when it ends
        adapters = {}
        try:
            return run_pass(root, poll_jobs=poll_jobs, submit=submit, clock=clock, adapters=adapters,
                            local_slots=slots, cache=cache, csv_every=csv_every)
        finally:
            close_adapters([adapters])
    with lock_study(os.path.abspath(root), keep=cache.setdefault("lock", {}) if cache is not None else None):
        study = load_study(root, adapters, cache)
        now = clock()
        try:
            if poll_jobs:
                handle_requests(study, now)
                poll(study, now)
            if submit and not study.state["requests"].get("cancel"):
                submit_ready(study, now, slots)
        except BaseException:
            if cache is not None:
                cache.pop("state", None)   # the in-memory state may differ from the file now
                cache.update(pending_events=[], unsaved=False)
            finish_pass(study, clock(), write_csv=cache is None)
            raise
        end = clock()
        index = study.synced_index()
        status = "RUNNING" if index.open else T.study_status(study.state)
        defer = (cache is not None and status == "RUNNING" and not study.must_save
                 and end.timestamp() - cache.get("saved_at", 0) < STATE_EVERY
                 and all(study.graph.adapter_key(e["step"]) == "local" for e in study.events))
        if cache is not None and cache.get("unsaved") and not defer:
            study.dirty = True        # a state left unsaved by an earlier pass is due now
        events = finish_pass(study, end, write_csv=cache is None, defer=defer)
        if cache is not None:
            if study.saved:
                cache.update(saved_at=end.timestamp(), unsaved=False, pending_events=[])
            elif study.carried or study.events[study.logged:]:
                cache.update(unsaved=True, pending_events=study.carried + study.events[study.logged:])
            _remember_state(cache, study)
            cache["csv_stale"] = cache.get("csv_stale", True) or bool(events)
            if cache["csv_stale"] and (status != "RUNNING" or end.timestamp() - cache.get("csv_at", 0) >= csv_every):
                write_status_csv(study, end)
                cache.update(csv_at=end.timestamp(), csv_stale=False)
        keys = study.graph.adapter_keys
        local = sum(1 for sid in index.in_flight if keys[sid] == "local")
        result = PassResult(events, status, local, len(index.in_flight))
        result.poll_interval = study.state["settings"].get("poll_interval", 60)
        return result


def cores() -> int:
    """Local jobs in flight at once by default: one per core."""
    return os.cpu_count() or 1


def close_adapters(groups) -> None:
    """Let the adapters' helpers go (a local launcher ends; its jobs run on).  ``groups``: dicts
    of adapters, as a pass or a loop keeps them."""
    for group in groups:
        for adapter in group.values():
            close = getattr(adapter, "close", None)
            if close is not None:
                close()


def _remember_state(cache: dict, study: Study) -> None:
    """Keep the state (and its index) this pass left, with what identifies the files it left: the
    next pass reuses them only if no other process wrote since."""
    cache["state"] = (study.files_key, study.state, study.index, study.journaled)
