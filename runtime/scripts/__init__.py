"""Step scripts per scheduler, and $(LAUNCHER) substitution (mrender writes them, msubmit runs them).

``FORMATS`` maps batch.type to its ScriptFormat.  A step runs under the scheduler when the DAG
marks it ``scheduled`` (it has nodes or procs) and the batch type is not local; otherwise its
script is `#!<shell>` and the command, with every $(LAUNCHER) form removed.
"""

from . import flux, local, lsf, pbs, slurm
from .common import ScriptFormat
from .launcher import strip_launchers, substitute

FORMATS: dict[str, ScriptFormat] = {m.FORMAT.key: m.FORMAT for m in (local, slurm, lsf, flux, pbs)}
DEFAULT_SHELL = "/bin/bash"


def script_names(step: dict, scheduler: str) -> tuple[str, str | None]:
    """File names of the step's script and restart script (None without restart)."""
    ext = FORMATS[scheduler].extension
    stem = step["stem"]
    return f"{stem}.{ext}", (f"{stem}.restart.{ext}" if step.get("restart") else None)


def runs_scheduled(step: dict, scheduler: str) -> bool:
    return bool(step.get("scheduled")) and scheduler != "local"


def step_scripts(step: dict, batch: dict, cmd: str, restart: str | None) -> list[tuple[str, str]]:
    """[(file name, text)] for ``step``; ``cmd``/``restart`` already have their root tokens resolved.

    Every script is `<header>\\n\\n<command>\\n`, as Maestro writes them.
    """
    kind = batch.get("type") or "local"
    fmt = FORMATS[kind]
    shell = batch.get("shell") or DEFAULT_SHELL
    if runs_scheduled(step, kind):
        res = step.get("resources") or {}
        procs, nodes = res.get("procs"), res.get("nodes")

        def launch(p, n):
            return fmt.parallelize(step, batch, p, n)

        head = fmt.header(step, batch, shell)
        cmd = substitute(cmd, step, procs, nodes, launch)
        restart = substitute(restart, step, procs, nodes, launch) if restart else restart
    else:
        head = f"#!{shell}"
        cmd = strip_launchers(cmd)
        restart = strip_launchers(restart) if restart else restart
    name, restart_name = script_names(step, kind)
    out = [(name, f"{head}\n\n{cmd}\n")]
    if restart_name:
        out.append((restart_name, f"{head}\n\n{restart}\n"))
    return out
