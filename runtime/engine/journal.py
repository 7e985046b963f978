"""`<root>/intents.jsonl`: the intents of loops of earlier releases (before the state's journal).

Those releases appended a loop's intents here, one line per step, before any job existed, and
emptied the file once a state.json holding them was written.  A study started by such a release
may still hold live lines: whoever reads the state from disk merges them (``merge``), and the
next write of state.json empties the file (``clear``).  A line whose step has moved on since (it
has a job, an intent or another attempt) is stale and ignored, so a left-over line is harmless.
Nothing writes new lines: intents are now lines of the state's journal (mshared.statejournal).
"""

import os

import orjson

from mshared.reading import read_regular
from mshared.statefile import MAX_STATE_BYTES

FILE = "intents.jsonl"
SCHEMA, VERSION = "maestro.intent", 1


def path(root: str) -> str:
    return os.path.join(root, FILE)


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
