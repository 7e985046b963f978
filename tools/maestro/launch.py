"""`maestro run`: the tools' cores chained (expand, render), and the monitor loop started.

Nothing here decides anything a tool would not: a study launched by `maestro run` is the same
study that `mexpand | mrender`, `msubmit` and `mmonitor` make by hand.
"""

import os
import subprocess
import sys
from datetime import datetime

from mshared.errors import InvalidInput

PID_FILE = "conductor.pid"
LOG_FILE = os.path.join("logs", "conductor.log")


def expand_spec(spec: str, *, pgen: str | None, pargs: tuple, hashws: bool):
    """The DAG and the warnings of mexpand for ``spec`` (read, parsed and expanded as mexpand does)."""
    from mexpand.spec_input import expand_text, read_spec

    text, source, path = read_spec(spec)
    return expand_text(text, source, path, cwd=os.getcwd(), pgen=pgen, pargs=pargs, hashws=hashws)


def target_dir(dag: dict, out: str | None, now: datetime) -> str:
    from mrender import core

    stamp = now.astimezone().strftime("%Y%m%d-%H%M%S")
    return os.path.abspath(out) if out else core.default_output_dir(dag, stamp)


def render_study(dag: dict, root: str, settings: dict, *, force: bool, now: datetime) -> str:
    from mrender import core, writer

    stamp = now.astimezone().strftime("%Y%m%d-%H%M%S")
    try:
        plan = core.render(dag, root=root, settings=settings, now=now)
    except TypeError as err:   # orjson: an integer beyond 64 bits cannot go in a JSON document
        source = (dag["study"].get("spec") or {}).get("path") or "the spec"
        raise InvalidInput(f"{source}: {err}: a number in the spec is too large for the DAG; quote it "
                           "to use it as text") from None
    return writer.carry_out(plan, root, force=force, stamp=stamp)


def start_conductor(root: str, sleep: float | None = None) -> int:
    """Start `maestro conductor ROOT` detached from this terminal; it survives logout."""
    log = os.path.join(root, LOG_FILE)
    os.makedirs(os.path.dirname(log), exist_ok=True)
    argv = [sys.executable, "-m", "maestro_cli", "conductor", root]
    if sleep is not None:
        argv += ["--sleep", str(sleep)]
    with open(log, "ab") as handle:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=handle,
                                start_new_session=True, close_fds=True, cwd=root)
    return proc.pid


def conductor_alive(root: str) -> int | None:
    """The pid of a live conductor of this study, or None (a stale pid file is ignored)."""
    from mruntime.schedulers.processes import proc_stat

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
    from mruntime.schedulers.processes import start_ticks

    pid = os.getpid()
    path = os.path.join(root, PID_FILE)
    with open(path + ".tmp", "w") as handle:
        handle.write(f"{pid} {start_ticks(pid)}\n")
    os.replace(path + ".tmp", path)


