"""Flux: `#flux:` directives as Maestro 1.2.1's fluxscriptadapter (adapter 0.49), `flux run`.

Left out on purpose: Maestro's `#MAESTRO-INFO` version lines (they record the broker version, which
mrender does not ask a broker for; flux ignores them) and the blank `#` line after them.  One
`#MAESTRO-INFO (nested) False` line marks a step with `nested: false` for the flux adapter.
A walltime of none / 'inf' gives no `-t` line (Maestro writes `-t 0s`).  Unscheduled steps get
only the shebang, as under the other schedulers (Maestro writes the flux header for them too).
"""

from mshared.errors import InvalidInput

from .common import ScriptFormat, exclusive, header_value, job_name, resources, walltime_seconds

# allocation_args / launcher_args groups -> the flux option they become
_GROUPS = {"setopt": "setopt", "o": "setopt", "setattr": "setattr", "S": "setattr", "conf": "conf"}
_EXCLUSIVE_KEYS = ("x", "exclusive")


def _args(batch: dict, group: str) -> dict:
    value = batch.get(group) or {}
    if not isinstance(value, dict):
        raise InvalidInput(f"batch.{group} must be a mapping of option groups (setopt, setattr, conf)")
    return value


def batch_exclusive(batch: dict) -> dict:
    """The batch default: an 'x' or 'exclusive' key in allocation_args / launcher_args."""
    return {"allocation": any(k in _args(batch, "allocation_args") for k in _EXCLUSIVE_KEYS),
            "launcher": any(k in _args(batch, "launcher_args") for k in _EXCLUSIVE_KEYS)}


def render_args(groups: dict, allocation: bool) -> list[str]:
    """Option groups as flux options: {setopt: {a.b: 1}} -> --setopt=a.b=1; a null value is a flag.

    Allocation args keep only the groups flux batch understands (Maestro drops the rest with a
    warning); launcher args pass unknown groups through as options of their own name.
    """
    out = []
    for key, values in groups.items():
        if key in _EXCLUSIVE_KEYS:
            continue
        option = _GROUPS.get(key)
        if option is None:
            if allocation:
                continue
            option = str(key)
        prefix, sep = ("-", " ") if len(option) == 1 else ("--", "=")
        for path, value in _dotpaths(values):
            text = f"{prefix}{option}{sep}{path}" if path else f"{prefix}{option}"
            if value is not None and value != "":
                value = str(value).lower() if isinstance(value, bool) else value
                text += f"={value}" if path else f"{sep}{value}"
            out.append(text)
    return out


def _dotpaths(values, base: str = ""):
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _dotpaths(value, f"{base}.{key}" if base else str(key))
    else:
        yield base, values


def _seconds_text(seconds) -> str:
    return repr(seconds) if isinstance(seconds, float) else str(seconds)


def header(step: dict, batch: dict, shell: str) -> str:
    res = resources(step)
    excl = exclusive(res.get("exclusive"), batch_exclusive(batch))
    name = job_name(step)
    lines = [f"#!{shell}"]
    if res.get("nested") is False:
        # read by the flux adapter: a non-nested step goes to `flux submit`, not `flux batch`
        lines.append("#MAESTRO-INFO (nested) False")
    if res.get("nodes"):
        lines.append(f"#flux: -N {res['nodes']}")
    if res.get("procs") and not excl["allocation"]:
        lines.append(f"#flux: -n {res['procs']}")
    seconds = walltime_seconds(res.get("walltime"), step)
    if seconds:
        lines.append(f"#flux: -t {_seconds_text(seconds)}s")
    if batch.get("queue"):
        lines.append(f"#flux: -q {header_value(batch['queue'], 'batch.queue', step)}")
    if batch.get("bank"):
        lines.append(f"#flux: --bank={header_value(batch['bank'], 'batch.bank', step)}")
    lines.append(f'#flux: --job-name="{name}"')
    lines.append(f"#flux: --output={name}.{{{{id}}}}.out")
    lines.append(f"#flux: --error={name}.{{{{id}}}}.err")
    if excl["allocation"]:
        lines.append("#flux: --exclusive")
    for arg in render_args(_args(batch, "allocation_args"), allocation=True):
        lines.append(f"#flux: {header_value(arg, 'batch.allocation_args', step)}")
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    res = resources(step)
    excl = exclusive(res.get("exclusive"), batch_exclusive(batch))["launcher"]
    args = ["flux", "run"]
    if nodes:
        args += ["-N", str(nodes)]
    if procs:
        args += ["-n", str(procs)]
    if res.get("cores_per_task") and not excl:
        args += ["-c", str(res["cores_per_task"])]
    if res.get("gpus") and not excl:
        args += ["-g", str(res["gpus"])]
    if excl:
        args.append("--exclusive")
    launcher = dict(_args(batch, "launcher_args"))
    legacy = batch.get("args")   # deprecated in 1.2: merged into the -o (setopt) group
    if isinstance(legacy, dict) and legacy:
        launcher["o"] = {**(launcher.get("o") or {}), **legacy}
    args += [header_value(a, "batch.launcher_args", step) for a in render_args(launcher, allocation=False)]
    return " ".join(args)


FORMAT = ScriptFormat(key="flux", extension="flux.sh", header=header, parallelize=parallelize)
