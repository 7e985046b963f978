"""Steps a `--reuse` run brought over from an earlier run instead of running them, as reports show
them: FINISHED (state names stay Maestro's), told apart by a field and a column.

A step is reused while it is FINISHED with ``reused_from`` and no job id of its own: a re-run
(`maestro rerun`) gives it one, and then it is a step of this study like any other.
"""

import csv
import io

from mshared import states as S

HEADER = "Reused From"     # the extra column of tables and CSV, only when a chosen step is reused
NONE = "--"


def origin(entry: dict) -> dict | None:
    """The step's ``reused_from`` while it is still the reused result, else None."""
    came = entry.get("reused_from")
    if came and entry.get("state") == S.FINISHED and not entry.get("job_id"):
        return came
    return None


def count(entries) -> int:
    # the field first: most studies have no reused step, and this runs over every entry
    return sum(1 for entry in entries if "reused_from" in entry and origin(entry))


def column(steps: list[dict], entries: dict) -> list[str] | None:
    """The old study each chosen step was reused from ('--' for the others); None when none was."""
    found = [origin(entries[s["id"]]) for s in steps]
    if not any(found):
        return None
    return [came["study"] if came else NONE for came in found]


def annotate(records: list[dict], entries: dict) -> None:
    """Add ``reused_from`` to the JSON records of reused steps (others stay as they were)."""
    for record in records:
        came = origin(entries[record["id"]])
        if came:
            record["reused_from"] = came


def add_csv_column(text: str, cells: list[str]) -> str:
    """status.csv ``text`` (header + one row per step, in order) with the column appended."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0] + [HEADER])
    writer.writerows(row + [cell] for row, cell in zip(rows[1:], cells))
    return out.getvalue()
