"""Expanding more combinations of an already expanded spec (``core.expand_combinations``).

The spec is read back from the DAG (its text is in ``study.spec``), the new combinations are
appended to the DAG's parameter table with labels made from the spec's label templates, the
whole table is expanded again by the same code as the first time, and the instances that are
not in the study yet come out (``rounds.round_instances``).  So a new instance is named, labelled
and substituted exactly as it would have been had its combination been in the spec from the
start.  A combination already in the study (the same values, or labels that name the same
instances) adds nothing.
"""

import math
from dataclasses import dataclass, field

from mshared.errors import InvalidInput
from mshared.jsonio import dumps

from .params import LABEL_TOKEN, label_for

SCALARS = (str, int, float, bool)


class RowError(InvalidInput):
    """A given combination is not valid; ``row`` is its index among the given ones."""

    def __init__(self, row: int, message: str):
        super().__init__(message)
        self.row = row


@dataclass
class RowResult:
    """What one given combination did: the ids it added, or (a combination the study has) the
    ids of its instances already there."""

    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    @property
    def duplicate(self) -> bool:
        return not self.added


@dataclass
class Expansion:
    steps: list[dict]          # the new instances, parents first, each with its "round"
    table: dict                # the study's parameter table with the rows that added instances
    rows: list[RowResult]      # one per given combination, in order


def label_templates(spec: dict, keys: list[str]) -> dict[str, str]:
    """The label template of each parameter for new combinations: the spec's (global.parameters,
    the product block, extend.parameters) where it is a template, else '<KEY>.%%' (a list of
    labels, or a pgen's, says nothing about new values)."""
    from .validate import EXTEND_BLOCK, PRODUCT_BLOCK

    found = {}
    blocks = (spec.get("global.parameters"), spec.get(PRODUCT_BLOCK),
              (spec.get(EXTEND_BLOCK) or {}).get("parameters"))
    for block in blocks:
        for key, entry in (block or {}).items():
            label = (entry or {}).get("label")
            if isinstance(label, str):
                found[key] = label
    return {key: found.get(key, f"{key}.{LABEL_TOKEN}") for key in keys}


def check_row(index: int, row, keys: list[str]) -> None:
    """A combination names every parameter of the study, no other, each with a scalar value."""
    if not isinstance(row, dict):
        raise RowError(index, "a combination must be a JSON object of parameter: value")
    unknown = [key for key in row if key not in keys]
    if unknown:
        raise RowError(index, f"unknown parameter '{unknown[0]}'; the study's parameters are: {', '.join(keys)}")
    missing = [key for key in keys if key not in row]
    if missing:
        raise RowError(index, f"parameter '{missing[0]}' is missing; give every one of: {', '.join(keys)}")
    for key in keys:
        value = row[key]
        if not isinstance(value, SCALARS) or isinstance(value, float) and not math.isfinite(value):
            raise RowError(index, f"parameter '{key}': {value!r} is not a string or a number; give a "
                                  "scalar value")
        if isinstance(value, int) and not -2 ** 63 <= value < 2 ** 64:
            raise RowError(index, f"parameter '{key}': {value} is too large a number for the DAG; give it "
                                  "as a string to use it as text")


def combinations(dag: dict, rows: list, round_no: int, unfinished=frozenset()) -> Expansion:
    from . import core
    from .envres import make_substituter, resolve_environment
    from .rounds import round_instances
    from .specload import load_yaml
    from .validate import validate_spec

    study = dag["study"]
    source = (study.get("spec") or {}).get("filename") or "spec.yaml"
    old = study["parameters"]
    keys = old["order"]
    if not keys:
        raise InvalidInput(f"{source}: the study has no parameters, so it takes no combinations; give its "
                           "spec global.parameters, or extend.parameters to start without combinations")
    spec = load_yaml(study["spec"]["text"], source)
    validate_spec(spec, source)
    env = resolve_environment(spec.get("env"), study["specroot"], study["cwd"], source)
    templates = label_templates(spec, keys)

    table = {"order": list(keys), "count": old["count"],
             "params": {k: {**old["params"][k], "values": list(old["params"][k]["values"]),
                            "labels": list(old["params"][k]["labels"])} for k in keys}}
    index_of = {_canonical(keys, {k: old["params"][k]["values"][i] for k in keys}): i for i in range(old["count"])}
    given: list[int] = []            # table row of each given combination
    for n, row in enumerate(rows):
        check_row(n, row, keys)
        key = _canonical(keys, row)
        if key not in index_of:
            labels = {k: label_for(templates[k], row[k], 0) for k in keys}
            for k, label in labels.items():
                if label in (".", "..") or any(ord(ch) < 32 for ch in label) or "/" in label and _escapes(label):
                    raise RowError(n, f"parameter '{k}': the value {row[k]!r} gives the label {label!r}, which "
                                      "cannot name a workspace inside the study; change the value")
            for k in keys:
                table["params"][k]["values"].append(row[k])
                table["params"][k]["labels"].append(labels[k])
            index_of[key] = table["count"]
            table["count"] += 1
        given.append(index_of[key])

    substitute = make_substituter(env["values"])
    steps = [core._prepare_step(raw, substitute) for raw in spec["study"]]
    order = core._topological_order(steps, source)
    trace: dict = {}
    try:
        full = core._expand_steps(order, table, bool(study.get("hashws")), source, trace)
    except core._StepError as err:
        raise InvalidInput(f"{source}: {err}") from None
    existing = {step["id"]: step for step in dag["steps"]}
    new = round_instances(order, full, existing, round_no, frozenset(unfinished))
    _check_workspaces(new, existing, source)

    added: dict[int, list[str]] = {}
    for inst in new:
        if inst["params"]:
            added.setdefault(trace["rows"][inst["id"]], []).append(inst["id"])
    known = set(existing) | {inst["id"] for inst in new}
    results, claimed = [], set()
    for row in given:
        if row not in claimed and row in added:
            claimed.add(row)
            results.append(RowResult(added=added[row]))
        else:
            results.append(RowResult(existing=[i for i in _ids_of_row(row, trace["used"], table) if i in known]))
    keep = list(range(old["count"])) + sorted(r for r in claimed)
    return Expansion(new, _rows(table, keep), results)


def _canonical(keys, row) -> bytes:
    """A combination's identity: its values as JSON (1 and 1.0 and "1" differ, as in the DAG)."""
    return dumps([row[k] for k in keys])


def _escapes(label: str) -> bool:
    return label.startswith("/") or ".." in label.split("/")


def _ids_of_row(row: int, used: dict, table: dict) -> list[str]:
    from .core import _combo_string

    return [f"{name}_{_combo_string(keys, row, table)}" for name, keys in used.items() if keys]


def _rows(table: dict, keep: list[int]) -> dict:
    params = {k: {**entry, "values": [entry["values"][i] for i in keep], "labels": [entry["labels"][i] for i in keep]}
              for k, entry in table["params"].items()}
    return {"order": table["order"], "count": len(keep), "params": params}


def _check_workspaces(new: list[dict], existing: dict, source: str) -> None:
    taken = {step["workspace"] for step in existing.values()}
    for inst in new:
        if inst["workspace"] in taken:
            raise InvalidInput(f"{source}: step '{inst['id']}' would share the workspace '{inst['workspace']}' "
                               "with an instance the study has; change the combination's values")
        taken.add(inst["workspace"])
