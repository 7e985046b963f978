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

from dataclasses import dataclass

from .errors import InvalidInput

BLOCK = "bundle"
REQUIRED = ("nodes", "walltime", "allocations")
DEFAULTS = {"cores": None, "gpus": 0, "steps": None, "linger": 30, "margin": 30}
KEYS = (*REQUIRED, *DEFAULTS)
_MINIMUM = {"nodes": 1, "allocations": 1, "cores": 1, "gpus": 0, "linger": 0, "margin": 0}


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
    """Seconds in a walltime: a number is minutes; '[D-]H:M:S', 'M:S' as Slurm; None for none."""
    if value is None or value == "" or value == "inf":
        return None
    if isinstance(value, bool):
        raise _bad_time(value, what)
    if isinstance(value, (int, float)):
        if value < 0:
            raise _bad_time(value, what)
        return float(value) * 60
    text = str(value).strip()
    days = 0
    if "-" in text:
        head, _, text = text.partition("-")
        if not head.isdigit():
            raise _bad_time(value, what)
        days = int(head)
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise _bad_time(value, what) from None
    if not parts or len(parts) > 3 or any(p < 0 for p in parts):
        raise _bad_time(value, what)
    if len(parts) == 1 and not days:
        return parts[0] * 60
    if days:
        parts += [0.0] * (3 - len(parts))
    total = sum(p * 60.0 ** i for i, p in enumerate(reversed(parts)))
    return total + days * 86400


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
        if isinstance(value, str) and value.strip().isdigit():
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
    a bundle that would never run anything is a mistake, said before anything is submitted."""
    names = settings["steps"]
    scheduled = [s for s in steps if s.get("scheduled")]
    if names is not None:
        known = {s["step"] for s in steps}
        for name in names:
            if name not in known:
                raise InvalidInput(f"{where}.steps: there is no step {name!r} in the study")
        for step in scheduled:
            if step["step"] in names:
                why = why_not(step, settings)
                if why is not None:
                    raise InvalidInput(f"{where}.steps: step '{step['id']}' can never fit a bundle: {why}")
        for name in names:
            if not any(s["step"] == name for s in scheduled) and any(s["step"] == name for s in steps):
                raise InvalidInput(f"{where}.steps: step {name!r} has no nodes or procs, so it runs "
                                   "locally and never in a bundle; remove it from the list")
        return
    walls = [w for w in (needs(s).walltime for s in scheduled) if w is not None]
    if walls and min(walls) > settings["walltime"] - settings["margin"]:
        raise InvalidInput(f"{where}.walltime: {settings['walltime']} s (less the {settings['margin']} s margin) "
                           f"is shorter than the shortest step's walltime ({min(walls):.0f} s): no step would fit")


def effective(spec_settings: dict | None, override: dict | None) -> dict | None:
    """The bundle settings a pass uses: the spec's (``dag.json`` study.bundle), changed by the
    command line's override (``state.json`` settings.bundle): ``{"off": true}`` turns bundling
    off, other keys replace the spec's (a study without the block needs nodes, walltime and
    allocations there)."""
    if override:
        if override.get("off"):
            return None
        merged = {**(spec_settings or {}), **{k: v for k, v in override.items() if k != "off"}}
        return normalize(merged, "the bundle override in state.json")
    return spec_settings
