"""PBS Professional / OpenPBS: `#PBS` header and an mpiexec launcher (Maestro has no PBS adapter).

Directive syntax from the PBS Professional qsub(1B) man page (openpbs/openpbs doc/man1/qsub.1B):
`-N name` (up to 236 printable non-blank characters, starting with a letter or digit),
`-l select=N:ncpus=C:mpiprocs=M[:ngpus=G]` chunks, `-l place=...:excl`, `-l walltime=HH:MM:SS`,
`-q queue`, `-A account`.  With nodes, `place=scatter` puts each chunk on its own host.  `batch.resource_style: nodes` writes the older Torque form
`-l nodes=N:ppn=M` / `-l procs=P` instead of select.

No `-o`/`-e`: PBS cannot put the job id in those paths, so fixed names would be overwritten by
the next attempt.  PBS's default names, `<job name>.o<seq>` / `.e<seq>` in the directory qsub
ran in (the workspace), keep one log per attempt.  PBS starts a job in the home directory, so
the script first changes to $PBS_O_WORKDIR (the directory qsub ran in).
"""

import math
import re

from mshared.errors import InvalidInput

from .common import ScriptFormat, exclusive, header_value, hms, job_name, resources, walltime_seconds

DEFAULT_LAUNCHER = "mpiexec -n {procs}"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def pbs_job_name(step: dict) -> str:
    name = job_name(step)
    if not (name[:1].isascii() and name[:1].isalnum()):
        name = "m" + name
    return name[:236]


def _chunks(res: dict) -> tuple[int | None, int, int]:
    """(nodes, MPI processes per node, CPUs per node) of the request."""
    nodes, procs = res.get("nodes"), res.get("procs")
    cores = res.get("cores_per_task") or 1
    if nodes:
        per_node = math.ceil(procs / nodes) if procs else 1
        return nodes, per_node, per_node * cores
    return None, 1, cores


def header(step: dict, batch: dict, shell: str) -> str:
    res = resources(step)
    nodes, per_node, cpus = _chunks(res)
    style = batch.get("resource_style") or "select"
    if style not in ("select", "nodes"):
        raise InvalidInput(f"batch.resource_style must be 'select' or 'nodes', not {style!r}")
    if res.get("gpus") and not nodes:
        raise InvalidInput(f"step '{step['id']}': gpus under PBS needs run.nodes (ngpus is asked "
                           "for per node)")
    lines = [f"#!{shell}", f"#PBS -N {pbs_job_name(step)}"]
    if style == "select":
        count = nodes or res.get("procs")
        chunk = f"{count}:ncpus={cpus}:mpiprocs={per_node}"
        if res.get("gpus"):
            chunk += f":ngpus={res['gpus']}"
        lines.append(f"#PBS -l select={chunk}")
        # nodes means distinct hosts (one chunk each); the default placement may pack chunks
        place = ["scatter"] if nodes else []
        if exclusive(res.get("exclusive"))["allocation"]:
            place.append("excl")
        if place:
            lines.append(f"#PBS -l place={':'.join(place)}")
    elif nodes:
        lines.append(f"#PBS -l nodes={nodes}:ppn={cpus}")
    else:
        lines.append(f"#PBS -l procs={res['procs']}")
    seconds = walltime_seconds(res.get("walltime"), step)
    if seconds:
        lines.append(f"#PBS -l walltime={hms(seconds)}")
    if batch.get("queue"):
        lines.append(f"#PBS -q {header_value(batch['queue'], 'batch.queue', step)}")
    if batch.get("bank"):
        lines.append(f"#PBS -A {header_value(batch['bank'], 'batch.bank', step)}")
    lines.append('cd "$PBS_O_WORKDIR"')
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    """batch.launcher with {procs}, {nodes}, {ppn} (tasks per node) and {cores_per_task}."""
    template = str(batch.get("launcher") or DEFAULT_LAUNCHER)
    res = resources(step)
    values = {"procs": procs, "nodes": nodes, "cores_per_task": res.get("cores_per_task") or 1,
              "ppn": math.ceil(procs / nodes) if nodes else procs}

    def fill(match):
        key = match.group(1)
        if key not in values:
            raise InvalidInput(f"batch.launcher {template!r}: unknown placeholder {{{key}}}; use "
                               "{procs}, {nodes}, {ppn} or {cores_per_task}")
        if values[key] is None:
            raise InvalidInput(f"step '{step['id']}': batch.launcher uses {{{key}}}, but the "
                               "command asks for no node count")
        return str(values[key])

    return header_value(_PLACEHOLDER.sub(fill, template), "batch.launcher", step, spaces=True)


FORMAT = ScriptFormat(key="pbs", extension="pbs.sh", header=header, parallelize=parallelize)
