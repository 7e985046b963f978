"""The intent journal, `<root>/intents.jsonl`: a loop's intents to submit, on disk before any job.

Exactly once needs a trace on disk before the scheduler sees a job.  A single pass writes its
intents into state.json; a loop, which makes a pass for every finished local job, appends them
here instead: one short line per step, where a state.json rewrite serialises the whole study.
The lines are written and read under the study lock only.  Whoever reads state.json from disk
merges the journal into it (``merge``); once a state.json that holds them is written, the lines
are spent and the journal is emptied (``clear``).  A line whose step has moved on since (it has
a job, an intent or another attempt) is stale and ignored, so a left-over line is harmless.
"""

import os

import orjson

from mshared.jsonio import append, dumps
from mshared.reading import read_regular
from mshared.statefile import MAX_STATE_BYTES

FILE = "intents.jsonl"
SCHEMA, VERSION = "maestro.intent", 1


def path(root: str) -> str:
    return os.path.join(root, FILE)


def record(root: str, steps: dict, step_ids: list[str], durable: bool) -> int:
    """Append the intents of ``step_ids`` (already set in ``steps``); fsync when ``durable``.
    Returns the journal's new size."""
    # the leading newline ends a line torn by a crash mid-write, so it cannot swallow these
    lines = b"\n" + b"".join(dumps({"schema": SCHEMA, "version": VERSION, "step": sid, "jobs": len(steps[sid]["jobs"]),
                            **steps[sid]["intent"]}) for sid in step_ids)
    size = append(path(root), lines)
    if durable:
        fd = os.open(path(root), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return size


def merge(root: str, steps: dict) -> list[str]:
    """Put the journal's live intents into ``steps``; returns their step ids (a torn or foreign
    line is skipped: a crash can cut the last line short)."""
    try:
        data = read_regular(path(root), MAX_STATE_BYTES, "the intent journal")
    except FileNotFoundError:
        return []
    merged = []
    for line in data.splitlines():
        try:
            doc = orjson.loads(line)
            sid, attempt, at, jobs = doc["step"], doc["attempt"], doc["at"], doc["jobs"]
        except (ValueError, KeyError, TypeError):
            continue
        entry = steps.get(sid) if isinstance(sid, str) else None
        if (entry is not None and doc.get("schema") == SCHEMA and entry["state"] == "INITIALIZED"
                and not entry.get("intent") and len(entry["jobs"]) == jobs and attempt == entry["attempts"] + 1):
            entry["intent"] = {"attempt": attempt, "at": at}
            merged.append(sid)
    return merged


def clear(root: str) -> None:
    """Empty the journal (its lines are in the state.json just written)."""
    try:
        os.truncate(path(root), 0)
    except FileNotFoundError:
        pass
