"""A study's conductor, the monitor loop that `maestro run` and `maestro conductor` start: its pid
file and its log.  The wrapper writes them; mreport, `maestro status` and `maestro run --force`
read them to tell whether anything is monitoring a study.

`<root>/conductor.pid` holds "PID START_TICKS" (start time from /proc, so a reused pid is not
taken for the conductor).  `<root>/logs/conductor.log` gets one line when a conductor starts and
one saying why it ended, whenever it can (not after SIGKILL).
"""

import os
from typing import NamedTuple

from .errors import InvalidInput
from .jsonio import append, write_atomic
from .procstat import proc_stat, start_ticks
from .reading import read_regular
from .times import iso_utc, utcnow

PID_FILE = "conductor.pid"
LOG_FILE = os.path.join("logs", "conductor.log")
_PID_BYTES = 100


class Conductor(NamedTuple):
    """What conductor.pid says: ``pid`` of a live conductor (None when none), and why not."""

    pid: int | None
    why_not: str | None = None     # "no conductor.pid", "pid 123 has ended"


def conductor(root: str) -> Conductor:
    """The study's live conductor, if any (a stale or unreadable pid file means none)."""
    path = os.path.join(root, PID_FILE)
    try:
        text = read_regular(path, _PID_BYTES, "the conductor pid file").decode("ascii")
        pid_text, _, ticks_text = text.strip().partition(" ")
        pid = int(pid_text)
    except FileNotFoundError:
        return Conductor(None, f"no {PID_FILE}")
    except (OSError, ValueError, InvalidInput):
        return Conductor(None, f"{PID_FILE} is unreadable")
    stat = proc_stat(pid)
    if stat is None or stat.state in ("Z", "X") or (ticks_text and str(stat.start_ticks) != ticks_text):
        return Conductor(None, f"pid {pid} has ended")
    return Conductor(pid)


def conductor_alive(root: str) -> int | None:
    """The pid of a live conductor of this study, or None."""
    return conductor(root).pid


def write_pid(root: str) -> None:
    """Record this process as the study's conductor (never world-writable: a forged pid would
    keep `maestro conductor` from starting)."""
    pid = os.getpid()
    write_atomic(os.path.join(root, PID_FILE), f"{pid} {start_ticks(pid)}\n".encode("ascii"), durable=False)


def log_line(root: str, text: str) -> None:
    """Append '<UTC time> conductor <pid>: <text>' to logs/conductor.log; quietly nothing when
    the log cannot be written (a full disk must not hide why the conductor ended)."""
    line = f"{iso_utc(utcnow())} conductor {os.getpid()}: {text}\n"
    try:
        os.makedirs(os.path.join(root, "logs"), mode=0o775, exist_ok=True)
        append(os.path.join(root, LOG_FILE), line.encode("utf-8", "replace"))
    except OSError:
        pass
