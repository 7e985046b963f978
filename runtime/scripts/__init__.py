"""Step scripts, for every scheduler, and $(LAUNCHER) substitution (mrender writes them, msubmit runs them).

Each scheduler's unit (``registry.unit(batch.type)``) gives its script extension, header and
launcher.  A step runs under the scheduler when the DAG marks it ``scheduled`` (it has nodes or
procs) and the scheduler is a batch scheduler; otherwise its script is `#!<shell>` and the
command, with every $(LAUNCHER) form removed.
"""

from collections.abc import Mapping

from ..schedulers import registry
from .launcher import strip_launchers, substitute

DEFAULT_SHELL = "/bin/bash"


class _Units(Mapping):
    """batch.type -> its Scheduler unit, read from the registry (membership imports nothing)."""

    def __getitem__(self, key):
        if not registry.known(key):
            raise KeyError(key)
        return registry.unit(key)

    def __contains__(self, key):
        return registry.known(key)

    def __iter__(self):
        return iter(registry.SCHEDULERS)

    def __len__(self):
        return len(registry.SCHEDULERS)


# The registry's units by batch.type; mrender checks batch.type against it.
FORMATS: Mapping = _Units()


def script_names(step: dict, scheduler: str) -> tuple[str, str | None]:
    """File names of the step's script and restart script (None without restart)."""
    ext = registry.unit(scheduler).extension
    stem = step["stem"]
    return f"{stem}.{ext}", (f"{stem}.restart.{ext}" if step.get("restart") else None)


def runs_scheduled(step: dict, scheduler: str) -> bool:
    return bool(step.get("scheduled")) and registry.unit(scheduler).batch


def step_scripts(step: dict, batch: dict, cmd: str, restart: str | None) -> list[tuple[str, str]]:
    """[(file name, text)] for ``step``; ``cmd``/``restart`` already have their root tokens resolved.

    Every script is `<header>\\n\\n<command>\\n`, as Maestro writes them.
    """
    kind = batch.get("type") or "local"
    unit = registry.unit(kind)
    shell = batch.get("shell") or DEFAULT_SHELL
    if step.get("scheduled") and unit.batch:
        res = step.get("resources") or {}
        procs, nodes = res.get("procs"), res.get("nodes")

        def launch(p, n):
            return unit.parallelize(step, batch, p, n)

        head = unit.header(step, batch, shell)
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
