"""Reuse what an earlier run of the same study finished (mrender --reuse, maestro run --reuse).

An instance of the new DAG is reused when an instance of the old study has the same content key
(mrender.keys) and ended FINISHED there, and none of its parents runs: its workspace is copied
into the new study (mrender.bringover) and it starts FINISHED, with ``reused_from`` saying where
it came from.  Everything else runs, and the plan says why, first reason that applies:

  new           no instance with this id in the old study
  parameter     its parameter values changed
  command       its command changed (cmd or restart, as rendered)
  whitespace    only whitespace of its command changed
  header        only its script header changed (resources, queue, walltime, job name, description)
  input         a declared input file changed
  touched       a declared input has a new modification time but the same size
  parent        a parent runs (or has another key)
  not-finished  same key, but it had not FINISHED in the old study (FAILED, CANCELLED, running...)

``whitespace``, ``header`` and ``touched`` are changes a user may not expect to matter (what
Snakemake 7.8's rerun triggers taught): a plan that runs more instances than it reuses because of
them alone says so in a warning, with how many and what to do.

The old study is only read (no lock: its state file is always whole), never changed.
"""

import os
from dataclasses import dataclass, field

from mshared import states as S
from mshared.errors import InvalidInput

from . import keys as K

PLAN_SCHEMA, PLAN_VERSION = "maestro.reuse-plan", 1
REUSE, RUN = "reuse", "run"
SAME = "same"
REASONS = ("new", "parameter", "command", "whitespace", "header", "input", "touched", "parent", "not-finished")
# reasons a user may not expect to rerun anything, with what to do about them
SURPRISING = {
    "whitespace": ("only whitespace changed in a command",
                   "the key counts every character of a script: undo the change to reuse them"),
    "header": ("only a script header changed (resources, queue, walltime, job name or description)",
               "the header is part of the key: undo the change to reuse them"),
    "touched": ("a declared input has a new modification time but the same size",
                "a file rewritten with the same bytes (a copy, a checkout) looks changed: declare it with "
                "'content: true' in the reuse block to compare its bytes instead"),
}


@dataclass
class OldStudy:
    root: str                  # absolute
    steps: dict                # id -> state entry
    keys: dict                 # id -> key record (meta/keys.json, or computed again)
    recomputed: bool = False   # keys computed again from dag.json (no keys.json of this format)
    scheduler: str = "local"   # its batch.type: the names of its scripts


@dataclass(slots=True)
class Decision:
    id: str
    step: str
    action: str                # REUSE or RUN
    why: str                   # SAME or one of REASONS
    detail: str
    source: str | None = None  # the old instance reused


@dataclass
class ReusePlan:
    old: OldStudy
    keys: dict                 # the new DAG's key records (write_study writes them)
    decisions: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def reused(self) -> list:
        return [d for d in self.decisions if d.action == REUSE]

    def counts(self) -> dict:
        out = {REUSE: 0, RUN: 0, "why": {}}
        for d in self.decisions:
            out[d.action] += 1
            if d.action == RUN:
                out["why"][d.why] = out["why"].get(d.why, 0) + 1
        return out


def read_old(path: str, dag: dict, target: str | None = None) -> OldStudy:
    """The study at ``path`` as a source of reuse for ``dag`` (to be rendered at ``target``).
    InvalidInput (65), with one line that starts '--reuse PATH:', when it is not a study, is
    damaged, is a study of another name, has a newer format, or is (or holds) ``target``."""
    from mshared.statefile import read_state
    from mshared.studydir import read_dag, study_root

    try:
        root = study_root(path)
        if target and _nested(root, target):
            raise InvalidInput("this is the new study's own directory, or they lie one inside the other; "
                               "render the new one elsewhere (-o): the old one is only read, never changed")
        state = read_state(root)
        old_name, name = state["study"].get("name"), dag["study"]["name"]
        if old_name != name:
            raise InvalidInput(f"a study of '{old_name}', not of '{name}'; --reuse takes an earlier run of the "
                               "same study (the same description.name)")
        records = K.read_keys(root, state)
        recomputed = records is None
        if recomputed:   # made before keys existed: the DAG gives them again, inputs as unknown
            records = K.instance_keys(read_dag(root, state), observe=_unknown)
    except InvalidInput as err:
        raise InvalidInput(f"--reuse {path}: {err}") from None
    return OldStudy(root, state["steps"], records, recomputed, state["study"].get("scheduler") or "local")


def _nested(one: str, other: str) -> bool:
    """The same directory, or one inside the other."""
    one, other = one.rstrip("/") + "/", other.rstrip("/") + "/"
    return one.startswith(other) or other.startswith(one)


def _unknown(item: dict) -> dict:
    """An input of a study that kept no keys: what it was then is not known, so it never matches."""
    return {"path": item["path"], "unknown": True}


def plan_reuse(dag: dict, keys: dict, old: OldStudy) -> ReusePlan:
    """Decide, for every instance of ``dag`` (with its key records ``keys``), reuse or run, and why."""
    old_keys, old_steps, done = old.keys, old.steps, S.FINISHED
    finished: dict[str, str] = {}           # key -> the first old FINISHED instance (by id) that has it
    for oid, record in old_keys.items():    # keys.json lists them by id
        if old_steps[oid]["state"] == done:
            finished.setdefault(record["key"], oid)
    plan = ReusePlan(old, keys)
    add = plan.decisions.append
    kinds: dict[str, frozenset] = {}         # running instance -> the reasons at its origin
    firsts: dict[str, str] = {}              # reason -> the first instance that has it itself
    for step in dag["steps"]:                # the loop of a 100,000-instance plan: kept plain
        sid = step["id"]
        key = keys[sid]["key"]
        running = [p for p in step["depends"] if p in kinds] if kinds else None
        mine = old_keys.get(sid)
        if not running:
            if mine is not None and mine["key"] == key and old_steps[sid]["state"] == done:
                add(Decision(sid, step["step"], REUSE, SAME, "", sid))
                continue
            source = finished.get(key)
            if source:
                add(Decision(sid, step["step"], REUSE, SAME, f"same key as '{source}'", source))
                continue
        why, detail = explain(keys[sid], mine, old_steps.get(sid), running or [])
        add(Decision(sid, step["step"], RUN, why, detail))
        if why == "parent":
            kinds[sid] = frozenset().union(*(kinds[p] for p in running)) if running else frozenset({why})
        else:
            kinds[sid] = frozenset({why})
            firsts.setdefault(why, sid)
    plan.warnings = _warnings(plan, kinds, firsts)
    return plan


def explain(record: dict, mine: dict | None, entry: dict | None, running: list) -> tuple[str, str]:
    """(reason, detail) for an instance that runs; ``mine`` is the old record of the same id."""
    if mine is None:
        return "new", "no instance with this id in the old study"
    new, was = record["parts"], mine["parts"]
    if new.get("params") != was.get("params"):
        return "parameter", "its parameter values differ from the old instance's"
    if new.get("command") != was.get("command"):
        if new.get("spacing") == was.get("spacing"):
            return "whitespace", "only whitespace of its command differs"
        return "command", "its command differs"
    if new.get("header") != was.get("header"):
        return "header", "only its script header differs (resources, queue, walltime, job name, description)"
    if new.get("inputs") != was.get("inputs"):
        return input_change(record.get("inputs") or [], mine.get("inputs") or [])
    if running:
        more = f" (and {len(running) - 1:,} more)" if len(running) > 1 else ""
        return "parent", f"parent '{running[0]}' runs{more}"
    if record["key"] != mine["key"]:
        return "parent", "a parent has another key than in the old study"
    state = (entry or {}).get("state", "missing")
    return "not-finished", f"it was {state} in the old study"


def input_change(now: list, then: list) -> tuple[str, str]:
    """Which declared input changed, and how; 'touched' when only its modification time did."""
    before = {item["path"]: item for item in then}
    for item in now:
        old = before.pop(item["path"], None)
        if old is None:
            return "input", f"input '{item['path']}' is newly declared"
        if old == item:
            continue
        if "sha256" in item and "sha256" in old:
            return "input", f"input '{item['path']}': its content changed"
        if "size" in item and "size" in old:
            if item["size"] != old["size"]:
                return "input", f"input '{item['path']}': size {old['size']:,} -> {item['size']:,} bytes"
            return "touched", f"input '{item['path']}': new modification time, same size"
        if old.get("unknown"):
            return "input", f"input '{item['path']}': not known from the old study (it kept no keys)"
        return "input", f"input '{item['path']}': now compared {'by content' if 'sha256' in item else 'by size and time'}"
    if before:
        return "input", f"input '{next(iter(before))}' is no longer declared"
    return "input", "its declared inputs changed"


def _warnings(plan: ReusePlan, kinds: dict, firsts: dict) -> list[str]:
    """No silent mass reruns: when more instances run than are reused, say which of them run only
    because of changes a user may not expect to matter."""
    counts = plan.counts()
    if counts[RUN] <= counts[REUSE]:
        return []
    out = []
    for reason, (what, hint) in SURPRISING.items():
        alone = sum(1 for found in kinds.values() if reason in found and found <= SURPRISING.keys())
        if alone:
            out.append(f"{alone:,} of the {counts[RUN]:,} instances to run run again only because {what} "
                       f"(first: '{firsts[reason]}'); {hint}")
    return out


def apply(plan: ReusePlan, state: dict, dag: dict) -> list[tuple[str, str, tuple]]:
    """Mark the reused instances FINISHED in the new ``state`` (mrender's, before it is written),
    with where they came from; returns what to copy: (old workspace, new workspace relative to
    the new root, names not to copy: the new scripts)."""
    from mruntime.scripts import script_names

    old = plan.old
    by_id = {s["id"]: s for s in dag["steps"]} if plan.reused else {}
    schedulers = {state["study"]["scheduler"], old.scheduler}
    copies = []
    for decision in plan.reused:
        was = old.steps[decision.source]
        came = was.get("reused_from") or {}
        state["steps"][decision.id].update(
            state=S.FINISHED, started=was.get("started"), ended=was.get("ended"),
            exit_code=was.get("exit_code", 0), jobs=list(was.get("jobs") or []),
            reused_from={"study": old.root, "step": decision.source,
                         "job_id": was.get("job_id") or came.get("job_id")})
        step = by_id[decision.id]
        # the new study's scripts, and the old one's of the same names (they name the old directory)
        skip = set()
        for kind in schedulers:
            main = script_names(step, kind)[0]                  # <stem>.<ext>
            skip.update((main, f"{step['stem']}.restart.{main[len(step['stem']) + 1:]}"))
        workspace = K.workspace_of(old.keys, decision.source, os.path.join(old.root, K.KEYS_FILE))
        copies.append((os.path.join(old.root, workspace), step["workspace"], tuple(sorted(skip))))
    return copies
