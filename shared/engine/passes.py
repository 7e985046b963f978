"""One pass over a study: read the state under the lock, talk to the schedulers, write the state.

msubmit runs ``submit_pass``; mmonitor runs ``monitor_pass`` (poll, apply, then submit).  The lock
is held for the pass only; no pass sleeps.  Every scheduler gets one status query per pass.
"""

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from .. import states as S
from ..contracts import DAG_SCHEMA, DAG_VERSION, check_envelope, parse_dag
from ..errors import InvalidInput, SchedulerUnavailable
from ..jsonio import dumps, loads, write_atomic
from ..schedulers.base import JobRef, SubmitRefused, SubmitUncertain
from ..schedulers.registry import get_adapter
from ..statefile import STATE_FILE, iso_utc, lock_study, read_state, write_state
from ..statusrows import status_csv
from . import transitions as T
from .graph import Graph

MAX_BACKOFF = 300  # seconds between submission attempts, at most
# After a crash mid-submission, a job can surface a moment later (a runner still starting, an
# sbatch that outlived its parent): an intent younger than this is left for a later pass.
INTENT_GRACE = 10
# In a loop, a state that changed only by local jobs is written at most this often (seconds):
# each write is a new file, and a loop over many short local steps would spend its time on them.
STATE_EVERY = 0.25


class Study:
    """What a pass works on: the root, its state (mutable), its graph and its adapters."""

    def __init__(self, root: str, state: dict, graph: Graph, dag: dict, adapters: dict):
        self.root, self.state, self.graph, self.dag, self.adapters = root, state, graph, dag, adapters
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
        fresh = self.carried + self.events[self.logged:]
        if fresh:
            with open(os.path.join(self.root, "events.jsonl"), "ab") as handle:
                handle.write(b"".join(dumps(e) for e in fresh))
        self.committed += fresh
        self.carried, self.logged = [], len(self.events)

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
    """Read the state (always) and the DAG (once per loop: ``cache`` keeps it while dag.json is unchanged)."""
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise InvalidInput(f"{root}: not a directory; give a study directory made by mrender")
    remembered = cache.pop("state", None) if cache is not None else None
    if remembered is not None and _file_bytes(root) == remembered[0]:
        state = remembered[1]      # state.json is still, byte for byte, the file this loop left
    else:
        state = read_state(root)
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
        dag = _read_dag(path, state)
        graph = Graph.from_dag(dag)
        if cache is not None:
            cache.update(dag_key=key, dag=dag, graph=graph)
    steps = state["steps"]
    reused = remembered is not None and state is remembered[1]
    if not reused and (len(steps) != len(graph.order) or not steps.keys() >= set(graph.order)):
        missing = [sid for sid in graph.order if sid not in steps][:1]
        raise InvalidInput(f"{root}: state.json and dag.json do not describe the same steps "
                           f"(e.g. {missing or 'extra steps in state'}); restore the study's files")
    study = Study(root, state, graph, dag, adapters if adapters is not None else {})
    if cache is not None:
        study.carried = list(cache.get("pending_events") or [])
    return study


def _read_dag(path: str, state: dict) -> dict:
    """dag.json, checked against the sha256 mrender recorded in the state (cheaper than validating
    100,000 steps again, and it also catches a DAG swapped or edited after rendering)."""
    with open(path, "rb") as handle:
        data = handle.read()
    expected = state["study"].get("dag_sha256")
    if expected and hashlib.sha256(data).hexdigest() == expected:
        doc = loads(data)
        check_envelope(doc, DAG_SCHEMA, DAG_VERSION, path)
        return doc
    if expected:
        raise InvalidInput(f"{path}: does not match the DAG this study was rendered from "
                           "(edited or replaced?); render the study again")
    return parse_dag(data, path)


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
    """Maestro's status.csv: derived data (rebuilt from state.json at will), so no fsync."""
    text = status_csv(study.dag["steps"], study.state["steps"], now)
    write_atomic(os.path.join(study.root, "status.csv"), text.encode("utf-8"), durable=False)


def submit_ready(study: Study, now: datetime, local_slots: int) -> None:
    """Submit what is ready, up to the throttle; the intent is on disk before any job exists."""
    at = iso_utc(now)
    _reconcile_intents(study, now)
    ready = T.ready_steps(study.state, study.graph, at)
    if not ready:
        return
    steps = study.state["steps"]
    if study.state["settings"].get("dry"):
        for sid in ready:
            T.move(study.state, sid, S.DRYRUN, at, study.events, reason="dry run: scripts only")
        return
    chosen = _within_limits(study, ready, local_slots)
    if not chosen:
        return
    for sid in chosen:
        steps[sid]["intent"] = {"attempt": steps[sid]["attempts"] + 1, "at": at}
    # The intent is on disk before any job exists: a crash after this is reconciled.  It must
    # survive a power cut only for batch jobs: local jobs die with the machine anyway.
    durable = any(study.graph.adapter_key(sid) != "local" for sid in chosen)
    study.save(durable=durable)
    study.dirty = True
    _submit_all(study, chosen, at, now)


SUBMIT_WORKERS = 4   # batch submissions in flight at once: sbatch spends its time waiting on slurmctld


def _submit_all(study: Study, chosen: list[str], at: str, now: datetime) -> None:
    """Submit ``chosen`` (their intents are on disk), batch jobs a few at a time, then record the
    outcomes in order, in this thread.  After a scheduler that cannot be reached, nothing more is
    submitted; a submit that may have reached it (SubmitUncertain) keeps its intent."""
    steps = study.state["steps"]
    keys = study.graph.adapter_keys
    for key in dict.fromkeys(keys[sid] for sid in chosen):      # adapters made here, not in threads
        study.adapter(next(sid for sid in chosen if keys[sid] == key))
    stop = threading.Event()

    def call(sid):
        if stop.is_set():
            return "skipped", None
        try:
            return "ok", _call_submit(study, sid)
        except SubmitRefused as err:
            return "refused", err
        except SchedulerUnavailable as err:
            stop.set()
            return "down", err

    batch = [sid for sid in chosen if keys[sid] != "local"]
    outcomes = {}
    if len(batch) > 1:
        with ThreadPoolExecutor(SUBMIT_WORKERS) as pool:
            outcomes.update(zip(batch, pool.map(call, batch)))
    outcomes.update((sid, call(sid)) for sid in chosen if sid not in outcomes)
    failure = None
    for sid in chosen:
        kind, value = outcomes[sid]
        if kind == "ok":
            _record_job(study, sid, value, at)
        elif kind == "refused":
            _record_refusal(study, sid, value, at, now)
        else:
            if kind == "down":
                failure = failure or value
            if not (kind == "down" and isinstance(value, SubmitUncertain)) and steps[sid]["state"] == S.INITIALIZED:
                steps[sid]["intent"] = None   # never reached the scheduler: nothing is marked
    if failure is not None:
        raise failure


def _within_limits(study: Study, ready: list[str], local_slots: int) -> list[str]:
    steps = study.state["steps"]
    throttle = study.state["settings"].get("throttle") or 0
    flying = S.IN_FLIGHT
    in_flight = [sid for sid, e in steps.items() if e["state"] in flying]
    total = throttle - len(in_flight) if throttle > 0 else len(ready)
    keys = study.graph.adapter_keys
    local_free = local_slots - sum(1 for sid in in_flight if keys[sid] == "local")
    chosen = []
    for sid in ready:
        if len(chosen) >= total:
            break
        if study.graph.adapter_key(sid) == "local" and throttle <= 0:
            if local_free <= 0:
                continue
            local_free -= 1
        chosen.append(sid)
    return chosen


def _call_submit(study: Study, sid: str) -> str:
    entry = study.state["steps"][sid]
    script = study.graph.script(sid, study.root, study.scripts_dir, restart=bool(entry.get("use_restart")))
    workspace = study.graph.workspace(sid, study.root)
    return study.adapter(sid).submit(script, workspace, study.graph.steps[sid]["stem"])


def _record_refusal(study: Study, sid: str, err: SubmitRefused, at: str, now: datetime) -> None:
    entry = study.state["steps"][sid]
    attempt = entry["intent"]["attempt"]
    study.must_save = True
    message = str(err).strip() or "refused by the scheduler"
    limit = study.state["settings"].get("attempts") or 1
    if attempt >= limit:
        T.move(study.state, sid, S.FAILED, at, study.events, attempts=attempt, intent=None, ended=at,
               reason=f"submission refused {attempt} time(s): {message}")
        T.fail_descendants(study.state, study.graph, sid, S.FAILED, at, study.events, f"parent '{sid}' failed")
    else:
        wait = min(2 ** attempt, MAX_BACKOFF)
        entry.update(attempts=attempt, intent=None, not_before=iso_utc(now + timedelta(seconds=wait)),
                     reason=f"submission refused ({message}); attempt {attempt} of {limit}, next in {wait} s")


def _record_job(study: Study, sid: str, job_id: str, at: str) -> None:
    entry = study.state["steps"][sid]
    entry["jobs"] = entry["jobs"] + [job_id]
    T.move(study.state, sid, S.PENDING, at, study.events, job_id=job_id, attempts=entry["intent"]["attempt"],
           intent=None, submitted=at, started=None, ended=None, exit_code=None, not_before=None,
           reason=entry["reason"] if entry.get("use_restart") else None)


def _reconcile_intents(study: Study, now: datetime) -> None:
    """A crash between a scheduler accepting a job and the state write left an intent: find the job."""
    at = iso_utc(now)
    grace = study.state["settings"].get("submit_grace", INTENT_GRACE)
    settled = iso_utc(now - timedelta(seconds=grace))
    steps = study.state["steps"]
    pending = [sid for sid, e in steps.items() if e.get("intent") and e["state"] == S.INITIALIZED]
    if not pending:
        return
    by_adapter: dict[str, list[str]] = {}
    for sid in pending:
        by_adapter.setdefault(study.graph.adapter_key(sid), []).append(sid)
    for key, sids in by_adapter.items():
        found = study.adapter(sids[0]).find([study.graph.workspace(s, study.root) for s in sids])
        for sid in sids:
            workspace, stem = study.graph.workspace(sid, study.root), study.graph.steps[sid]["stem"]
            known = set(steps[sid]["jobs"])
            mine = [f.job_id for f in found if f.workspace == workspace and f.job_id not in known
                    and (key != "local" or f.name == stem)]
            intent = steps[sid]["intent"]
            if mine:
                job_id = max(mine, key=_job_order)
                steps[sid]["jobs"] = steps[sid]["jobs"] + [job_id]
                T.move(study.state, sid, S.PENDING, at, study.events, job_id=job_id, attempts=intent["attempt"],
                       submitted=intent["at"], intent=None, reason="found again after an interrupted submission")
            elif intent["at"] <= settled:
                steps[sid]["intent"] = None   # it never reached the scheduler: submit it again
                study.dirty = study.must_save = True


def _job_order(job_id: str):
    head = job_id.split(".")[0].split("_")[0]
    return (0, int(head), job_id) if head.isdigit() else (1, 0, job_id)


def poll(study: Study, now: datetime) -> None:
    """One status query per scheduler for every in-flight job, then Maestro's transitions."""
    at = iso_utc(now)
    groups: dict[str, list[str]] = {}
    for sid, entry in study.state["steps"].items():
        if entry["state"] in S.IN_FLIGHT and entry.get("job_id"):
            groups.setdefault(study.graph.adapter_key(sid), []).append(sid)
    for key, sids in groups.items():
        answers = study.adapter(sids[0]).status([study.ref(s) for s in sids])
        for sid in sids:
            status = answers.get(study.state["steps"][sid]["job_id"])
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


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class PassResult:
    def __init__(self, events: list, status: str, local_in_flight: int, in_flight: int):
        self.events, self.status = events, status
        self.local_in_flight, self.in_flight = local_in_flight, in_flight


def run_pass(root: str, *, poll_jobs: bool, submit: bool, clock=utcnow, adapters: dict | None = None,
             local_slots: int | None = None, cache: dict | None = None, csv_every: float = 0) -> PassResult:
    """Lock, load, (requests, poll,) submit, write.

    A loop passes ``cache`` (the parsed DAG; the state it wrote last, reused while state.json is
    the file it wrote) and ``csv_every``: status.csv is then rewritten at most that often, and
    always when the study ends.
    """
    slots = local_slots if local_slots is not None else (os.cpu_count() or 1)
    with lock_study(os.path.abspath(root)):
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
        status = T.study_status(study.state)
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
        flying = [sid for sid, e in study.state["steps"].items() if e["state"] in S.IN_FLIGHT]
        local = sum(1 for sid in flying if study.graph.adapter_key(sid) == "local")
        result = PassResult(events, status, local, len(flying))
        result.poll_interval = study.state["settings"].get("poll_interval", 60)
        return result


def _file_bytes(root: str) -> bytes | None:
    try:
        with open(os.path.join(root, STATE_FILE), "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _remember_state(cache: dict, study: Study) -> None:
    """Keep the state this pass left on disk, with its bytes: the next pass reuses it only if the
    file still has exactly those bytes (a stat can match after two quick writes by others)."""
    cache["state"] = (_file_bytes(study.root), study.state)
