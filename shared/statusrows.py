"""Maestro's status rows (status.csv and the report table): columns, durations and times."""

import csv
import io
from datetime import datetime, timezone

COLUMNS = ("Step Name", "Job ID", "Workspace", "State", "Run Time", "Elapsed Time", "Start Time",
           "Submit Time", "End Time", "Number Restarts", "Params")
NO_TIME = "--"
NO_DURATION = "--:--:--"


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def local_time(text: str | None) -> str:
    """'YYYY-MM-DD HH:MM:SS' in local time, as Maestro shows times; '--' when unknown."""
    moment = parse_iso(text)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else NO_TIME


def duration(start: str | None, end: str | None, now: datetime) -> str:
    """Maestro's 'Dd:HHh:MMm:SSs'; a running step counts up to ``now`` (Maestro left it blank)."""
    begin = parse_iso(start)
    if begin is None:
        return NO_DURATION
    finish = parse_iso(end) or now
    seconds = max(int(round((finish - begin).total_seconds())), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days}d:{hours:02d}h:{minutes:02d}m:{secs:02d}s"


def status_row(step: dict, entry: dict, now: datetime) -> list[str]:
    """One row, from the DAG step and its state entry."""
    params = ";".join(f"{k}:{v}" for k, v in sorted(step.get("params", {}).items()))
    return [
        step["id"], entry.get("job_id") or "--", step["workspace"], entry["state"],
        duration(entry.get("started"), entry.get("ended"), now),
        duration(entry.get("submitted"), entry.get("ended"), now),
        local_time(entry.get("started")), local_time(entry.get("submitted")), local_time(entry.get("ended")),
        str(entry.get("restarts", 0)), params,
    ]


def status_csv(dag_steps: list[dict], state_steps: dict, now: datetime) -> str:
    """status.csv text: Maestro's header and formats, properly quoted (Maestro's broke on commas)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for step in dag_steps:
        writer.writerow(status_row(step, state_steps[step["id"]], now))
    return out.getvalue()
