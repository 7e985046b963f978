"""`maestro run`: the tools' cores chained (expand, render), and the monitor loop started.

Nothing here decides anything a tool would not: a study launched by `maestro run` is the same
study that `mexpand | mrender`, `msubmit` and `mmonitor` make by hand.
"""

import os
import subprocess
import sys

PID_FILE = "conductor.pid"
LOG_FILE = os.path.join("logs", "conductor.log")


def expand_spec(spec: str, *, pgen: str | None, pargs: tuple, hashws: bool):
    """The DAG and the warnings of mexpand for ``spec``, relative to this working directory."""
    from mexpand.core import expand_file

    return expand_file(spec, cwd=os.getcwd(), pgen=pgen, pargs=pargs, hashws=hashws)


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
    """Start `maestro conductor ROOT` detached from this terminal; it survives logout."""
    log = os.path.join(root, LOG_FILE)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    argv = [sys.executable, "-m", "maestro_cli", "conductor", root]
    with open(log, "ab") as handle:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=handle,
                                start_new_session=True, close_fds=True, cwd=root)
    return proc.pid


def conductor_alive(root: str) -> int | None:
    """The pid of a live conductor of this study, or None (a stale pid file is ignored)."""
    from mshared.procstat import proc_stat

    try:
        with open(os.path.join(root, PID_FILE)) as handle:
            pid_text, _, ticks_text = handle.read().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    stat = proc_stat(pid)
    if stat is None or stat.state in ("Z", "X") or (ticks_text and str(stat.start_ticks) != ticks_text):
        return None
    return pid


def write_pid(root: str) -> None:
    from mshared.procstat import start_ticks

    pid = os.getpid()
    path = os.path.join(root, PID_FILE)
    with open(path + ".tmp", "w") as handle:
        handle.write(f"{pid} {start_ticks(pid)}\n")
    os.replace(path + ".tmp", path)
