"""`maestro run`: the tools' cores chained (expand, render), and the monitor loop started.

Nothing here decides anything a tool would not: a study launched by `maestro run` is the same
study that `mexpand | mrender`, `msubmit` and `mmonitor` make by hand.
"""

import os
import subprocess
import sys

from mshared.conductor import LOG_FILE, PID_FILE, conductor_alive, write_pid  # noqa: F401 (this API)


def expand_spec(spec: str, *, pgen: str | None, pargs: tuple, hashws: bool, max_instances: int | None = None):
    """The DAG and the warnings of mexpand for ``spec``, relative to this working directory."""
    from mexpand.core import MAX_INSTANCES, expand_file

    return expand_file(spec, cwd=os.getcwd(), pgen=pgen, pargs=pargs, hashws=hashws,
                       max_instances=max_instances or MAX_INSTANCES)


def bundle_override(items: tuple, off: bool) -> dict | None:
    """The state's settings.bundle from `--bundle KEY=VALUE...` / `--no-bundle`; None: neither."""
    from mshared.bundlesettings import OFF, parse_override

    if off:
        return {OFF: True}
    return parse_override(items) if items else None


def check_bundle(dag: dict, override: dict | None) -> None:
    """Refuse (InvalidInput, 65) an override that does not make sound settings with the spec's
    bundle block (or, without one, does not give them all), or that no step of ``dag`` could use."""
    from mshared.bundlesettings import check_study

    check_study(dag["study"], dag["steps"], override, "--bundle")


def render_study(dag: dict, root: str, settings: dict, *, force: bool, now, reuse=None) -> str:
    """mrender's study directory ``root`` for ``dag`` (reusing what the plan ``reuse`` says);
    returns ``root``."""
    from mrender.core import write_study

    return write_study(dag, root, settings, now=now, force=force, reuse=reuse)


def plan_reuse(dag: dict, old: str, root: str):
    """mrender's reuse plan of ``dag`` at ``root`` against the old study ``old``."""
    from mrender.core import plan_reuse as plan

    return plan(dag, old, root=root)


def show_plan(plan, dag: dict, root: str, fmt: str) -> bytes:
    from mrender.core import show_plan as show

    return show(plan, dag, root, fmt)


def start_conductor(root: str) -> int:
    """Start `maestro conductor ROOT` detached from this terminal; it survives logout.  Its
    output goes to logs/conductor.log (never world-writable)."""
    from mshared.jsonio import default_mode

    log = os.path.join(root, LOG_FILE)
    os.makedirs(os.path.dirname(log), mode=0o775, exist_ok=True)
    argv = [sys.executable, "-m", "maestro_cli", "conductor", root]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, default_mode())
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd,
                                start_new_session=True, close_fds=True, cwd=root)
    finally:
        os.close(fd)
    return proc.pid
