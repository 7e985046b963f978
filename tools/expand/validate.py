"""Check a loaded spec the way Maestro 1.2.1's schema does, with one clear message per problem.

Raises InvalidInput for the first problem; returns a list of warnings for things Maestro
silently ignores.
"""

import re

from mruntime.schedulers import registry
from mshared import bundlesettings
from mshared.contracts import CONTROL
from mshared.errors import InvalidInput

from . import inputs

TOP_LEVEL = ("description", "env", "batch", "study", "global.parameters")
PRODUCT_BLOCK = "global.parameters.product"   # ours: a cross product without Python
EXTEND_BLOCK = "extend"                         # ours: a study that takes new combinations (mextend)
EXTEND_KEYS = ("parameters", "decide", "max_rounds", "result", "open")
BUNDLE_BLOCK = bundlesettings.BLOCK             # ours: steps run many to an allocation (docs/bundles.md)
VAR_TOKEN = re.compile(r"^\$\(\w+\)$")

# run key -> minimum for "integer or $(VAR)" keys
INT_KEYS = {"nodes": 1, "procs": 1, "gpus": 0, "cores per task": 1,
            "tasks per rs": 1, "rs per node": 1, "cpus per rs": 1}
STR_KEYS = ("restart", "pre", "post", "reservation", "qos", "bind", "bind gpus")
BOOL_KEYS = ("nested", "waitable")
PRIORITIES = ("held", "minimal", "low", "medium", "high", "expedited", "expedite")
# Ours, beyond Maestro (documented in docs/coming-from-maestro.md).
EXTENSION_KEYS = ("after_failed_parents",)
RUN_KEYS = ("cmd", "depends", "walltime", "exclusive", "priority", *INT_KEYS, *STR_KEYS,
            *BOOL_KEYS, *EXTENSION_KEYS)


def validate_spec(spec, where: str) -> list[str]:
    """Validate ``spec`` (plain data); ``where`` names the file in messages."""
    warnings: list[str] = []

    def fail(message: str):
        raise InvalidInput(f"{where}: {message}")

    if not isinstance(spec, dict):
        fail("a study spec must be a YAML mapping with 'description' and 'study' blocks")
    for key in spec:
        if key not in TOP_LEVEL and key not in (PRODUCT_BLOCK, inputs.BLOCK, EXTEND_BLOCK, BUNDLE_BLOCK):
            warnings.append(f"{where}: unknown top-level block '{key}' is ignored (Maestro ignores it too)")
    _check_description(spec, fail)
    _check_env(spec.get("env"), fail)
    _check_batch(spec.get("batch"), fail)
    _check_study(spec.get("study"), fail, warnings, where)
    _check_parameters(spec.get("global.parameters"), "global.parameters", True, fail)
    _check_parameters(spec.get(PRODUCT_BLOCK), PRODUCT_BLOCK, False, fail)
    inputs.check_block(spec.get(inputs.BLOCK), [s["name"] for s in spec["study"]], fail)
    _check_extend(spec, fail)
    bundle_settings(spec, where)
    return warnings


def bundle_settings(spec: dict, where: str) -> dict | None:
    """The spec's bundle block, checked and normalised (mshared.bundlesettings); None without one.
    Raises InvalidInput naming ``where``, ``bundle`` and the key.  Which steps fit is checked once
    the study is expanded (bundlesettings.check_steps)."""
    if BUNDLE_BLOCK not in spec:
        return None
    here = f"{where}: {BUNDLE_BLOCK}"
    kind = (spec.get("batch") or {}).get("type") or "local"
    if kind == "local":
        batch = [key for key in registry.keys() if key != "local"]
        raise InvalidInput(f"{here}: a bundle needs a batch scheduler (batch.type "
                           f"{', '.join(batch[:-1])} or {batch[-1]}); this spec's batch.type is local")
    return bundlesettings.normalize(spec[BUNDLE_BLOCK], here)


def _check_description(spec, fail):
    if "description" not in spec:
        fail("the 'description' block is missing; add description: {name: ..., description: ...}")
    block = spec["description"]
    if not isinstance(block, dict):
        fail("'description' must be a mapping with 'name' and 'description'")
    for key in ("name", "description"):
        if key not in block:
            fail(f"Key '{key}' is missing from description; add it")
        if not isinstance(block[key], str) or not block[key].strip():
            fail(f"description.{key} must be a non-empty string")
    if any(ch in block["name"] for ch in "\x00\n\r"):
        fail("description.name must not contain control characters")


def _check_env(env, fail):
    if env is None:
        return
    if not isinstance(env, dict):
        fail("'env' must be a mapping (variables, labels, dependencies, sources)")
    for key in env:
        if key not in ("variables", "labels", "sources", "dependencies"):
            fail(f"Unrecognized key '{key}' found in env; allowed: variables, labels, sources, dependencies")
    seen: set[str] = set()
    for block in ("variables", "labels"):
        items = env.get(block) or {}
        if not isinstance(items, dict):
            fail(f"env.{block} must be a mapping of NAME: value")
        for name, value in items.items():
            if not isinstance(name, str) or not name:
                fail(f"env.{block}: every name must be a non-empty string, not {name!r}")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
                fail(f"The value '{value}' in field {block}.{name} of env is not a non-empty string or a number")
            _claim(name, seen, fail)
    if not isinstance(env.get("sources", []) or [], list):
        fail("env.sources must be a list")
    deps = env.get("dependencies") or {}
    if not isinstance(deps, dict):
        fail("env.dependencies must be a mapping with 'paths' and/or 'git'")
    for key in deps:
        if key not in ("paths", "git", "spack"):
            fail(f"Unrecognized key '{key}' found in env.dependencies; allowed: paths, git, spack")
    _check_deps(deps.get("paths"), "paths", ("name", "path"), (), seen, fail)
    _check_deps(deps.get("git"), "git", ("name", "path", "url"), ("tag", "branch", "hash"), seen, fail)


def _check_deps(items, kind, required, optional, seen, fail):
    if items is None:
        return
    if not isinstance(items, list):
        fail(f"env.dependencies.{kind} must be a list")
    for index, item in enumerate(items):
        here = f"env.dependencies.{kind}[{index}]"
        if not isinstance(item, dict):
            fail(f"{here} must be a mapping with {', '.join(required)}")
        for key in required:
            if not isinstance(item.get(key), str) or not item[key]:
                fail(f"Key '{key}' is missing from {here} (or is not a non-empty string)")
        for key in item:
            if key not in required + optional:
                fail(f"Unrecognized key '{key}' found in {here}")
        if sum(1 for key in optional if key in item) > 1:
            fail(f"{here}: give at most one of {', '.join(optional)}")
        if kind == "git":
            for key in ("url", *optional):
                if str(item.get(key, "")).startswith("-"):
                    fail(f"{here}.{key} {item[key]!r} starts with '-', which git would read as an option")
        _claim(item["name"], seen, fail)


def _claim(name, seen, fail):
    if name in seen:
        fail(f"Variable name '{name}' is already taken. All variable names must be unique.")
    seen.add(name)


def _check_batch(batch, fail):
    if batch is None:
        return
    if not isinstance(batch, dict):
        fail("'batch' must be a mapping (type, host, bank, queue, ...)")
    kind = batch.get("type", "local")
    if not registry.known(kind):            # the registry's keys: one list for every tool
        fail(f"batch.type '{kind}' is not a known scheduler; use one of {', '.join(registry.keys())}")
    shell = batch.get("shell")
    if shell is not None and not isinstance(shell, str):
        fail(f"batch.shell must be a path to a shell, like /bin/bash, not {shell!r}")
    for key in ("shell", "host", "bank", "queue", "reservation", "qos"):
        value = batch.get(key)
        if isinstance(value, str) and any(ch in value for ch in "\x00\n\r"):
            fail(f"batch.{key} must not contain control characters")


def _check_study(study, fail, warnings, where):
    if study is None:
        fail("the 'study' block is missing; add a list of steps")
    if not isinstance(study, list) or not study:
        fail("A study specification MUST contain at least one step in its workflow.")
    names: set[str] = set()
    for index, step in enumerate(study):
        if not isinstance(step, dict):
            fail(f"study[{index}] must be a mapping with name, description and run")
        name = step.get("name")
        label = f"study step '{name}'" if isinstance(name, str) else f"study[{index}]"
        for key in step:
            if key not in ("name", "description", "run"):
                fail(f"Unrecognized key '{key}' found in {label}; allowed: name, description, run")
        for key in ("name", "description", "run"):
            if key not in step:
                fail(f"Key '{key}' is missing from {label}")
        for key in ("name", "description"):
            if not isinstance(step[key], str) or not step[key].strip():
                fail(f"In {label}, {key} must be a non-empty string")
        _check_step_name(name, label, fail)
        if name in names:
            fail(f"{label} is defined twice; Maestro would silently drop the second one. Rename one of them")
        names.add(name)
        _check_run(step["run"], label, fail, warnings, where)


def _check_step_name(name, label, fail):
    if CONTROL.search(name):
        fail(f"{label}: a step name must not contain control characters (newline, NUL, ...)")
    if name.startswith("/") or ".." in name.split("/") or name.strip(".") == "":
        fail(f"{label}: the step name would put its workspace outside the study directory; rename it")


def _check_run(run, label, fail, warnings, where):
    if not isinstance(run, dict):
        fail(f"In {label}, run must be a mapping with at least 'cmd'")
    for key in run:
        if key not in RUN_KEYS:
            fail(f"Unrecognized key '{key}' found in {label}.")
    cmd = run.get("cmd")
    if cmd is None:
        fail(f"Key 'cmd' is missing from {label}.run")
    if not isinstance(cmd, str):
        fail(f"In {label}, run.cmd must be a string")
    if not cmd.strip():
        fail(f"In {label}, empty string found as value for run.cmd.")
    depends = run.get("depends", [])
    if depends is not None:
        if not isinstance(depends, list) or not all(isinstance(d, str) and d for d in depends):
            fail(f"In {label}, run.depends must be a list of step names")
        if len(set(depends)) != len(depends):
            fail(f"Non-unique step names in {label}.run.depends.")
    for key, minimum in INT_KEYS.items():
        if key in run:
            _check_int(run[key], minimum, key, label, fail)
    for key in STR_KEYS:
        if key in run and (not isinstance(run[key], str) or not run[key]):
            fail(f"In {label}, run.{key} must be a non-empty string")
    for key in ("pre", "post"):
        if key in run:
            warnings.append(f"{where}: {label}: run.{key} is accepted and ignored, as in Maestro")
    if "walltime" in run:
        value = run["walltime"]
        if isinstance(value, bool) or not (isinstance(value, str) and value or isinstance(value, int) and value >= 0):
            fail(f"In {label}, run.walltime must be a string like \"01:30:00\" or a number of minutes, not {value!r}")
    if "exclusive" in run:
        _check_exclusive(run["exclusive"], label, fail)
    for key in BOOL_KEYS + EXTENSION_KEYS:
        if key in run and not isinstance(run[key], bool):
            fail(f"In {label}, run.{key} must be true or false")
    if "priority" in run:
        value = run["priority"]
        ok = (isinstance(value, str) and value.lower() in PRIORITIES) or (
            isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1)
        if not ok:
            fail(f"In {label}, run.priority must be one of HELD, MINIMAL, LOW, MEDIUM, HIGH, EXPEDITED "
                 f"or a number from 0 to 1, not {value!r}")


def _check_int(value, minimum, key, label, fail):
    if isinstance(value, bool) or not (
        (isinstance(value, int) and value >= minimum) or (isinstance(value, str) and VAR_TOKEN.match(value))
    ):
        fail(f"The value '{value}' in field run.{key} of {label} is not of type 'integer' "
             f"(>= {minimum}) or does not conform to the format '$(VARNAME)'.")


def _check_exclusive(value, label, fail):
    def ok(item):
        return isinstance(item, bool) or (isinstance(item, str) and VAR_TOKEN.match(item))

    if isinstance(value, dict):
        for key, item in value.items():
            if key not in ("allocation", "launcher") or not ok(item):
                fail(f"In {label}, run.exclusive may only have allocation/launcher: true|false")
    elif not ok(value):
        fail(f"In {label}, run.exclusive must be true, false, \"$(VAR)\" or {{allocation: .., launcher: ..}}")


def _check_parameters(block, name, label_required, fail):
    if block is None:
        return
    if not isinstance(block, dict):
        fail(f"'{name}' must be a mapping of PARAMETER: {{values: [...], label: ...}}")
    length = None
    for key, entry in block.items():
        here = f"{name}.{key}"
        if not isinstance(key, str) or not re.fullmatch(r"[\w-]+", key):
            fail(f"{name}: parameter name {key!r} must be letters, digits, '_' or '-'")
        if not isinstance(entry, dict):
            fail(f"{here} must be a mapping with 'values' and 'label'")
        for field in entry:
            if field not in ("values", "label"):
                fail(f"Unrecognized key '{field}' found in {here}.")
        if "values" not in entry:
            fail(f"Key 'values' is missing from {here}")
        values = entry["values"]
        if not isinstance(values, list) or not values:
            fail(f"{here}.values must be a non-empty list")
        for value in values:
            if isinstance(value, (dict, list)) or value is None:
                fail(f"{here}.values must hold strings or numbers, not {value!r}")
        if "label" not in entry and label_required:
            fail(f"Key 'label' is missing from {here}")
        label = entry.get("label", f"{key}.%%")
        if isinstance(label, list):
            if len(label) != len(values) or not all(isinstance(x, str) and x for x in label):
                fail(f"{here}.label: a list of labels needs one non-empty string per value")
        elif not isinstance(label, str) or not label:
            fail(f"In {here}, label must be of type 'string', but found '{type(label).__name__}'.")
        if label_required:
            if length is None:
                length = len(values)
            elif len(values) != length:
                fail(f"Global parameter '{key}' is not the same length as other parameters "
                     f"({len(values)} values, others have {length}); parameters are zipped by index")


def _check_extend(spec, fail):
    """The extend block (ours, docs/mextend.md): how the study grows once it runs."""
    block = spec.get(EXTEND_BLOCK)
    if block is None:
        return
    if not isinstance(block, dict):
        fail(f"'{EXTEND_BLOCK}' must be a mapping with any of {', '.join(EXTEND_KEYS)}")
    for key in block:
        if key not in EXTEND_KEYS:
            fail(f"Unrecognized key '{key}' found in {EXTEND_BLOCK}; allowed: {', '.join(EXTEND_KEYS)}")
    params = block.get("parameters")
    if params is not None:
        if spec.get("global.parameters") or spec.get(PRODUCT_BLOCK):
            fail(f"{EXTEND_BLOCK}.parameters is for a study that starts without combinations; this "
                 "spec has global.parameters: label those there and remove extend.parameters")
        if not isinstance(params, dict) or not params:
            fail(f"{EXTEND_BLOCK}.parameters must be a mapping of PARAMETER: {{label: PARAMETER.%%}}")
        for key, entry in params.items():
            here = f"{EXTEND_BLOCK}.parameters.{key}"
            if not isinstance(key, str) or not re.fullmatch(r"[\w-]+", key):
                fail(f"{EXTEND_BLOCK}.parameters: parameter name {key!r} must be letters, digits, '_' or '-'")
            entry = {} if entry is None else entry
            if not isinstance(entry, dict) or set(entry) - {"label"}:
                fail(f"{here} must be a mapping with at most 'label' (e.g. {{label: {key}.%%}})")
            label = entry.get("label", f"{key}.%%")
            if not isinstance(label, str) or not label or any(ord(ch) < 32 for ch in label):
                fail(f"{here}.label must be a non-empty one-line string such as '{key}.%%'")
    decide = block.get("decide")
    names = [decide] if isinstance(decide, str) else decide
    if decide is not None and (not isinstance(names, list) or not names
                               or not all(isinstance(n, str) and n for n in names)):
        fail(f"{EXTEND_BLOCK}.decide must be a step name or a list of step names")
    limit = block.get("max_rounds")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        fail(f"{EXTEND_BLOCK}.max_rounds must be a whole number >= 1, not {limit!r}")
    result = block.get("result")
    if result is not None and not is_result_name(result):
        fail(f"{EXTEND_BLOCK}.result must be a file name inside the workspace (such as result.json), "
             f"not {result!r}")
    if "open" in block and not isinstance(block["open"], bool):
        fail(f"{EXTEND_BLOCK}.open must be true or false")


def is_result_name(name) -> bool:
    """A result file's name: relative, inside the workspace, one line."""
    return (isinstance(name, str) and bool(name) and not name.startswith("/")
            and ".." not in name.split("/") and not any(ord(ch) < 32 for ch in name))
