"""mextend's core: more parameter combinations for a live or finished study, and the requests of
its decide steps (the same code, for mmonitor's passes).

``extend_study`` is the whole of the mextend command but its input and output.  New instances
are expanded by mexpand's core (``expand_combinations``: names, labels, tokens, funnels) and
their workspaces and scripts written by mrender's core (``add_steps``); the new DAG and the new
state (the steps INITIALIZED, the round recorded) are then committed together under the study
lock (``mshared.studydir.edit_study``): a crash leaves the study as it was or as it is after, and
the engine submits the new steps exactly once as any others.  A running loop finds the new
state at its next pass; ``wake`` makes a waiting one look at once.

``apply_requests`` reads what the decide instances that finished asked for (next.jsonl,
encore.yaml: mextend.requests) and grows the study the same way, recording in the same commit
that each request was read (``state.extension.requests``): each is applied exactly once, also
when the process applying it is killed in between.
"""

from dataclasses import dataclass, field
from datetime import datetime

from mshared import states as S
from mshared.contracts import dump_dag
from mshared.errors import InvalidInput
from mshared.statefile import initial_step
from mshared.times import iso_utc

from . import record, requests, view
from .wake import wake, woken  # noqa: F401 (part of this API: mmonitor's loops wait on them)

__all__ = ["extend_study", "apply_requests", "set_limits", "loop_verdict", "describe", "decide_ids", "extend_block",
           "wake", "woken", "Extension"]

OUTPUT_SCHEMA, OUTPUT_VERSION = "maestro.extension", 1


@dataclass
class Extension:
    """What ``extend_study`` did."""

    round: int | None                 # the round it made; None when every combination was there
    records: list[dict]               # per instance, mextend's NDJSON output (docs/mextend.md)
    duplicates: list[tuple[str, dict, list[str]]] = field(default_factory=list)  # (where, combination, ids)


@dataclass
class _Growth:
    round: int | None
    expansion: object
    dag: dict


def extend_study(root: str, combinations: list, *, source: str = "<stdin>", now: datetime) -> Extension:
    """Add ``combinations`` ([(line, {parameter: value})]) to the study at ``root``.

    Returns an ``Extension``: the round it made and one output record per instance that a line
    added (or, for a combination the study has already, per instance it has: ``added`` false).
    Raises InvalidInput (65) naming ``source`` and the line for a combination that is not valid,
    and for a study that was cancelled, whose DAG changed underneath, or whose round limit is
    reached; StateBusy (75) when the lock stays held.  Nothing changes when it raises.
    CLI twin: `mextend STUDY_DIR [FILE]`.
    """
    from mshared.studydir import edit_study, study_root

    if not combinations:
        study_root(root)            # still a study directory, or the error that says it is not
        return Extension(None, [])

    grown = _Grown()

    def change(state, dag):
        if record.cancelled(state):
            raise InvalidInput(f"{root}: the study was cancelled; it takes no new combinations "
                               "(`maestro rerun` lifts a cancel)")
        grown.start(state, dag)
        growth = _grow(root, state, dag, combinations, by="mextend", at=iso_utc(now),
                       where=lambda line: f"{source}:{line}")
        out = _records(growth, combinations, dag, source)
        return out, (dump_dag(dag, source) if growth.round else None)

    result = edit_study(root, change)
    if result.round:
        _after_commit(root, grown)
    return result


def apply_requests(root: str, *, now: datetime) -> list[dict]:
    """Read and apply the requests of the study's decide instances that FINISHED and whose
    request was not read yet, in DAG order, each making a round.  Returns one record per request
    read: {"step", "status", ...} as stored in state.extension.requests (applied, done, none,
    limit, refused with a reason).  A refused request changes nothing but its record.
    Raises InvalidInput (65) for a study that is not sound, StateBusy (75)."""
    from mshared.studydir import edit_study

    grown = _Grown()

    def change(state, dag):
        grown.start(state, dag)
        names = set((dag["study"].get("extend") or {}).get("decide") or ())
        done = record.get(state)["requests"]
        steps = state["steps"]
        todo = [s for s in dag["steps"] if s["step"] in names and s["id"] not in done
                and steps[s["id"]]["state"] == S.FINISHED]
        if not todo:
            return [], None
        outcomes, grew = [], False
        for step in todo:
            outcome = _apply_one(root, state, dag, step, iso_utc(now))
            record.stored(state)["requests"][step["id"]] = outcome
            grew = grew or outcome["status"] == "applied"
            outcomes.append({"step": step["id"], **outcome})
        return outcomes, (dump_dag(dag, root) if grew else None)

    outcomes = edit_study(root, change)
    if any(o["status"] == "applied" for o in outcomes):
        _after_commit(root, grown)
    return outcomes


def set_limits(root: str, *, max_rounds: int | None = None, done: bool | None = None) -> dict:
    """Set the study's round limit (``max_rounds``, over the spec's extend.max_rounds) and whether
    its loop is done (an open study's loop then stops waiting).  Returns {name: (old, new)} of what
    changed.  Raises InvalidInput, StateBusy.  CLI twin: `mextend --max-rounds N --done`."""
    from mshared.studydir import edit_state

    def change(state, dag):
        changed = {}
        current = record.get(state)
        if max_rounds is not None and record.limit(state, dag) != max_rounds:
            changed["max_rounds"] = (record.limit(state, dag), max_rounds)
            record.stored(state)["max_rounds"] = max_rounds
        if done is not None and current["done"] != done:
            changed["done"] = (current["done"], done)
            record.stored(state)["done"] = done
        return changed

    changed = edit_state(root, change)
    if changed:
        wake(root)
    return changed


def loop_verdict(state: dict, dag_extend: dict | None) -> str:
    """What a loop does with a study that has nothing in flight: "run" (steps are open), "wait"
    (an open study that is not done, cancelled or at its round limit: mextend may come), or
    "end".  ``dag_extend`` is the DAG's study.extend."""
    if any(entry["state"] not in S.TERMINAL for entry in state["steps"].values()):
        return "run"
    if not (dag_extend or {}).get("open") or record.cancelled(state):
        return "end"
    current = record.get(state)
    limit = current.get("max_rounds", (dag_extend or {}).get("max_rounds"))
    if current["done"] or (limit is not None and current["round"] >= limit):
        return "end"
    return "wait"


def describe(outcome: dict) -> tuple[bool, str | None]:
    """(is it a problem, one line for people) of an ``apply_requests`` record; None: nothing to say."""
    step, status = outcome.get("step"), outcome["status"]
    if status == "applied":
        return False, f"{step}: round {outcome['round']}: {outcome['added']} instance(s) added ({outcome['file']})"
    if status == "done":
        return False, f"{step}: the loop is done ({outcome['file']})"
    if status == "none":
        return False, None
    where = f"{step}: " if step else ""
    what = {"limit": "request not applied", "refused": "request refused"}.get(status, "requests not applied")
    return True, f"{where}{what}: {outcome.get('reason')}"


def decide_ids(root: str) -> list[str]:
    """The ids of the study's decide instances, from a small derived file (mextend.view)."""
    return view.decide_ids(root)


def extend_block(root: str) -> dict | None:
    """The DAG's study.extend (None: a study without an extend block), from the same file."""
    return view.load(root)["extend"]


# ---------------------------------------------------------------------------------------------

def _grow(root: str, state: dict, dag: dict, combinations: list, *, by: str, at: str, where) -> _Growth:
    """Expand ``combinations`` into ``dag`` and ``state`` (in memory) and write the new scripts;
    the caller commits.  InvalidInput names the combination through ``where(line)``."""
    from mexpand.core import RowError, expand_combinations
    from mrender.core import add_steps

    round_no = record.next_round(state)
    unfinished = {sid for sid, entry in state["steps"].items() if entry["state"] not in S.TERMINAL}
    try:
        expansion = expand_combinations(dag, [row for _, row in combinations], round_no=round_no,
                                        unfinished=unfinished)
    except RowError as err:
        raise InvalidInput(f"{where(combinations[err.row][0])}: {err}") from None
    if not expansion.steps:
        return _Growth(None, expansion, dag)
    limit = record.limit(state, dag)
    if limit is not None and round_no > limit:
        raise InvalidInput(f"{root}: round {round_no} would pass the study's limit of {limit} rounds; "
                           "raise it with `mextend --max-rounds N`")
    add_steps(dag, expansion.steps, root, scripts_dir=state["study"].get("scripts_dir"))
    dag["steps"] += expansion.steps
    dag["study"]["parameters"] = expansion.table
    for inst in expansion.steps:
        state["steps"][inst["id"]] = initial_step()
    record.add_round(state, round_no, at=at, by=by, added=len(expansion.steps),
                     combinations=sum(1 for r in expansion.rows if r.added))
    return _Growth(round_no, expansion, dag)


def _apply_one(root: str, state: dict, dag: dict, step: dict, at: str) -> dict:
    """Read one decide instance's request and grow the study with it; its record."""
    spec = dag["study"].get("spec") or {}
    filename = spec.get("filename") or "spec.yaml"
    names = (filename, filename.rsplit(".", 1)[0], dag["study"]["name"])
    try:
        request = requests.read(root, step["workspace"], names)
    except InvalidInput as err:
        return {"status": "refused", "reason": str(err)}
    base = {"file": request.file} if request.file else {}
    if request.done:
        record.stored(state)["done"] = True
        return {"status": "done", **base}
    if not request.rows:
        return {"status": "none", **base}
    if record.cancelled(state):
        return {"status": "refused", "reason": "the study was cancelled", **base}
    limit = record.limit(state, dag)
    round_no = record.next_round(state)
    if limit is not None and round_no > limit:
        return {"status": "limit", "reason": f"round {round_no} would pass the limit of {limit} rounds", **base}
    try:
        growth = _grow(root, state, dag, request.rows, by=step["id"], at=at, where=request.where)
    except InvalidInput as err:
        return {"status": "refused", "reason": str(err), **base}
    if growth.round is None:
        return {"status": "none", "reason": "every combination is in the study already", **base}
    return {"status": "applied", "round": growth.round, "added": len(growth.expansion.steps), **base}


def _records(growth: _Growth, combinations: list, dag: dict, source: str) -> Extension:
    """mextend's output: per line, the instances it added, or those the study had."""
    expansion = growth.expansion
    index = {s["id"]: s for s in dag["steps"]}

    def out(ident, line, added):
        step = index[ident]
        return {"schema": OUTPUT_SCHEMA, "version": OUTPUT_VERSION, "id": ident, "step": step["step"],
                "workspace": step["workspace"], "params": step["params"], "round": step.get("round", 1),
                "line": line, "added": added}

    records, duplicates = [], []
    for (line, row), result in zip(combinations, expansion.rows):
        if result.added:
            records += [out(ident, line, True) for ident in result.added]
        else:
            records += [out(ident, line, False) for ident in result.existing]
            duplicates.append((f"{source}:{line}", row, result.existing))
    records += [out(inst["id"], None, True) for inst in expansion.steps if not inst["params"]]
    return Extension(growth.round, records, duplicates)


class _Grown:
    """What one commit added, for the derived data made after it (the content keys)."""

    def __init__(self):
        self.old_sha, self.dag, self.old_ids = None, None, set()

    def start(self, state: dict, dag: dict) -> None:
        self.old_sha, self.dag, self.old_ids = state["study"].get("dag_sha256"), dag, set(state["steps"])

    @property
    def steps(self) -> list[dict]:
        return [s for s in self.dag["steps"] if s["id"] not in self.old_ids] if self.dag else []


def _after_commit(root: str, grown: _Grown | None = None) -> None:
    """Derived data and the wake-up, once the commit is on disk."""
    view.load(root)            # remake the small view for the loops, from the new dag.json
    wake(root)
    if grown is not None and grown.steps and grown.old_sha:
        from mrender.core import add_keys
        from mshared.statefile import read_state

        try:                   # derived: a later --reuse computes stale keys again
            add_keys(root, grown.old_sha, grown.dag, grown.steps, read_state(root)["study"]["dag_sha256"])
        except (OSError, InvalidInput):
            pass
