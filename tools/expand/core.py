"""mexpand's core: a spec in, a DAG document (plain data) out.

``expand`` is pure: a loaded spec (plain data) in, the DAG and its warnings out.  ``expand_file``
is the whole of the mexpand command but the output: it reads a spec file (or stdin) with the
same limits and errors, runs the pgen file if one is given, and expands.

Follows Maestro 1.2.1's Study._stage: a step is expanded over the parameters it uses directly,
through its normal parents, or through the workspaces it references; funnel parents (`step_*`)
contribute every instance but no parameters.
"""

import hashlib
import os
import re

from mshared import bundlesettings, memory
from mshared.contracts import CONTROL, DAG_SCHEMA, DAG_VERSION
from mshared.errors import InvalidInput

from . import inputs as declared_inputs
from . import naming
from .envres import make_substituter, resolve_environment
from .more import RowError  # noqa: F401 (a bad row of expand_combinations: part of this API)
from .params import MAX_COMBINATIONS, MAX_INSTANCES, table_from_spec
from .rounds import ROUND_TOKENS, with_round
from .tokens import typo_warnings
from .validate import BUNDLE_BLOCK, EXTEND_BLOCK, INT_KEYS, PRODUCT_BLOCK, bundle_settings, validate_spec

# Memory to expand a study, for the check against the process's limit (bench/README.md has the
# figures behind these): a base, and per instance a fixed part plus its text a few times over.
BASE_MEMORY = 200 << 20
INSTANCE_MEMORY = 1536
WORKSPACE_REF = re.compile(r"\$\(([-!\$%\^&\*\(\)_\+\|~=`{}\[\]:;<>\?,\.\/\w]+)\.workspace\)")
FUNNEL = re.compile(r"_\*|\*")
RESOURCE_KEYS = (*INT_KEYS, "walltime", "exclusive", "reservation", "qos", "bind", "bind gpus",
                 "nested", "waitable", "priority")


def expand_file(spec: str, *, cwd: str, stdin=None, pgen: str | None = None, pargs=(),
                hashws: bool = False, max_instances: int = MAX_INSTANCES) -> tuple[dict, list[str]]:
    """The DAG and the warnings of the spec file ``spec`` (a path, or '-' to read ``stdin``, a
    binary stream, sys.stdin.buffer by default), as the mexpand command makes them.

    ``cwd`` is the directory a relative OUTPUT_PATH (and a spec read from stdin) is taken from
    (mexpand: its working directory).
    ``pgen`` is a Python file defining get_custom_generator(env, **kwargs), run here with
    ``pargs`` ("KEY:VALUE" strings); its parameters replace the spec's, as Maestro's --pgen.
    Raises InvalidInput (exit 65) for a file that cannot be read, is too large, is not UTF-8 or
    YAML, or is not a valid spec, and for a failing pgen, and for a spec that would make more
    than ``max_instances`` step instances (checked before any is made).  CLI twin: `mexpand SPEC`.
    """
    from .specload import load_yaml, read_spec

    cwd = os.path.abspath(cwd)
    if spec == "-" and stdin is None:
        import sys

        stdin = sys.stdin.buffer
    text, source, path = read_spec(spec, stdin)
    specroot = os.path.dirname(path) if path else cwd
    data = load_yaml(text, source)
    warnings = validate_spec(data, source)
    env = resolve_environment(data.get("env"), specroot, cwd, source)
    generated = None
    if pgen:   # the pgen sees the spec's env, so it runs on a spec already checked
        from .pgen import parse_pargs, run_pgen

        parent = os.path.normpath(os.path.join(cwd, (env["output_path"] or ".").replace("$(SPECROOT)", specroot)))
        generated = run_pgen(pgen, parse_pargs(pargs), {**env["typed"], "OUTPUT_PATH": parent}, parent, specroot)
    return _expand_valid(data, warnings, env, source=source, spec_text=text, spec_path=path,
                         specroot=specroot, cwd=cwd, hashws=hashws, pgen=generated, max_instances=max_instances)


def expand(spec: dict, *, source: str, spec_text: str, spec_path: str | None, specroot: str,
           cwd: str, hashws: bool = False, pgen: dict | None = None,
           max_instances: int = MAX_INSTANCES) -> tuple[dict, list[str]]:
    """Expand ``spec`` (loaded YAML) into a DAG; returns (dag, warnings), each warning once.

    ``pgen``, when given, is {"filename", "text", "pargs", "table"} and replaces the spec's
    parameters, as Maestro's --pgen does.  Raises InvalidInput (65) for an invalid spec.
    """
    warnings = validate_spec(spec, source)
    env = resolve_environment(spec.get("env"), specroot, cwd, source)
    return _expand_valid(spec, warnings, env, source=source, spec_text=spec_text, spec_path=spec_path,
                         specroot=specroot, cwd=cwd, hashws=hashws, pgen=pgen, max_instances=max_instances)


def parse_yaml(text: str, source: str):
    """YAML text read as mexpand reads a spec (a safe loader; caps on size, nesting and aliases);
    InvalidInput (65) naming ``source`` when it is not sound.  Caller: mextend (encore.yaml)."""
    from .specload import load_yaml

    return load_yaml(text, source)


def expand_combinations(dag: dict, rows: list, *, round_no: int, unfinished=()):
    """More combinations for the study of ``dag`` (a DAG made by ``expand``, with any earlier
    additions): ``rows`` are {parameter: value} dicts naming every parameter of the study;
    ``unfinished`` the ids of the study's instances that have not ended (a round's funnel waits
    for them too).

    Returns a ``more.Expansion``: the new instances (parents first, each with its ``round``,
    ``round_no``), the parameter table with the rows that added any, and for each row the ids it
    added, or, for a combination the study has, the ids it has.  New instances are expanded by
    the same code as the spec (names, labels from the spec's label templates, tokens, funnels;
    rounds.py says what a funnel does).  Raises more.RowError (an InvalidInput, 65, with the
    row's index) for a row with unknown or missing parameters, a value that is not a scalar or a
    label that cannot name a workspace; InvalidInput for a study without parameters.
    CLI twin: `mextend STUDY_DIR`.
    """
    from .more import combinations

    return combinations(dag, rows, round_no, unfinished)


def _expand_valid(spec: dict, warnings: list[str], env: dict, *, source: str, spec_text: str,
                  spec_path: str | None, specroot: str, cwd: str, hashws: bool, pgen: dict | None,
                  max_instances: int = MAX_INSTANCES):
    """``expand`` for a spec already validated (``warnings``) with its resolved ``env``."""
    substitute = make_substituter(env["values"])
    if not pgen:
        _check_combinations(spec, source)
    table = pgen["table"] if pgen else table_from_spec(spec.get("global.parameters"), spec.get(PRODUCT_BLOCK))
    extend = _extend_block(spec, table, bool(pgen), source)
    _check_labels(table, source)
    steps = [_prepare_step(raw, substitute) for raw in spec["study"]]
    declared = declared_inputs.declared(spec, substitute)   # not seen when finding used parameters
    for step in steps:
        step["inputs"] = declared.get(step["name"])
    order = _topological_order(steps, source)
    _check_instances(order, table, max_instances, source)
    try:
        instances = [with_round(inst, 1) for inst in _expand_steps(order, table, hashws, source)]
    except _StepError as err:
        raise InvalidInput(f"{source}: {err}") from None
    declared_inputs.resolve(instances, cwd, source, InvalidInput)
    if extend is not None:
        _check_decide(extend, steps, source)
    bundle = bundle_settings(spec, source)
    if bundle is not None:
        _check_bundle(bundle, instances, steps, source)
    known = set(env["values"]) | set(table["order"]) | {s["name"] for s in steps} | set(ROUND_TOKENS)
    warnings += typo_warnings(instances, known, source)
    batch = dict(spec.get("batch") or {})
    batch.setdefault("type", "local")
    study = {
        "name": spec["description"]["name"],
        "description": spec["description"]["description"],
        "spec": {
            "path": spec_path,
            "filename": _spec_filename(spec_path),
            "sha256": hashlib.sha256(spec_text.encode("utf-8", "surrogatepass")).hexdigest(),
            "text": spec_text,
        },
        "specroot": specroot,
        "output_path": env["output_path"],
        "cwd": cwd,
        "batch": batch,
        "env": {key: env[key] for key in ("variables", "labels", "sources")}
        | {"dependencies": {"paths": env["paths"], "git": env["git"]}},
        "parameters": table,
        "pgen": None if not pgen else {k: pgen[k] for k in ("filename", "text", "pargs")},
        "hashws": hashws,
    }
    if extend is not None:
        study["extend"] = extend
    if bundle is not None:      # only with the block: the DAGs of other specs stay as they were
        study["bundle"] = bundle
    dag = {"schema": DAG_SCHEMA, "version": DAG_VERSION, "study": study, "steps": instances}
    return dag, list(dict.fromkeys(warnings))   # each warning once, in the order found


def _extend_block(spec: dict, table: dict, pgen: bool, source: str) -> dict | None:
    """The DAG's ``study.extend`` (None without the block).  ``extend.parameters`` names the
    parameters of a study that starts without combinations: the table gets them, with no rows."""
    block = spec.get(EXTEND_BLOCK)
    if block is None:
        return None
    params = block.get("parameters")
    if params:
        if pgen:
            raise InvalidInput(f"{source}: extend.parameters and --pgen both give the study's parameters; "
                               "use one of them")
        table["order"] = list(params)
        table["params"] = {key: {"name": key, "values": [], "labels": []} for key in params}
    decide = block.get("decide") or []
    return {"decide": [decide] if isinstance(decide, str) else list(decide),
            "max_rounds": block.get("max_rounds"), "result": block.get("result"),
            "open": bool(block.get("open", False))}


def _check_decide(extend: dict, steps: list[dict], source: str) -> None:
    names = {step["name"] for step in steps}
    for name in extend["decide"]:
        if name not in names:
            raise InvalidInput(f"{source}: extend.decide names '{name}', which is not a step of the study; "
                               f"steps are: {', '.join(names)}")


def _check_bundle(bundle: dict, instances: list[dict], steps: list[dict], source: str) -> None:
    """Which steps can fit the spec's bundle: refused here, before anything is written, when one
    named in ``bundle.steps`` never can, or none could.  A study without instances yet (extend)
    has only its step names checked."""
    where = f"{source}: {BUNDLE_BLOCK}"
    if instances:
        bundlesettings.check_steps(bundle, instances, where)
        return
    names = {step["name"] for step in steps}
    for name in bundle["steps"] or ():
        if name not in names:
            raise InvalidInput(f"{where}.steps: there is no step {name!r} in the study")


def _check_combinations(spec: dict, source: str) -> None:
    """A cross product grows fast: refuse one beyond the cap before building it."""
    total = 1
    zipped = spec.get("global.parameters") or {}
    if zipped:
        total = len(next(iter(zipped.values()))["values"])
    for entry in (spec.get(PRODUCT_BLOCK) or {}).values():
        total *= len(entry["values"])
        if total > MAX_COMBINATIONS:
            raise InvalidInput(f"{source}: the parameters make more than {MAX_COMBINATIONS} combinations "
                               "(global.parameters.product multiplies them); reduce them")


def _check_instances(order: list[dict], table: dict, cap: int, source: str) -> None:
    """Refuse a study of more than ``cap`` step instances before making any: each instance costs
    memory here and files in the study.  The count is exact (a step that uses some of the
    parameters has one instance per distinct combination of those), worked out from the labels
    only when the quick bound (every table row for every step that uses a parameter) is over."""
    keys, rows = table["order"], table["count"]
    used: dict[str, set[str]] = {}
    for step in order:
        params = _used_params(step, keys)
        for parent in step["depends"]:
            params.update(used[parent])
        for ref in step["ws_refs"]:
            if ref not in set(step["funnels"]):
                params.update(used[ref])
        used[step["name"]] = params
    total = sum(rows if params else 1 for params in used.values())
    if total > cap:
        total = _exact_instances(used, keys, rows, table)
    if total > cap:
        raise InvalidInput(f"{source}: the study would have {total:,} step instances, more than the {cap:,} "
                           "allowed (each takes memory while it is expanded, and files in the study); use "
                           "fewer combinations, or raise the cap with --max-instances N (or "
                           "MAESTRO_MAX_INSTANCES=N)")
    text = max((sum(len(v) for v in step["fields"].values() if isinstance(v, str)) for step in order), default=0)
    need = BASE_MEMORY + total * (INSTANCE_MEMORY + 3 * text)
    fits, limit = memory.fits(need)
    if not fits:
        raise InvalidInput(f"{source}: the study's {total:,} step instances need about {need / 2**30:.1f} GiB "
                           f"to expand, more than the {limit / 2**30:.1f} GiB this process may use (ulimit "
                           "-v or -d); use fewer combinations, or raise the limit")


def _exact_instances(used: dict, keys: list[str], rows: int, table: dict) -> int:
    """Instances of every step: a step that uses some parameters has one per distinct combination."""
    total = 0
    for params in used.values():
        labels = [table["params"][k]["labels"] for k in sorted(params)]
        total += len(set(zip(*labels))) if params and len(params) < len(keys) else (rows if params else 1)
    return total


def _check_labels(table: dict, source: str) -> None:
    """A label of '.' or '..' would name a directory that is not the instance's own."""
    for key, entry in table["params"].items():
        for label in entry["labels"]:
            if label in (".", "..") or CONTROL.search(label):
                raise InvalidInput(f"{source}: parameter '{key}' has the label {label!r}, which cannot name "
                                   "a workspace; change the label (e.g. 'KEY.%%')")


class _StepError(ValueError):
    """A problem found while expanding one step; expand() adds the file name."""


def _spec_filename(path: str | None) -> str:
    if not path:
        return "spec.yaml"
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _prepare_step(raw: dict, substitute) -> dict:
    """Apply the env to every string of the step, and split its dependencies."""
    run = raw["run"]
    fields = {"description": substitute(raw["description"]), "cmd": substitute(run["cmd"]),
              "restart": substitute(run["restart"]) if run.get("restart") else None}
    # pre/post are ignored as in Maestro, but like Maestro they count when finding used parameters
    ignored = [substitute(run[key]) for key in ("pre", "post") if run.get(key)]
    resources = {}
    for key in RESOURCE_KEYS:
        if key in run:
            value = run[key]
            if isinstance(value, str):
                value = substitute(value)
            elif isinstance(value, dict):
                value = {k: substitute(v) if isinstance(v, str) else v for k, v in value.items()}
            resources[key] = value
    depends, funnels = [], []
    for parent in run.get("depends") or []:
        parent = substitute(parent)
        if "*" in parent:
            funnels.append(FUNNEL.sub("", parent))
        else:
            depends.append(parent)
    text = f"{fields['cmd']} {fields['restart'] or ''}"
    return {
        "name": raw["name"],
        "fields": fields,
        "resources": resources,
        "depends": depends,
        "funnels": funnels,
        "ws_refs": list(dict.fromkeys(WORKSPACE_REF.findall(text))),
        "ignored_texts": ignored,
        "after_failed_parents": bool(run.get("after_failed_parents", False)),
    }


def _topological_order(steps: list[dict], source: str) -> list[dict]:
    """Spec order where it is already topological (always, for specs Maestro accepts)."""
    by_name = {s["name"]: s for s in steps}
    for step in steps:
        for parent in step["depends"] + step["funnels"]:
            if parent not in by_name:
                raise InvalidInput(
                    f"{source}: study step '{step['name']}' depends on '{parent}', which is not a step "
                    f"in the study; steps are: {', '.join(by_name)}")
            if parent == step["name"]:
                raise InvalidInput(f"{source}: study step '{parent}' depends on itself")
        for ref in step["ws_refs"]:
            if ref not in by_name or ref == step["name"]:
                raise InvalidInput(
                    f"{source}: study step '{step['name']}' uses $({ref}.workspace), but '{ref}' is not "
                    "an earlier step; Maestro says: Workspace for "
                    f"'{ref}' is being used before it would be generated.")
    done: set[str] = set()
    order: list[dict] = []
    pending = list(steps)
    while pending:
        # the first step in spec order whose parents are placed: spec order where it is topological
        step = next((s for s in pending if all(p in done for p in s["depends"] + s["funnels"] + s["ws_refs"])), None)
        if step is None:
            raise InvalidInput(f"{source}: the study's dependencies form a cycle: {_find_cycle(pending)}; "
                               "remove one of these dependencies")
        done.add(step["name"])
        order.append(step)
        pending.remove(step)
    return order


def _find_cycle(pending: list[dict]) -> str:
    parents = {s["name"]: s["depends"] + s["funnels"] + s["ws_refs"] for s in pending}
    node, path = pending[0]["name"], []
    while node not in path:
        path.append(node)
        node = next(p for p in parents[node] if p in parents)
    cycle = path[path.index(node):] + [node]
    return " -> ".join(reversed(cycle))


def _used_params(step: dict, keys: list[str]) -> set[str]:
    texts = [v for v in step["fields"].values() if v] + step["depends"] + step["funnels"] + step["ignored_texts"]
    texts += [v for v in step["resources"].values() if isinstance(v, str)]
    texts += [v for r in step["resources"].values() if isinstance(r, dict) for v in r.values() if isinstance(v, str)]
    blob = "\n".join(texts)
    if "$(" not in blob:
        return set()
    return {key for key in keys if re.search(r"\$\(" + re.escape(key) + r"(\.\w+)?\)", blob)}


def _expand_steps(order: list[dict], table: dict, hashws: bool, source: str, trace: dict | None = None) -> list[dict]:
    """The instances of the steps in ``order`` over ``table``.  ``trace`` (a dict), when given,
    gets "rows" (instance id -> the table row it was made from) and "used" (step name -> the
    parameters it uses): what expanding more combinations needs to know."""
    keys = table["order"]
    used: dict[str, set[str]] = {}
    instances_of: dict[str, list[str]] = {}
    workspace_of: dict[str, str] = {}   # step name or instance id -> workspace (relative)
    out: list[dict] = []
    for step in order:
        name = step["name"]
        funnels = set(step["funnels"])
        params = _used_params(step, keys)
        for parent in step["depends"]:
            params.update(used[parent])
        for ref in step["ws_refs"]:
            if ref not in funnels:
                params.update(used[ref])
        used[name] = sorted(params)   # sorted once: instance names list labels by parameter name
        root = naming.workspace_component(name)
        if not params:
            instances = [_instance(step, name, root, {}, None, None)]
        else:
            instances = _parameterized(step, sorted(params), table, root, hashws)
        _uniquify_workspaces(instances)
        instances_of[name] = [inst["id"] for inst in instances]
        for inst, combo in ((i, i.pop("_combo_row")) for i in instances):
            if trace is not None:
                trace.setdefault("rows", {})[inst["id"]] = combo
            workspace_of[inst["id"]] = inst["workspace"]
            inst["depends"] = _instance_depends(step, combo, used, table, instances_of)
            inst["workspace_refs"] = {
                ref: naming.workspace_component(ref) if ref in funnels else workspace_of[_instance_id(ref, combo, used, table)]
                for ref in step["ws_refs"]
            }
            out.append(inst)
    if trace is not None:
        trace["used"] = used
    return out


def _combo_string(keys, row: int | None, table) -> str:
    return ".".join(table["params"][k]["labels"][row] for k in keys)


def _instance_id(step_name: str, row: int | None, used, table) -> str:
    keys = used[step_name]
    if not keys:
        return step_name
    return f"{step_name}_{_combo_string(keys, row, table)}"


def _instance_depends(step, row, used, table, instances_of) -> list[str]:
    depends = [_instance_id(parent, row, used, table) for parent in step["depends"]]
    for parent in step["funnels"]:
        depends.extend(instances_of[parent])
    return list(dict.fromkeys(depends))


def _parameterized(step, keys: list[str], table, root: str, hashws: bool) -> list[dict]:
    seen: dict[str, int] = {}
    for row in range(table["count"]):
        seen.setdefault(_combo_string(keys, row, table), row)
    pad = len(str(len(seen) - 1))
    instances = []
    for index, (combo, row) in enumerate(seen.items()):
        ident = f"{step['name']}_{combo}"
        nickname = f"{step['name']}_instance_{index:0{pad}d}" if hashws else None
        leaf = naming.workspace_component(nickname if hashws else combo)
        values = {k: table["params"][k]["values"][row] for k in keys}
        instances.append(_instance(step, ident, f"{root}/{leaf}", values, row, (keys, table), nickname))
    return instances


def _instance(step, ident, workspace, params, row, applying, nickname=None) -> dict:
    fields = dict(step["fields"])
    resources = dict(step["resources"])
    inputs = step.get("inputs")
    if applying:
        keys, table = applying
        apply = _combo_applier(keys, table, row)
        fields = {k: apply(v) if v else v for k, v in fields.items()}
        inputs = inputs and [(apply(text), content) for text, content in inputs]
        resources = {k: apply(v) if isinstance(v, str) else
                     ({kk: apply(vv) if isinstance(vv, str) else vv for kk, vv in v.items()} if isinstance(v, dict) else v)
                     for k, v in resources.items()}
    combo = ident[len(step["name"]) + 1:] if params else None
    extra = {"inputs": inputs} if inputs else {}   # only where declared: other DAGs stay as they were
    return {
        **extra,
        "id": ident,
        "step": step["name"],
        "description": fields["description"],
        "workspace": workspace,
        "stem": naming.file_stem(nickname or ident),
        "cmd": fields["cmd"],
        "restart": fields["restart"],
        "params": params,
        "combo": combo,
        "resources": _typed_resources(resources, step["name"]),
        "scheduled": bool(resources.get("nodes") or resources.get("procs")),
        "after_failed_parents": step["after_failed_parents"],
        "_combo_row": row,
    }


def _combo_applier(keys, table, row):
    """Maestro's Combination.apply for one row: labels, then values, then names."""
    pairs = [(f"$({k}.label)", table["params"][k]["labels"][row]) for k in keys]
    pairs += [(f"$({k})", str(table["params"][k]["values"][row])) for k in keys]
    pairs += [(f"$({k}.name)", str(table["params"][k]["name"])) for k in keys]

    def apply(text: str) -> str:
        if "$(" not in text:
            return text
        for token, value in pairs:
            text = text.replace(token, value)
        return text

    return apply


def _typed_resources(resources: dict, step: str) -> dict:
    """Numbers from "$(VAR)" substitutions become ints; unresolved tokens are an error here, not later."""
    out = {}
    for key, value in resources.items():
        name = key.replace(" ", "_")
        if key in INT_KEYS and isinstance(value, str):
            if not value.strip().isdigit():
                raise _StepError(f"study step '{step}': run.{key} is '{value}' after substitution; "
                                   "it must be a whole number (define the variable or parameter it names)")
            value = int(value)
        elif key == "exclusive":
            value = _boolish(value)
        out[name] = value
    return out


def _boolish(value):
    if isinstance(value, dict):
        return {k: _boolish(v) for k, v in value.items()}
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _uniquify_workspaces(instances: list[dict]) -> None:
    """Values such as 'a b' and 'a_b' share Maestro's directory name; give each its own."""
    seen: dict[str, int] = {}
    for inst in instances:
        seen[inst["workspace"]] = seen.get(inst["workspace"], 0) + 1
    for inst in instances:
        if seen[inst["workspace"]] > 1:
            inst["workspace"] = f"{inst['workspace']}~{naming.short_hash(inst['id'])}"
