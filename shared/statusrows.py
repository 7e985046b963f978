"""Maestro's status rows (status.csv and mreport's tables): columns, durations and times.

``Times`` formats the rows of one status.csv or report.  It parses each distinct timestamp once
and formats each distinct second once: a large study shares most of its seconds, and
strptime/strftime per cell would dominate the run time.
"""

import csv
import io
import time
from datetime import datetime
from operator import itemgetter, methodcaller

from .printable import csv_cell, csv_column

COLUMNS = ("Step Name", "Job ID", "Workspace", "State", "Run Time", "Elapsed Time", "Start Time",
           "Submit Time", "End Time", "Number Restarts", "Params")
TABLE_COLUMNS = COLUMNS[:-1]   # Maestro's flat and legacy tables leave out Params
NO_TIME = "--"
NO_DURATION = "--:--:--"
_EPOCH = datetime(1970, 1, 1)


def iso_seconds(text: str) -> float:
    """Seconds since the epoch of a 'YYYY-MM-DDTHH:MM:SSZ' timestamp (ValueError otherwise)."""
    if len(text) != 20 or text[10] != "T" or text[19] != "Z":
        raise ValueError(f"not a UTC timestamp 'YYYY-MM-DDTHH:MM:SSZ': {text!r}")
    return (datetime.fromisoformat(text[:19]) - _EPOCH).total_seconds()


def format_duration(seconds: int | None) -> str:
    """Maestro's 'Dd:HHh:MMm:SSs', or '--:--:--' for None."""
    if seconds is None:
        return NO_DURATION
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}d:{hours:02d}h:{minutes:02d}m:{secs:02d}s"


class Times:
    """Times of one report as of ``now``: local-time strings, durations, seconds between stamps."""

    def __init__(self, now: datetime):
        self.now = now.timestamp()
        self._seconds: dict[str, float] = {}
        self._local: dict = {None: NO_TIME, "": NO_TIME}
        self._durations: dict[int | None, str] = {None: NO_DURATION}

    def epoch(self, text: str | None) -> float | None:
        if not text:
            return None
        value = self._seconds.get(text)
        if value is None:
            value = self._seconds[text] = iso_seconds(text)
        return value

    def local(self, text: str | None) -> str:
        """'YYYY-MM-DD HH:MM:SS' in local time, as Maestro shows times; '--' when unknown."""
        value = self._local.get(text)
        if value is None:
            value = self._local[text] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.epoch(text)))
        return value

    def seconds(self, start: str | None, end: str | None) -> int | None:
        """Whole seconds from ``start`` to ``end``; a step still going counts up to ``now``."""
        begin = self.epoch(start)
        if begin is None:
            return None
        finish = self.epoch(end) if end else self.now
        return max(int(round(finish - begin)), 0)

    def columns(self, steps, entries: dict, params: bool = True, extra: tuple = ()) -> list[list[str]]:
        """The status table of ``steps`` (DAG steps; ``entries``: id -> state entry) column by
        column: all of COLUMNS, or without Params when ``params`` is False; then a column for
        each field named in ``extra`` (its value, or '--').  ``shared_rows`` as plain lists, for
        Python callers (mreport draws from ``shared_rows`` itself)."""
        ids, jobs, workspaces, shared = self.shared_rows(steps, entries, extra)
        timed = [column.cells() for column in shared.columns()]
        out = [ids, jobs, workspaces, *timed[:7]]
        if params:
            out.append([params_text(s) for s in steps])
        return out + timed[7:]

    def shared_rows(self, steps, entries: dict, extra: tuple = ()):
        """The Step Name, Job ID and Workspace columns of ``steps`` and, as SharedCells, their
        State, time and Restarts cells, then one for each field named in ``extra``.

        This is the inner loop of a large report.  A step's State, time and Restarts cells
        follow from five fields of its entry, and most steps of a large study share them with
        many others (queued together, ended in the same second): each distinct five (and
        ``extra`` fields: a bundle's allocation and node) are formatted once (``cells``).
        """
        ids = [s["id"] for s in steps]
        got = entries_of(ids, entries)
        numbers: dict[tuple, int] = {}
        distinct: list[tuple] = []
        index: list[int] = []
        add, find, make, keep = index.append, numbers.get, self.cells, distinct.append
        if extra:
            first, second = extra       # the only use: Allocation and Node
            for e in got:
                key = (e["state"], e.get("started"), e.get("submitted"), e.get("ended"), e.get("restarts", 0),
                       e.get(first), e.get(second))
                number = find(key)
                if number is None:
                    number = numbers[key] = len(distinct)
                    keep((*make(*key[:5]), key[5] or NO_TIME, key[6] or NO_TIME))
                add(number)
        else:
            for e in got:
                key = (e["state"], e.get("started"), e.get("submitted"), e.get("ended"), e.get("restarts", 0))
                number = find(key)
                if number is None:
                    number = numbers[key] = len(distinct)
                    keep(make(*key))
                add(number)
        jobs = [e.get("job_id") or "--" for e in got]
        workspaces = [s["workspace"] for s in steps]
        return ids, jobs, workspaces, SharedCells(distinct, index, 7 + len(extra))

    def cells(self, state, started, submitted, ended, restarts) -> tuple:
        """State, Run Time, Elapsed Time, Start Time, Submit Time, End Time, Number Restarts."""
        finish = self.epoch(ended) if ended else self.now
        return (state, self._duration(started, finish), self._duration(submitted, finish), self.local(started),
                self.local(submitted), self.local(ended), str(restarts))

    def finish(self, ended: list) -> list[float]:
        """Epoch seconds of each end, or of ``now`` for a step not ended."""
        seconds, epoch, now = self._seconds, self.epoch, self.now
        return [(seconds.get(t) or epoch(t)) if t else now for t in ended]

    def spans(self, starts: list, finish: list[float]) -> list[int | None]:
        """Whole seconds from each start (None: not started) to its finish (from ``finish``)."""
        seconds, epoch = self._seconds, self.epoch
        return [max(round(end - (seconds.get(start) or epoch(start))), 0) if start else None
                for start, end in zip(starts, finish)]

    def _duration(self, start: str | None, finish: float) -> str:
        """The duration cell from ``start`` (None: not started) to ``finish`` (epoch seconds)."""
        value = max(round(finish - self.epoch(start)), 0) if start else None
        text = self._durations.get(value)
        if text is None:
            text = self._durations[value] = format_duration(value)
        return text


class SharedCells:
    """Cells that many rows share, each distinct tuple of them once: row k's are
    ``distinct[index[k]]`` (``width`` cells each).  Every distinct tuple is some row's (a table
    measures its columns on them)."""

    __slots__ = ("distinct", "index", "width")

    def __init__(self, distinct: list[tuple], index: list[int], width: int):
        self.distinct, self.index, self.width = distinct, index, width

    def columns(self) -> list["SharedColumn"]:
        return [SharedColumn(self, position) for position in range(self.width)]


class SharedColumn:
    """One column of SharedCells: the cell at ``position`` of each row's tuple.  A table drawn
    row by row can format each distinct tuple's cells once (mreport's flat layout)."""

    __slots__ = ("shared", "position")

    def __init__(self, shared: SharedCells, position: int):
        self.shared, self.position = shared, position

    def distinct(self) -> list[str]:
        """This column's cell of each distinct tuple."""
        return [cells[self.position] for cells in self.shared.distinct]

    def cells(self) -> list[str]:
        """The column, a cell per row."""
        return list(map(self.distinct().__getitem__, self.shared.index))


_ID, _WORKSPACE, _STATE = itemgetter("id"), itemgetter("workspace"), itemgetter("state")
_STARTED, _SUBMITTED = methodcaller("get", "started"), methodcaller("get", "submitted")
_ENDED, _RESTARTS = methodcaller("get", "ended"), methodcaller("get", "restarts", 0)
_KEY = itemgetter("state", "started", "submitted", "ended", "restarts")   # of an entry as written
_JOB = itemgetter("job_id")
_LINE = "%s,%s,%s,%s,%s".__mod__      # Step Name, Job ID, Workspace, the shared cells, Params


def entries_of(ids: list[str], state_steps: dict) -> list[dict]:
    """The state entries of ``ids``, in order.  The state keeps its steps in DAG order, so when
    ``ids`` are all of them in that order the entries are its values as they stand: comparing
    the ids costs less than looking up each one (the ids of a view, freshly read, are not hashed)."""
    if len(ids) == len(state_steps) and ids == list(state_steps):
        return list(state_steps.values())
    return list(map(state_steps.__getitem__, ids))


def status_csv(dag_steps: list[dict], state_steps: dict, now: datetime) -> str:
    """status.csv text: Maestro's header and formats, properly quoted (Maestro's broke on commas).

    Cells of user data (id, job id, workspace, state, restarts, params) go through ``printable.csv_cell``:
    control characters escaped, a leading `=`, `+`, `-` or `@` neutralised with a `'`.
    """
    ids = list(map(_ID, dag_steps))
    return status_csv_of(ids, csv_column(list(map(_WORKSPACE, dag_steps))),
                         csv_column(list(map(params_text, dag_steps))), state_steps, now)


def status_csv_of(ids: list[str], workspaces: list[str], params: list[str], state_steps: dict,
                  now: datetime) -> str:
    """``status_csv`` of the steps ``ids`` (in order) whose Workspace and Params cells are given,
    made safe already (``csv_column``): a pass may keep them (mshared.dagview's CSV view).

    A large study's file is rewritten while it runs, so it is made column by column with C-level
    sweeps (map, zip): a row's State, time and Restarts cells follow from five fields of its entry
    that most steps share with many others (queued together, ended in the same second), so each
    distinct five are formatted once, as one piece of the line.  When no cell holds a comma, a
    quote or a line break (checked on the whole text at once) the lines are the file; otherwise
    the rows that need it are quoted by the csv writer (the same bytes as writing every row with it).
    """
    times = Times(now)
    got = entries_of(ids, state_steps)
    try:
        keys = list(map(_KEY, got))
        jobs = list(map(_JOB, got))
    except KeyError:        # an entry without one of them (an earlier release's): field by field
        keys = list(zip(map(_STATE, got), map(_STARTED, got), map(_SUBMITTED, got), map(_ENDED, got),
                        map(_RESTARTS, got)))
        jobs = list(map(methodcaller("get", "job_id"), got))
    if None in jobs or "" in jobs:
        jobs = [job or NO_TIME for job in jobs]
    shared = {key: _shared_cells(times, key) for key in set(keys)}
    joined = {key: ",".join(cells) for key, cells in shared.items()}
    columns = (csv_column(ids), csv_column(jobs), workspaces)
    lines = list(map(_LINE, zip(*columns, map(joined.__getitem__, keys), params)))
    header = ",".join(COLUMNS)
    text = "\n".join(lines)
    commas = len(COLUMNS) - 1
    if (text.count(",") == commas * len(lines) and text.count("\n") == len(lines) - 1
            and '"' not in text and "\r" not in text):
        return header + "\n" + text + "\n" if lines else header + "\n"
    out = io.StringIO()              # some cell needs quoting: find the rows that do
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for at, line in enumerate(lines):
        if line.count(",") == commas and '"' not in line and "\n" not in line and "\r" not in line:
            out.write(line + "\n")
        else:
            writer.writerow((*(column[at] for column in columns), *shared[keys[at]], params[at]))
    return out.getvalue()


def _shared_cells(times: Times, key: tuple) -> tuple:
    """The cells that follow from (state, started, submitted, ended, restarts): State, Run Time,
    Elapsed Time, Start Time, Submit Time, End Time, Number Restarts, made safe for CSV."""
    state, run, elapsed, start, submit, end, restarts = times.cells(*key)
    return (csv_cell(state), run, elapsed, start, submit, end, csv_cell(restarts))


def params_text(step: dict) -> str:
    """The Params cell: 'KEY:value' pairs by key, joined with ';' (a pass view has it ready)."""
    text = step.get("params_text")
    if text is not None:
        return text
    return ";".join(f"{k}:{v}" for k, v in sorted(step.get("params", {}).items()))
