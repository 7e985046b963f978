"""LSF: `#BSUB` header as Maestro 1.2.1's lsfscriptadapter, `jsrun` launcher.

Differences: a step without nodes asks for the batch block's nodes (default 1) where Maestro
writes an empty `-nnodes`; no walltime means no `-W` line (Maestro writes an empty one); a
walltime given as a number of minutes is accepted (Maestro crashes on it); `batch.shell` is
honoured (Maestro's LSF adapter always writes /bin/bash).
"""

import math

from mshared.errors import InvalidInput

from .common import ScriptFormat, header_value, job_name, resources


def walltime(value, step: dict) -> str:
    """LSF's -W is [HH:]MM; HH:MM:SS rounds up to the minute (01:30:45 -> 01:31), as Maestro."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value).strip()
    parts = text.split(":")
    if len(parts) == 3:
        try:
            hours, minutes, seconds = int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError:
            raise InvalidInput(f"step '{step['id']}': walltime {value!r} is not HH:MM:SS") from None
        minutes += math.ceil(seconds / 60)
        return f"{hours + minutes // 60:02d}:{minutes % 60:02d}"
    return header_value(text, "walltime", step)


def header(step: dict, batch: dict, shell: str) -> str:
    res = resources(step)
    merged = {key: batch[key] for key in ("bank", "queue", "reservation") if batch.get(key)}
    merged.update({key: value for key, value in res.items() if value})
    nodes = res.get("nodes") or batch.get("nodes") or 1
    name = job_name(step)

    def value(key):
        return header_value(merged[key], f"'{key}'", step)

    lines = [f"#!{shell}", f"#BSUB -nnodes {header_value(nodes, 'nodes', step)}"]
    if merged.get("queue"):
        lines.append(f"#BSUB -q {value('queue')}")
    if merged.get("bank"):
        lines.append(f"#BSUB -G {value('bank')}")
    if merged.get("walltime"):
        lines.append(f"#BSUB -W {walltime(merged['walltime'], step)}")
    lines.append(f"#BSUB -J {name}")
    lines.append(f"#BSUB -o {name}.%J.out")
    if merged.get("reservation"):
        lines.append(f"#BSUB -U {value('reservation')}")
    lines.append(f"#BSUB -e {name}.%J.err")
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    res = resources(step)
    args = ["jsrun", "--nrs", str(procs), "-b", header_value(res.get("bind") or "rs", "bind", step)]
    if res.get("gpus"):
        args += ["-g", str(res["gpus"])]
    if res.get("bind_gpus"):
        args += ["-B", header_value(res["bind_gpus"], "bind gpus", step)]
    args += ["-a", str(res.get("tasks_per_rs") or 1), "-r", str(res.get("rs_per_node") or 1),
             "-c", str(res.get("cpus_per_rs") or 1)]
    return " ".join(args)


FORMAT = ScriptFormat(key="lsf", extension="lsf.sh", header=header, parallelize=parallelize)
