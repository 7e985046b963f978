"""mreport's core on hand-made documents: summary, filters, --check, group-by, records."""

from datetime import datetime, timezone

import pytest

from mreport import core
from mshared.statefile import initial_step
from mshared.statusrows import Times

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


def step(sid, name, params=None, depends=()):
    return {"id": sid, "step": name, "workspace": sid.replace("_", "/", 1), "stem": sid,
            "params": params or {}, "depends": list(depends)}


def study(states: dict, **entry_fields) -> core.StudyFiles:
    """prep -> run_P.1 / run_P.2 / run_P.3 (P, Q) -> post; ``states``: id -> state."""
    steps = [step("prep", "prep"),
             step("run_P.1.Q.x", "run", {"P": 1, "Q": "x"}, ["prep"]),
             step("run_P.2.Q.y", "run", {"P": 2, "Q": "y"}, ["prep"]),
             step("run_P.3.Q.y", "run", {"P": 3, "Q": "y"}, ["prep"]),
             step("post", "post", {}, ["run_P.1.Q.x", "run_P.2.Q.y", "run_P.3.Q.y"])]
    entries = {}
    for s in steps:
        entries[s["id"]] = {**initial_step(), "state": states.get(s["id"], "INITIALIZED"),
                            **entry_fields.get(s["id"], {})}
    state = {"study": {"name": "demo", "created": "2026-11-25T10:00:00Z", "scheduler": "local"},
             "requests": {"cancel": False}, "updated": "2026-11-25T11:00:00Z", "steps": entries}
    dag = {"study": {"name": "demo", "parameters": {"order": ["P", "Q"]}}, "steps": steps}
    return core.StudyFiles("/s", state, dag)


ALL_DONE = {k: "FINISHED" for k in ("prep", "run_P.1.Q.x", "run_P.2.Q.y", "run_P.3.Q.y", "post")}


def test_summary_counts_in_maestros_state_order_and_elapsed_while_running():
    s = study({"prep": "FINISHED", "run_P.1.Q.x": "RUNNING", "run_P.2.Q.y": "FAILED"})
    summary = core.summarise(s.state, 5, NOW)
    assert list(summary["counts"].items()) == [("INITIALIZED", 2), ("RUNNING", 1), ("FINISHED", 1), ("FAILED", 1)]
    assert summary["status"] == "RUNNING" and summary["total"] == 5
    assert summary["elapsed_seconds"] == 2 * 3600      # created .. now


def test_elapsed_of_an_ended_study_stops_at_the_last_end():
    ends = {sid: {"ended": f"2026-11-25T10:{m:02d}:00Z"} for m, sid in enumerate(ALL_DONE)}
    summary = core.summarise(study(ALL_DONE, **ends).state, 5, NOW)
    assert summary["status"] == "FINISHED" and summary["last_end"] == "2026-11-25T10:04:00Z"
    assert summary["elapsed_seconds"] == 4 * 60


def test_summary_line():
    report = core.build(study({"prep": "FINISHED"}), NOW, steps=("prep",))
    assert core.summary_line(report) == ("demo (/s): RUNNING, elapsed 0d:02h:00m:00s; 5 steps: "
                                         "4 INITIALIZED, 1 FINISHED; 1 chosen")


@pytest.mark.parametrize("states, steps, expected", [
    ((), (), ["prep", "run_P.1.Q.x", "run_P.2.Q.y", "run_P.3.Q.y", "post"]),
    (("failed",), (), ["run_P.2.Q.y"]),
    ((), ("run",), ["run_P.1.Q.x", "run_P.2.Q.y", "run_P.3.Q.y"]),
    ((), ("post", "run_P.3.Q.y"), ["run_P.3.Q.y", "post"]),
    ((), ("*Q.y",), ["run_P.2.Q.y", "run_P.3.Q.y"]),
    ((), ("p*",), ["prep", "post"]),
    (("INITIALIZED",), ("run",), ["run_P.3.Q.y"]),
    ((), ("nothing",), []),
])
def test_select(states, steps, expected):
    s = study({"prep": "FINISHED", "run_P.1.Q.x": "RUNNING", "run_P.2.Q.y": "FAILED"})
    assert core.select(s, states, steps) == expected


def test_select_without_a_dag_uses_the_state():
    s = study({"prep": "FINISHED"})
    s.dag = None
    assert core.select(s, ("FINISHED",)) == ["prep"]


@pytest.mark.parametrize("states, code", [
    (["FINISHED", "FINISHED"], 0),
    (["DRYRUN", "FINISHED"], 0),
    ([], 0),
    (["FINISHED", "PENDING"], 3),
    (["FAILED", "RUNNING"], 3),          # still going: a script waiting on 3 keeps waiting
    (["FAILED", "FINISHED"], 4),
    (["TIMEDOUT"], 4),
    (["CANCELLED", "FINISHED"], 4),
    (["UNKNOWN"], 3),
    (["HWFAILURE"], 3),
])
def test_check_code(states, code):
    assert core.check_code(states) == code


def test_group_counts_in_order_of_first_appearance_with_none_for_steps_without_the_parameter():
    s = study({"prep": "FINISHED", "run_P.1.Q.x": "FINISHED", "run_P.2.Q.y": "FAILED"})
    ids = core.select(s)
    assert core.group_counts(s, ids, ["Q"]) == [
        {"values": {"Q": None}, "total": 2, "counts": {"INITIALIZED": 1, "FINISHED": 1}},
        {"values": {"Q": "x"}, "total": 1, "counts": {"FINISHED": 1}},
        {"values": {"Q": "y"}, "total": 2, "counts": {"INITIALIZED": 1, "FAILED": 1}}]
    assert [g["values"] for g in core.group_counts(s, ids[1:4], ["Q", "P"])] == [
        {"Q": "x", "P": 1}, {"Q": "y", "P": 2}, {"Q": "y", "P": 3}]
    assert core.group_counts(s, [], ["Q"]) == []


def test_group_by_a_parameter_no_step_uses():
    s = study({})
    with pytest.raises(core.BadOption, match="parameters are: P, Q") as err:
        core.group_counts(s, core.select(s), ["R"])
    assert err.value.exit_code == 2


def test_step_records_durations_count_to_now_while_running():
    fields = {"run_P.1.Q.x": {"job_id": "7", "jobs": ["7"], "submitted": "2026-11-25T11:00:00Z",
                              "started": "2026-11-25T11:30:00Z", "attempts": 1, "restarts": 1}}
    s = study({"run_P.1.Q.x": "RUNNING"}, **fields)
    [record] = core.step_records([s.dag["steps"][1]], s.state["steps"], Times(NOW))
    assert record == {"id": "run_P.1.Q.x", "step": "run", "state": "RUNNING", "job_id": "7", "jobs": ["7"],
                      "workspace": "run/P.1.Q.x", "params": {"P": 1, "Q": "x"}, "exit_code": None,
                      "submitted": "2026-11-25T11:00:00Z", "started": "2026-11-25T11:30:00Z", "ended": None,
                      "run_seconds": 1800, "elapsed_seconds": 3600, "restarts": 1, "attempts": 1, "reason": None,
                      "round": 1}


def test_why_record():
    entry = {"exit_code": 3, "reason": "exit code 3"}
    assert core.why_record(entry, {"path": "a/a.1.err", "lines": ["x"]}) == {
        "exit_code": 3, "reason": "exit code 3", "stderr": "a/a.1.err", "tail": ["x"]}
    assert core.why_record({"reason": "parent 'a' failed"}, None) == {
        "exit_code": None, "reason": "parent 'a' failed", "stderr": None, "tail": []}


def test_report_doc_views():
    s = study({"prep": "FINISHED"})
    doc = core.report_doc(core.build(s, NOW), steps=[])
    assert doc["schema"] == "maestro.report" and doc["version"] == 1 and doc["generated"] == "2026-11-25T12:00:00Z"
    assert doc["study"] == {"name": "demo", "root": "/s", "scheduler": "local", "created": "2026-11-25T10:00:00Z",
                            "updated": "2026-11-25T11:00:00Z"}
    assert "groups" not in doc and doc["steps"] == []
    grouped = core.report_doc(core.build(s, NOW, group_by=("P",)), steps=None)
    assert grouped["group_by"] == ["P"] and "steps" not in grouped and len(grouped["groups"]) == 4


def test_needs_dag():
    assert not core.needs_dag("summary", (), "json")
    assert core.needs_dag("summary", ("run",), "table")
    assert core.needs_dag("steps", (), "table") and core.needs_dag("groups", (), "csv")
