#!/usr/bin/env python3
"""The floor for `mexpand`: the least work that turns the benchmark spec into its instance list.

    python bench/floor_expand.py SPEC > dag.json

Reads the spec with yaml.CSafeLoader, substitutes env variables, expands the steps that use the
zipped global.parameters (directly or through a parent), resolves funnel dependencies (`step_*`)
and prints the instances (id, step, depends, workspace, cmd, params) as JSON.  No validation, no
error messages, no labels block, no pgen, no hashws: it is a yardstick, not a tool.  It is exact
for specs shaped like bench/gen_study.py's and close enough for simple Maestro specs.
"""

import re
import sys

import yaml

try:
    import orjson

    def dumps(doc) -> bytes:
        return orjson.dumps(doc) + b"\n"
except ImportError:  # pragma: no cover - orjson is in the project's venv
    import json

    def dumps(doc) -> bytes:
        return (json.dumps(doc, separators=(",", ":")) + "\n").encode()

_TOKEN = re.compile(r"\$\(([^)]+)\)")


def _substitute(text: str, mapping: dict) -> str:
    if "$(" not in text:
        return text
    return _TOKEN.sub(lambda m: mapping.get(m.group(1), m.group(0)), text)


def expand(spec: dict) -> list[dict]:
    variables = {k: str(v) for k, v in ((spec.get("env") or {}).get("variables") or {}).items()}
    params = spec.get("global.parameters") or {}
    keys = sorted(params)
    rows = len(next(iter(params.values()))["values"]) if params else 0
    values = {k: params[k]["values"] for k in keys}
    labels = {}
    for key in keys:
        label = params[key].get("label", f"{key}.%%")
        if isinstance(label, list):
            labels[key] = [str(x) for x in label]
        else:
            labels[key] = [label.replace("%%", str(v)) for v in values[key]]

    used: dict[str, list[str]] = {}
    ids_of: dict[str, list[str]] = {}
    out: list[dict] = []
    for raw in spec["study"]:
        name, run = raw["name"], raw["run"]
        cmd = _substitute(run["cmd"], variables)
        depends = run.get("depends") or []
        funnels = [d[:-2] if d.endswith("_*") else d[:-1] for d in depends if d.endswith("*")]
        direct = [d for d in depends if not d.endswith("*")]
        mine = {k for k in keys if f"$({k})" in cmd or f"$({k}.label)" in cmd}
        for parent in direct:
            mine.update(used[parent])
        used[name] = mine = sorted(mine)
        fan_in = [i for parent in funnels for i in ids_of[parent]]
        if not mine:
            ids_of[name] = [name]
            out.append({"id": name, "step": name, "workspace": name, "cmd": cmd, "params": {},
                        "depends": direct + fan_in})  # parents of an unparameterized step are unparameterized
            continue
        instances: dict[str, dict] = {}
        for row in range(rows):
            combo = ".".join(labels[k][row] for k in mine)
            ident = f"{name}_{combo}"
            if ident in instances:
                continue
            mapping = {k: str(values[k][row]) for k in mine}
            mapping.update({f"{k}.label": labels[k][row] for k in mine})
            parents = [p if not used[p] else f"{p}_{'.'.join(labels[k][row] for k in used[p])}"
                       for p in direct]
            instances[ident] = {"id": ident, "step": name, "workspace": f"{name}/{combo}",
                                "cmd": _substitute(cmd, mapping),
                                "params": {k: values[k][row] for k in mine},
                                "depends": parents + fan_in}
        ids_of[name] = list(instances)
        out.extend(instances.values())
    return out


def load(path: str) -> dict:
    with open(path, "rb") as handle:
        return yaml.load(handle, Loader=yaml.CSafeLoader)  # noqa: S506 - a safe loader


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: floor_expand.py SPEC\n")
        return 2
    instances = expand(load(argv[0]))
    sys.stdout.buffer.write(dumps({"steps": instances}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
