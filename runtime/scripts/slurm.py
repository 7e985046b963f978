"""SLURM: `#SBATCH` header as Maestro 1.2.1's slurmscriptadapter, `srun` launcher.

One deliberate difference: output files are `<job>.%j.out` / `.%j.err` (Maestro: `<job>.out`),
so each attempt and restart keeps its own log, as local steps keep `<stem>.<pid>.out`.
"""

from .common import ScriptFormat, comment_text, exclusive, header_value, job_name, resources

# Batch keys that reach the header (Maestro's adapter keeps these; everything else is ignored).
_BATCH_KEYS = ("nodes", "host", "bank", "queue", "reservation", "qos", "procs")


def header(step: dict, batch: dict, shell: str) -> str:
    merged = {key: batch[key] for key in _BATCH_KEYS if batch.get(key)}
    procs_in_batch = "procs" in merged
    merged.update({key: value for key, value in resources(step).items() if value})
    nodes = merged.get("nodes")
    name = job_name(step)

    def value(key, quoted=False):
        return header_value(merged[key], f"'{key}'", step, quoted)

    lines = [f"#!{shell}"]
    if nodes:
        lines.append(f"#SBATCH --nodes={value('nodes')}")
    if merged.get("queue"):
        lines.append(f"#SBATCH --partition={value('queue')}")
    if merged.get("bank"):
        lines.append(f"#SBATCH --account={value('bank')}")
    if merged.get("walltime"):
        lines.append(f"#SBATCH --time={value('walltime')}")
    lines.append(f'#SBATCH --job-name="{name}"')
    logs = name.replace("%", "%%")   # sbatch expands %x, %u, ... in file names; %% is a '%'
    lines.append(f'#SBATCH --output="{logs}.%j.out"')
    lines.append(f'#SBATCH --error="{logs}.%j.err"')
    comment = comment_text(step.get("description"))
    if comment:
        lines.append(f'#SBATCH --comment "{comment}"')
    if merged.get("reservation"):
        lines.append(f'#SBATCH --reservation="{value("reservation", quoted=True)}"')
    if merged.get("gpus"):
        lines.append(f"#SBATCH --gres=gpu:{value('gpus')}")
    if procs_in_batch or not nodes:
        lines.append(f"#SBATCH --ntasks={value('procs')}")
    if exclusive(merged.get("exclusive"))["allocation"]:
        lines.append("#SBATCH --exclusive")
    if merged.get("qos"):
        lines.append(f"#SBATCH --qos={value('qos')}")
    return "\n".join(lines)


def parallelize(step: dict, batch: dict, procs: int, nodes: int | None) -> str:
    args = ["srun", "-n", str(procs)]
    if nodes:
        args += ["-N", str(nodes)]
    cores = resources(step).get("cores_per_task")
    if cores:
        args += ["-c", str(cores)]
    return " ".join(args)


FORMAT = ScriptFormat(key="slurm", extension="slurm.sh", header=header, parallelize=parallelize)
