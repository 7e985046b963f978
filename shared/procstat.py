"""What Linux's /proc/PID/stat says of a process: is it alive, and is it still the same process
(its start time tells a reused pid apart).  Used by the maestro wrapper's conductor pid file; the
local scheduler (mruntime.schedulers.local) needs the same facts of its jobs."""

from typing import NamedTuple


class ProcStat(NamedTuple):
    """What /proc/PID/stat says of a process: its state letter (field 3: "Z" zombie, "X" dead),
    its process group and session ids (fields 5 and 6) and its start time (field 22, clock ticks
    since boot)."""

    state: str
    group: str
    session: str
    start_ticks: int


def start_ticks(pid: int) -> int | None:
    """Process start time (clock ticks since boot), or None if the process is gone."""
    stat = proc_stat(pid)
    return stat.start_ticks if stat else None


def proc_stat(pid: int) -> ProcStat | None:
    """/proc/PID/stat parsed, or None when the process is gone (or /proc cannot say)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read().decode("ascii", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = data[data.rindex(")") + 2:].split()
    return ProcStat(fields[0], fields[2], fields[3], int(fields[19]))
