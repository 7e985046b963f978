"""The intent journal of earlier releases (intents.jsonl): merged by whoever reads the state,
ignored once stale, emptied when a state that holds them is written."""

import orjson

from mruntime.engine import journal
from mshared.statefile import initial_step

AT = "2026-01-02T03:04:05Z"


def steps(*ids):
    return {sid: initial_step() for sid in ids}


def record(root, steps_, ids):
    """Lines as earlier releases appended them: a newline first (it ends a torn line), then one
    line per step."""
    lines = b"\n" + b"".join(orjson.dumps({"schema": journal.SCHEMA, "version": journal.VERSION, "step": sid,
                                            "jobs": len(steps_[sid]["jobs"]), **steps_[sid]["intent"]}) + b"\n"
                              for sid in ids)
    with open(journal.path(root), "ab") as handle:
        handle.write(lines)


def test_live_lines_are_merged_and_stale_or_torn_ones_ignored(tmp_path):
    mine = steps("a", "b", "c", "d")
    for sid in mine:
        mine[sid]["intent"] = {"attempt": 1, "at": AT}
    record(str(tmp_path), mine, ["a", "b", "c", "d"])
    with open(journal.path(str(tmp_path)), "ab") as handle:
        handle.write(b'{"schema": "maestro.intent", "step": "a", "att')   # a writer killed mid-line
    on_disk = steps("a", "b", "c", "d")
    on_disk["b"].update(state="PENDING", job_id="7", jobs=["7"], attempts=1)   # it got its job
    on_disk["c"].update(attempts=1, not_before=AT)                            # refused once since
    on_disk["d"]["intent"] = {"attempt": 1, "at": "2026-01-02T03:04:00Z"}     # already in the state
    more = steps("e")
    more["e"]["intent"] = {"attempt": 1, "at": AT}
    record(str(tmp_path), more, ["e"])               # after the torn line
    on_disk["e"] = initial_step()
    assert journal.merge(str(tmp_path), on_disk) == ["a", "e"]
    assert on_disk["a"]["intent"] == {"attempt": 1, "at": AT}
    assert on_disk["b"]["intent"] is None and on_disk["c"]["intent"] is None
    assert on_disk["d"]["intent"]["at"] == "2026-01-02T03:04:00Z"


def test_a_line_of_another_study_step_or_schema_is_ignored(tmp_path):
    (tmp_path / journal.FILE).write_bytes(
        b'{"schema": "other", "step": "a", "attempt": 1, "at": "x", "jobs": 0}\n'
        b'{"schema": "maestro.intent", "step": "zz", "attempt": 1, "at": "x", "jobs": 0}\n'
        b'[1, 2]\n')
    assert journal.merge(str(tmp_path), steps("a")) == []


def test_clear_empties_it_and_a_missing_journal_is_empty(tmp_path):
    assert journal.merge(str(tmp_path), steps("a")) == []
    journal.clear(str(tmp_path))
    mine = steps("a")
    mine["a"]["intent"] = {"attempt": 1, "at": AT}
    record(str(tmp_path), mine, ["a"])
    assert (tmp_path / journal.FILE).stat().st_size > 0
    journal.clear(str(tmp_path))
    assert (tmp_path / journal.FILE).read_bytes() == b""
