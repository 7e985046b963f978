"""Text helpers shared by the scheduler adapters: messages, numbers, times, key=value records.

Nothing here runs a command or raises: the adapters call ``Adapter.call`` and hand the text to
these functions; the rules they follow (refused vs unavailable, unknown ids) live in ``base``.
"""

from __future__ import annotations

import getpass
import os
import pwd
import re
import time
from datetime import datetime, timezone

from typing import TYPE_CHECKING

from mshared.times import iso_utc

if TYPE_CHECKING:
    from .base import CommandResult

# --------------------------------------------------------------------------- messages

_MAX_MESSAGE = 400


def clip(text: str | None, limit: int = _MAX_MESSAGE) -> str:
    """The scheduler's words on one line, without trailing noise, at most ``limit`` characters."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    joined = " | ".join(dict.fromkeys(lines))       # keep order, drop repeated retry lines
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def output_of(result: CommandResult) -> str:
    """stderr and stdout together (schedulers disagree about where errors go)."""
    return "\n".join(part for part in (result.stderr, result.stdout) if part and part.strip())


def describe(result: CommandResult) -> str:
    """``'sbatch' exited 1: <message>`` for error messages."""
    name = " ".join(result.argv[:2]) if result.argv else "command"
    msg = clip(output_of(result)) or "no output"
    return f"'{name}' exited {result.returncode}: {msg}"


def matches_any(text: str, patterns) -> bool:
    low = (text or "").lower()
    return any(p.lower() in low for p in patterns)


# --------------------------------------------------------------------------- numbers and ids

_LEADING_INT = re.compile(r"^\s*(\d+)")


def leading_int(text: str) -> str | None:
    m = _LEADING_INT.match(text or "")
    return m.group(1) if m else None


def to_int(text) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def to_float(text) -> float | None:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return None


def current_user() -> str:
    """The login name of this process (what schedulers call the job owner)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return getpass.getuser()


# --------------------------------------------------------------------------- times

def epoch_to_iso(value) -> str | None:
    """Seconds since the epoch (int/float/str) -> UTC ISO 'Z'; 0, negative or junk -> None."""
    seconds = to_float(value)
    if seconds is None or seconds <= 0:
        return None
    return iso_utc(datetime.fromtimestamp(seconds, tz=timezone.utc))


def local_to_iso(naive: datetime) -> str:
    """A wall-clock time printed by a scheduler in this machine's local time zone -> UTC 'Z'.

    ``datetime.astimezone`` on a naive value uses the local zone (honouring TZ), which is the
    zone the scheduler's client used to format it (clients format epoch times with localtime).
    """
    return iso_utc(naive.astimezone())


_NO_TIME = {"", "unknown", "none", "n/a", "-", "(null)"}


def slurm_time(text: str | None) -> str | None:
    """SLURM's ``2026-11-25T16:14:23`` (local time, no zone) -> UTC 'Z'; Unknown/None -> None."""
    if text is None or text.strip().lower() in _NO_TIME:
        return None
    try:
        return local_to_iso(datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None


def ctime_local(text: str | None) -> str | None:
    """PBS's ``Wed Mar 17 20:36:48 2021`` (local time) -> UTC 'Z'."""
    if not text:
        return None
    try:
        return local_to_iso(datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y"))
    except ValueError:
        return None


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_LSF_TIME = re.compile(
    r"^([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s+(\d{4}))?")


def lsf_time(text: str | None, now: float | None = None) -> str | None:
    """LSF's ``Oct 22 09:22[:33] [2024]`` (local time; the year only with LSB_DISPLAY_YEAR=Y, and
    a trailing flag letter such as ``L`` or ``E`` ignored) -> UTC 'Z'.  Without a year, the most
    recent such date not in the future is meant."""
    if not text:
        return None
    m = _LSF_TIME.match(text.strip())
    if not m or m.group(1) not in _MONTHS:
        return None
    month, day = _MONTHS[m.group(1)], int(m.group(2))
    hour, minute, second = int(m.group(3)), int(m.group(4)), int(m.group(5) or 0)
    now_dt = datetime.fromtimestamp(time.time() if now is None else now)
    year = int(m.group(6)) if m.group(6) else now_dt.year
    try:
        naive = datetime(year, month, day, hour, minute, second)
        if not m.group(6) and naive > now_dt:
            naive = naive.replace(year=year - 1)
    except ValueError:
        return None
    return local_to_iso(naive)


# --------------------------------------------------------------------------- key=value records

_KEY = re.compile(r"(?:^| )([A-Za-z][A-Za-z0-9_:/.\-]*)=")


def key_values(line: str) -> dict[str, str]:
    """Parse one ``Key=Value Key=Value ...`` line (``scontrol show job -o``).

    Values may contain spaces (WorkDir, JobName): a value runs up to the next `` Key=``.  The first
    occurrence of a key wins.
    """
    fields: dict[str, str] = {}
    starts = list(_KEY.finditer(line.rstrip("\n")))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(line.rstrip("\n"))
        key = m.group(1)
        if key not in fields:
            fields[key] = line[m.end():end].rstrip()
    return fields


def env_with(**values: str) -> dict[str, str]:
    """This process's environment plus ``values`` (run_command replaces the whole environment)."""
    env = dict(os.environ)
    env.update(values)
    return env
