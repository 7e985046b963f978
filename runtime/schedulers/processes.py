"""Processes of this machine, read from /proc: what the local adapter needs to find a job's
processes and to stop them.

The local adapter also runs it as a command (``python -m mruntime.schedulers.processes kill-after
GRACE PID:TICKS ...``): a small detached helper that sends SIGKILL to what is left of cancelled
jobs once their grace period is over, so that a pass never waits for it.  /proc/PID/stat itself
is parsed once, in mshared.procstat.
"""

import glob
import os
import signal
import sys
import time

from mshared.procstat import ProcStat, proc_stat, start_ticks

POLL = 0.1     # seconds between the helper's looks at the jobs it may have to kill


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, parents first (from /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for path in glob.glob(f"/proc/{current}/task/*/children"):
            try:
                with open(path) as handle:
                    todo.extend(int(child) for child in handle.read().split())
            except OSError:
                pass
    return out


def terminate(pid: int) -> tuple[list[tuple[int, int]], int | None]:
    """SIGTERM to a job: its process group when it leads one (started directly), else the job's
    process and every descendant (a launched job shares the launcher's group).

    Returns what ``kill_after`` needs: the processes it found, as (pid, start ticks), taken before
    the signal (a process that ends leaves its children to init, where no one finds them as the
    job's), and the job's process group when it leads one."""
    members = [(member, ticks) for member in descendants(pid)
               if (ticks := start_ticks(member)) is not None]
    stat = proc_stat(pid)
    group = pid if stat is not None and stat.group == str(pid) else None
    try:
        if group is not None:
            os.killpg(group, signal.SIGTERM)
        else:
            for member, _ in members:
                os.kill(member, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    return members, group


def still_there(targets: list[tuple[int, int]]) -> list[int]:
    """The targets that are alive and are still the same process (a pid may be reused)."""
    alive = []
    for pid, ticks in targets:
        stat = proc_stat(pid)
        if stat is not None and stat.start_ticks == ticks and stat.state not in ("Z", "X"):
            alive.append(pid)
    return alive


def kill_tree(pids: list[int], groups: set[int]) -> None:
    """SIGKILL ``pids`` and everything below them.  They are stopped first, again and again until
    no new child appears, so none can fork a process that escapes.  A job's process ``groups``
    (jobs started directly) go as a whole, when a stopped process shows the group is still theirs."""
    stopped: dict[int, ProcStat] = {}
    todo = list(pids)
    while todo:
        fresh = []
        for pid in todo:
            for member in descendants(pid):
                stat = proc_stat(member)
                if member in stopped or stat is None or stat.state in ("Z", "X"):
                    continue
                try:
                    os.kill(member, signal.SIGSTOP)
                except (ProcessLookupError, PermissionError):
                    continue
                stopped[member] = stat
                fresh.append(member)
        todo = fresh
    for group in {int(stat.group) for stat in stopped.values()} & groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def kill_after(grace: float, targets: list[tuple[int, int]], groups: set[int]) -> None:
    """Wait until every target has ended or ``grace`` seconds have passed; SIGKILL what is left."""
    deadline = time.monotonic() + grace
    while still_there(targets):
        if time.monotonic() >= deadline:
            kill_tree(still_there(targets), groups)
            return
        time.sleep(POLL)


def kill_after_argv(grace: float, targets: list[tuple[int, int]], groups: set[int]) -> list[str]:
    """The helper's command line (run it detached)."""
    return [sys.executable, "-m", "mruntime.schedulers.processes", "kill-after", repr(grace),
            *(f"{pid}:{ticks}" for pid, ticks in targets), *(f"group:{group}" for group in sorted(groups))]


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "kill-after":
        sys.stderr.write("usage: processes.py kill-after GRACE PID:TICKS ... [group:PGID ...]\n")
        return 2
    pairs = [arg.partition(":") for arg in argv[2:]]
    targets = [(int(pid), int(ticks)) for pid, _, ticks in pairs if pid != "group"]
    kill_after(float(argv[1]), targets, {int(group) for kind, _, group in pairs if kind == "group"})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
