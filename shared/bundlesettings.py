"""The spec's ``bundle:`` block: its settings, checked and normalised, and which steps go in a bundle.

One module, read by mexpand (the spec's block, checked before anything is written), by msubmit and
``maestro run`` (command-line overrides, kept in the state's settings) and by the engine (which
steps a pass hands to bundles).  The normalised form (``dag.json``'s ``study.bundle``, and the
override in ``state.json``'s ``settings.bundle``) is documented in docs/bundles.md.

A step goes in a bundle when it runs under the batch scheduler (it has nodes or procs), it is one
of ``steps`` (when given), and it fits one node of an allocation: one node, at most ``cores``
cores (procs x cores per task), at most ``gpus`` GPUs, and a walltime no longer than the
allocation's less the ``margin``.  Every other step goes as its own job, as without a bundle.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import InvalidInput

BLOCK = "bundle"
# The keys in a sentence, for the --bundle option's help (docs/bundles.md has the table).
HELP = ("Override a key of the spec's bundle block (docs/bundles.md; repeatable): nodes and walltime "
        "of each allocation, allocations (most in flight), cores and gpus a node offers, "
        "steps=a,b (which steps may go in a bundle), linger (idle seconds before a worker ends), "
        "margin (seconds kept free at an allocation's end).")
REQUIRED = ("nodes", "walltime", "allocations")
DEFAULTS = {"cores": None, "gpus": 0, "steps": None, "linger": 30, "margin": 30}
KEYS = (*REQUIRED, *DEFAULTS)
_MINIMUM = {"nodes": 1, "allocations": 1, "cores": 1, "gpus": 0, "linger": 0, "margin": 0}
NUMERIC = tuple(_MINIMUM)        # the keys whose values are whole numbers
OFF = "off"                      # the override {"off": true}: no bundle for this study
_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() takes '²', which int() refuses


@dataclass(frozen=True)
class Needs:
    """What one step instance asks of a node."""

    nodes: int
    cores: int
    gpus: int
    walltime: float | None      # seconds; None: the step gives none


def needs(step: dict) -> Needs:
    """What the DAG step ``step`` asks for (its ``resources``)."""
    res = step.get("resources") or {}
    procs = res.get("procs") or 1
    per_task = res.get("cores_per_task") or 1
    return Needs(res.get("nodes") or 1, procs * per_task, res.get("gpus") or 0,
                 seconds(res.get("walltime"), f"step '{step.get('id')}'"))


def seconds(value, what: str) -> float | None:
    """Seconds in a walltime: a number (or a string of digits) is minutes; '[D-]H:M:S', 'M:S' as
    Slurm; None for none.  The one parser of walltimes: step headers (mruntime.scripts.headers)
    and bundles read a step's walltime alike."""
    if value is None or value == "" or value == "inf":
        return None
    if isinstance(value, bool):
        raise _bad_time(value, what)
    if isinstance(value, (int, float)):
        if value < 0 or value > _MAX_MINUTES or not math.isfinite(value):   # order: a huge int has no float
            raise _bad_time(value, what)
        return float(value) * 60
    text = str(value).strip()
    if _DIGITS.fullmatch(text):
        return float(text) * 60
    days, dashed = 0, "-" in text
    if dashed:
        head, _, text = text.partition("-")
        if not head.isdigit():
            raise _bad_time(value, what)
        days = int(head)
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise _bad_time(value, what) from None
    # float() reads 'nan', 'infinity' and '1e999' too: no walltime is any of those
    if not parts or len(parts) > 3 or any(not math.isfinite(p) or p < 0 for p in parts):
        raise _bad_time(value, what)
    if dashed:             # after "D-", Slurm reads H, H:M, H:M:S
        parts += [0.0] * (3 - len(parts))
    total = sum(p * 60.0 ** i for i, p in enumerate(reversed(parts)))
    return total + days * 86400


_MAX_MINUTES = 1e12     # beyond this a float cannot hold the seconds to the second


def _bad_time(value, what: str) -> InvalidInput:
    return InvalidInput(f"{what}: walltime {value!r} is not a number of minutes or [D-]HH:MM:SS")


def normalize(block, where: str = BLOCK) -> dict:
    """The block as plain, checked settings (every key present; walltime in whole seconds).

    Raises InvalidInput (exit 65) naming ``where`` and the key for anything wrong."""
    if not isinstance(block, dict):
        raise InvalidInput(f"{where} must be a mapping with at least nodes, walltime and allocations")
    for key in block:
        if key not in KEYS:
            raise InvalidInput(f"{where}: unknown key {key!r}; known: {', '.join(KEYS)}")
    for key in REQUIRED:
        if block.get(key) is None:
            raise InvalidInput(f"{where}: '{key}' is missing; a bundle needs {', '.join(REQUIRED)}")
    out = {**DEFAULTS, **{k: v for k, v in block.items() if v is not None}}
    for key, low in _MINIMUM.items():
        value = out[key]
        if value is None:
            continue
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidInput(f"{where}.{key}: {out[key]!r} is not a whole number of at least {low}")
        out[key] = value
    wall = seconds(out["walltime"], f"{where}.walltime")
    if wall is None or wall < 1:
        raise InvalidInput(f"{where}.walltime: {out['walltime']!r}: an allocation needs a walltime of at least a second")
    out["walltime"] = int(wall)
    if out["margin"] >= out["walltime"]:
        raise InvalidInput(f"{where}.margin: {out['margin']} s leaves no time of the {out['walltime']} s walltime "
                           "for steps; make it shorter than the walltime")
    names = out["steps"]
    if names is not None:
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise InvalidInput(f"{where}.steps: give a list of step names")
        out["steps"] = list(dict.fromkeys(names))
    return out


def why_not(step: dict, settings: dict) -> str | None:
    """Why ``step`` (a DAG step that runs under the scheduler) does not fit a bundle; None: it fits."""
    need = needs(step)
    if need.nodes > 1:
        return f"it asks for {need.nodes} nodes; a bundled step runs on one node"
    if settings["cores"] is not None and need.cores > settings["cores"]:
        return f"it needs {need.cores} cores; a bundle's node has {settings['cores']}"
    if need.gpus > settings["gpus"]:
        return f"it needs {need.gpus} GPUs; a bundle's node has {settings['gpus']}"
    room = settings["walltime"] - settings["margin"]
    if need.walltime is not None and need.walltime > room:
        return (f"its walltime ({need.walltime:.0f} s) is longer than an allocation leaves a step "
                f"({settings['walltime']} s less the {settings['margin']} s margin)")
    return None


def bundled(step: dict, settings: dict | None) -> bool:
    """``step`` goes in a bundle under ``settings`` (None: the study has no bundle)."""
    if settings is None or not step.get("scheduled"):
        return False
    if settings["steps"] is not None and step["step"] not in settings["steps"]:
        return False
    return why_not(step, settings) is None


def check_steps(settings: dict, steps: list[dict], where: str = BLOCK) -> None:
    """Refuse settings under which a step named in ``steps`` can never fit, or no step could:
    a bundle that would never run anything is a mistake, said before anything is submitted.

    ``steps`` are the DAG's instances; none (a study that starts without combinations) checks
    nothing here.  A step that gives no walltime fits any allocation's."""
    if not steps:
        return
    names = settings["steps"]
    scheduled = [s for s in steps if s.get("scheduled")]
    if names is not None:
        known = {s["step"] for s in steps}
        on_scheduler = {s["step"] for s in scheduled}
        for name in names:
            if name not in known:
                raise InvalidInput(f"{where}.steps: there is no step {name!r} in the study")
            if name not in on_scheduler:
                raise InvalidInput(f"{where}.steps: step {name!r} has no nodes or procs, so it runs "
                                   "locally and never in a bundle; remove it from the list")
        chosen = set(names)
        for step in scheduled:
            if step["step"] in chosen:
                why = why_not(step, settings)
                if why is not None:
                    raise InvalidInput(f"{where}.steps: step '{step['id']}' can never fit a bundle: {why}")
        return
    if not scheduled:
        raise InvalidInput(f"{where}: no step of the study has nodes or procs, so none runs under the "
                           "scheduler and a bundle would run nothing; remove the block or give steps nodes or procs")
    first = None
    for step in scheduled:
        why = why_not(step, settings)
        if why is None:
            return
        first = first or (step, why)
    walls = [needs(s).walltime for s in scheduled]
    room = settings["walltime"] - settings["margin"]
    if None not in walls and min(walls) > room:
        raise InvalidInput(f"{where}.walltime: {settings['walltime']} s (less the {settings['margin']} s margin) "
                           f"is shorter than the shortest step's walltime ({min(walls):.0f} s): no step would fit")
    step, why = first
    raise InvalidInput(f"{where}: no step of the study fits a bundle, so it would run nothing "
                       f"(step '{step['id']}': {why})")


def clock(total: int) -> str:
    """Whole seconds as 'H:MM:SS' (hours past 24 stay hours), which ``seconds`` reads back."""
    total = int(total)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def effective(spec_settings: dict | None, override: dict | None,
              where: str = "the bundle override in state.json") -> dict | None:
    """The bundle settings a pass uses: the spec's (``dag.json`` study.bundle), changed by the
    command line's override (``state.json`` settings.bundle): ``{"off": true}`` turns bundling
    off, other keys replace the spec's (a study without the block needs nodes, walltime and
    allocations there).  Raises InvalidInput naming ``where`` for settings that are not sound."""
    if not override:
        return spec_settings
    if override.get(OFF):
        return None
    given = {k: v for k, v in override.items() if k != OFF}
    if spec_settings is None:
        missing = [k for k in REQUIRED if given.get(k) is None]
        if missing:
            raise InvalidInput(f"{where}: the study's spec has no bundle block, so the override must give "
                               f"{', '.join(REQUIRED)}; missing: {', '.join(missing)}")
        base = {}
    else:   # the spec's walltime is in seconds already: as a clock, normalize reads it back the same
        base = {**spec_settings, "walltime": clock(spec_settings["walltime"])}
    return normalize({**base, **given}, where)


def check_study(study: dict, steps: list[dict], override: dict | None, where: str) -> dict | None:
    """The settings in force for the DAG study ``study`` (its ``bundle`` and ``batch``) with its
    instances ``steps`` under ``override`` (``effective``), refused (InvalidInput naming
    ``where``) when they are not sound, when they would bundle a study that has no batch
    scheduler, or when ``check_steps`` refuses them.  What the command line checks before it
    saves an override."""
    settings = effective(study.get(BLOCK), override, where)
    if settings is None or override is None:     # the spec's own block: mexpand checked it
        return settings
    if ((study.get("batch") or {}).get("type") or "local") == "local":
        raise InvalidInput(f"{where}: a bundle needs a batch scheduler, and this study's batch.type is local")
    check_steps(settings, steps, where)
    return settings


def parse_override(items, where: str = "--bundle") -> dict:
    """The override given on the command line: KEY=VALUE strings (a later KEY wins) as the dict
    kept in ``state.json`` settings.bundle: whole numbers for the numeric keys, ``steps`` a list
    (comma-separated), ``walltime`` the text given.  InvalidInput naming ``where`` and the key
    for anything else; the values' ranges are ``effective``'s to check."""
    out: dict = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise InvalidInput(f"{where} {item!r}: give KEY=VALUE, KEY one of {', '.join(KEYS)}")
        if key == OFF:
            raise InvalidInput(f"{where} {item!r}: turn the bundle off with --no-bundle")
        if key not in KEYS:
            raise InvalidInput(f"{where} {item!r}: unknown key {key!r}; known: {', '.join(KEYS)}")
        if key in NUMERIC:
            if not re.fullmatch(r"-?[0-9]+", value):
                raise InvalidInput(f"{where} {key}={value!r}: {key} must be a whole number")
            value = int(value)
        elif key == "steps":
            names = [name.strip() for name in value.split(",") if name.strip()]
            if not names:
                raise InvalidInput(f"{where} {key}={value!r}: give step names, separated by commas")
            value = list(dict.fromkeys(names))
        elif not value:
            raise InvalidInput(f"{where} {key}=: give a walltime (minutes, or [D-]HH:MM:SS)")
        out[key] = value
    return out


def merge_override(old: dict | None, new: dict | None) -> dict | None:
    """The override after ``new`` is given to a study whose override is ``old``: {"off": true}
    replaces it; keys replace those of ``old`` (and turn a bundle that was off on again)."""
    if not new:
        return old
    if new.get(OFF):
        return {OFF: True}
    if not old or old.get(OFF):
        return dict(new)
    return {**old, **new}


def check_override(override, where: str = "settings.bundle") -> None:
    """Refuse an override (``state.json`` settings.bundle) not of the shape ``parse_override``
    makes: {"off": true}, or some of the block's keys with whole numbers, a walltime and a list
    of step names."""
    if override is None:
        return
    if not isinstance(override, dict) or not override:
        raise InvalidInput(f"{where}: must be {{\"off\": true}} or a mapping of the bundle's keys")
    if OFF in override:
        if override != {OFF: True}:
            raise InvalidInput(f"{where}: 'off' goes alone, as {{\"off\": true}}")
        return
    for key, value in override.items():
        if key not in KEYS:
            raise InvalidInput(f"{where}: unknown key {key!r}; known: {', '.join(KEYS)}")
        if key in NUMERIC:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif key == "walltime":
            ok = isinstance(value, (str, int)) and not isinstance(value, bool) and value != ""
        else:
            ok = isinstance(value, list) and bool(value) and all(isinstance(n, str) and n for n in value)
        if not ok:
            raise InvalidInput(f"{where}.{key}: {value!r} is not a value --bundle gives")


def check_normalized(settings, where: str = "study.bundle") -> None:
    """Refuse ``settings`` unless they are as ``normalize`` returns them (``dag.json``
    study.bundle): every key, whole numbers in range, walltime in seconds above the margin."""
    if not isinstance(settings, dict) or set(settings) != set(KEYS):
        raise InvalidInput(f"{where}: expected an object with exactly {', '.join(KEYS)}, as mexpand writes it")
    for key in (*_MINIMUM, "walltime"):
        value, low = settings[key], _MINIMUM.get(key, 1)
        if value is None and key == "cores":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidInput(f"{where}.{key}: {value!r} is not a whole number of at least {low}")
    if settings["margin"] >= settings["walltime"]:
        raise InvalidInput(f"{where}.margin: {settings['margin']} is not shorter than the walltime")
    names = settings["steps"]
    if names is not None and (not isinstance(names, list) or not names
                              or not all(isinstance(n, str) and n for n in names)):
        raise InvalidInput(f"{where}.steps: {names!r} is not a list of step names")
