"""Reuse planning (mrender.reuse): which instances are reused, why the others run, the warnings,
the old study read and checked; and what a render with the plan writes."""

import json
import os
from pathlib import Path

import jsonschema
import pytest

from mrender.core import plan_reuse, write_study
from mrender.keys import KEYS_FILE
from mrender.whyplan import plan_document, plan_json, plan_table
from mshared.errors import InvalidInput
from mshared.statefile import read_state
from mshared.studydir import edit_state
from mshared.times import utcnow

from reuse_helpers import SPEC, decisions, make_study, new_dag

SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas"


def test_an_unchanged_study_is_reused_whole(tmp_path):
    old = make_study(tmp_path, "old")
    plan = plan_reuse(new_dag(tmp_path), old)
    assert set(decisions(plan).values()) == {("reuse", "same")}
    assert plan.warnings == [] and plan.counts()["reuse"] == 5


def test_a_new_parameter_value_runs_only_its_instance_and_the_funnel(tmp_path):
    old = make_study(tmp_path, "old")
    plan = plan_reuse(new_dag(tmp_path, SPEC.replace("[1, 2, 3]", "[1, 2, 4]")), old)
    assert decisions(plan) == {"prep": ("reuse", "same"), "sim_X.1": ("reuse", "same"),
                               "sim_X.2": ("reuse", "same"), "sim_X.4": ("run", "new"), "post": ("run", "parent")}
    assert {d.id: d.detail for d in plan.decisions}["post"] == "parent 'sim_X.4' runs"


@pytest.mark.parametrize("edit,why", [
    (("echo $(X) > out.txt", "echo $(X) >> out.txt"), "command"),
    (("echo $(X) > out.txt", "echo $(X)  >  out.txt"), "whitespace"),
    (("depends: [prep]}", "depends: [prep], nodes: 1}"), "header"),        # local: no header change
])
def test_the_first_reason_that_applies_is_given(tmp_path, edit, why):
    old = make_study(tmp_path, "old")
    spec = SPEC.replace(*edit)
    if why == "header":
        spec = SPEC.replace("study:\n", "batch: {type: slurm, queue: q}\nstudy:\n", 1).replace(*edit)
        old = make_study(tmp_path, "old2", spec=spec)
        spec = spec.replace("queue: q", "queue: r")
    got = decisions(plan_reuse(new_dag(tmp_path, spec), old))
    assert got["sim_X.1"] == ("run", why) and got["prep"] == ("reuse", "same") and got["post"] == ("run", "parent")


def test_a_changed_value_under_the_same_id_is_a_parameter_change(tmp_path):
    spec = SPEC.replace("label: X.%%", "label: [a, b, c]")
    old = make_study(tmp_path, "old", spec=spec)
    got = decisions(plan_reuse(new_dag(tmp_path, spec.replace("[1, 2, 3]", "[1, 2, 5]")), old))
    assert got["sim_c"] == ("run", "parameter") and got["sim_a"] == ("reuse", "same")


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED", "RUNNING", "PENDING", "UNKNOWN", "INITIALIZED",
                                   "TIMEDOUT", "DRYRUN"])
def test_only_finished_instances_are_reused(tmp_path, state):
    old = make_study(tmp_path, "old", states={"sim_X.2": state})
    got = decisions(plan_reuse(new_dag(tmp_path), old))
    assert got["sim_X.2"] == ("run", "not-finished") and got["post"] == ("run", "parent")
    assert got["sim_X.1"] == ("reuse", "same")


def test_nothing_is_reused_below_an_instance_that_runs(tmp_path):
    """A child that ran after its parent failed (after_failed_parents) must run again with it."""
    spec = SPEC.replace("depends: [sim_*]}", "depends: [sim_*], after_failed_parents: true}")
    old = make_study(tmp_path, "old", spec=spec, states={"sim_X.1": "FAILED"})
    got = decisions(plan_reuse(new_dag(tmp_path, spec), old))
    assert got["sim_X.1"] == ("run", "not-finished") and got["post"] == ("run", "parent")


def test_an_instance_with_the_key_of_another_id_is_reused_from_it(tmp_path):
    old = make_study(tmp_path, "old")
    spec = SPEC.replace("name: post, description: d", "name: post, description: e")   # local: same script
    plan = plan_reuse(new_dag(tmp_path, spec.replace("label: X.%%", "label: Y.%%")), old)
    by_id = {d.id: d for d in plan.decisions}
    assert by_id["sim_Y.1"].action == "reuse" and by_id["sim_Y.1"].source == "sim_X.1"
    assert by_id["sim_Y.1"].detail == "same key as 'sim_X.1'"


def test_a_mass_rerun_for_a_surprising_reason_is_a_warning(tmp_path):
    old = make_study(tmp_path, "old")
    plan = plan_reuse(new_dag(tmp_path, SPEC.replace("echo prep > ", "echo prep  > ")), old)
    assert plan.counts()["run"] == 5
    assert plan.warnings == [
        "5 of the 5 instances to run run again only because only whitespace changed in a command (first: "
        "'prep'); the key counts every character of a script: undo the change to reuse them"]


def test_no_warning_when_more_is_reused_or_the_change_is_real(tmp_path):
    old = make_study(tmp_path, "old")
    assert plan_reuse(new_dag(tmp_path, SPEC.replace("cat $(sim", "cat  $(sim")), old).warnings == []
    assert plan_reuse(new_dag(tmp_path, SPEC.replace("echo prep >", "echo prep2 >")), old).warnings == []


# ------------------------------------------------------------------ declared inputs
def with_input(path) -> str:
    return SPEC.replace("study:\n", f"reuse:\n  inputs:\n    sim: ['{path}']\nstudy:\n", 1)


def test_input_changes_are_told_apart(tmp_path):
    data = tmp_path / "mesh.dat"
    data.write_text("abc")
    old = make_study(tmp_path, "old", spec=with_input(data))
    later = data.stat().st_mtime_ns + 7 * 10**9
    os.utime(data, ns=(later, later))
    plan = plan_reuse(new_dag(tmp_path, with_input(data)), old)
    detail = {d.id: (d.why, d.detail) for d in plan.decisions}
    assert detail["sim_X.1"] == ("touched", f"input '{data}': new modification time, same size")
    assert any("declared input has a new modification time" in w for w in plan.warnings)
    data.write_text("abcd")
    detail = {d.id: (d.why, d.detail) for d in plan_reuse(new_dag(tmp_path, with_input(data)), old).decisions}
    assert detail["sim_X.1"] == ("input", f"input '{data}': size 3 -> 4 bytes")


def test_a_study_without_keys_has_them_computed_again_with_inputs_unknown(tmp_path):
    data = tmp_path / "mesh.dat"
    data.write_text("abc")
    old = make_study(tmp_path, "old", spec=with_input(data))
    os.unlink(Path(old, KEYS_FILE))
    plan = plan_reuse(new_dag(tmp_path, with_input(data)), old)
    assert plan.old.recomputed
    got = {d.id: (d.why, d.detail) for d in plan.decisions}
    assert got["prep"] == ("same", "")
    assert got["sim_X.1"] == ("input", f"input '{data}': not known from the old study (it kept no keys)")


# ------------------------------------------------------------------ the old study
def test_bad_old_studies_are_one_clear_error(tmp_path):
    dag = new_dag(tmp_path)
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    cases = {str(tmp_path / "nope"): "not a directory", str(tmp_path / "file"): "not a directory",
             str(tmp_path / "empty"): "no state file; is this a study directory made by mrender?"}
    for path, message in cases.items():
        with pytest.raises(InvalidInput, match=f"^--reuse {path}: .*{message}"):
            plan_reuse(dag, path)


def test_a_damaged_or_foreign_old_study_is_refused(tmp_path):
    old = make_study(tmp_path, "old")
    with pytest.raises(InvalidInput, match="a study of 'r', not of 'other'; --reuse takes an earlier run"):
        plan_reuse(new_dag(tmp_path, SPEC.replace("name: r,", "name: other,")), old)
    for target in (old, f"{old}/inside", str(tmp_path)):
        with pytest.raises(InvalidInput, match="the new study's own directory, or they lie one inside the other"):
            plan_reuse(new_dag(tmp_path), old, root=target)
    assert plan_reuse(new_dag(tmp_path), old, root=f"{old}-next").counts()["reuse"] == 5
    state = Path(old, "state.json")
    state.write_bytes(state.read_bytes().replace(b'"FINISHED"', b'"FAILED"', 1))
    with pytest.raises(InvalidInput, match=r"^--reuse .*/old: .*state.json: checksum mismatch"):
        plan_reuse(new_dag(tmp_path), old)


def test_a_newer_old_study_is_refused(tmp_path):
    old = make_study(tmp_path, "old")
    keys = Path(old, KEYS_FILE)
    keys.write_text(keys.read_text().replace('"version":1', '"version":9'))
    with pytest.raises(InvalidInput, match="maestro.keys version 9 is newer than this tool understands"):
        plan_reuse(new_dag(tmp_path), old)


# ------------------------------------------------------------------ the plan as shown
def test_the_plan_document_follows_its_schema(tmp_path, update_goldens):
    old = make_study(tmp_path, "old")
    plan = plan_reuse(new_dag(tmp_path, SPEC.replace("[1, 2, 3]", "[1, 2, 4]")), old)
    doc = plan_document(plan, new_dag(tmp_path), str(tmp_path / "new"))
    jsonschema.validate(doc, json.loads((SCHEMAS / "reuse-plan.v1.schema.json").read_text()))
    assert doc["summary"] == {"instances": 5, "reuse": 3, "run": 2, "why": {"new": 1, "parent": 1}}
    text = plan_json(plan, new_dag(tmp_path), str(tmp_path / "new")).decode().replace(str(tmp_path), "<TMP>")
    golden = Path(__file__).resolve().parents[1] / "golden" / "plans" / "new-value.json"
    if update_goldens or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_the_plan_table(tmp_path):
    old = make_study(tmp_path, "old")
    table = plan_table(plan_reuse(new_dag(tmp_path, SPEC.replace("[1, 2, 3]", "[1, 2, 4]")), old))
    assert table.splitlines() == [
        f"Plan: reuse 3 of 5 instances from {old}; run 2 (new 1, parent 1)", "",
        "ACTION  WHY     STEP     DETAIL",
        "reuse   same    prep",
        "reuse   same    sim_X.1",
        "reuse   same    sim_X.2",
        "run     new     sim_X.4  no instance with this id in the old study",
        "run     parent  post     parent 'sim_X.4' runs"]


# ------------------------------------------------------------------ rendering with the plan
def test_reused_instances_start_finished_with_their_files_and_origin(tmp_path):
    old = make_study(tmp_path, "old")
    before = read_state(old)
    new = make_study(tmp_path, "new", spec=SPEC.replace("[1, 2, 3]", "[1, 2, 4]"), reuse=old, default="INITIALIZED")
    state = read_state(new)
    entry = state["steps"]["sim_X.1"]
    assert entry["state"] == "FINISHED" and entry["job_id"] is None and entry["jobs"] == ["1001"]
    assert entry["reused_from"] == {"study": old, "step": "sim_X.1", "job_id": "1001"}
    assert entry["started"] == "2026-01-01T00:00:00Z"
    assert state["steps"]["sim_X.4"]["state"] == "INITIALIZED" and "reused_from" not in state["steps"]["post"]
    assert Path(new, "sim/X.1/result.txt").read_text() == "sim_X.1 in old\n"
    assert Path(new, "sim/X.1/sim_X.1.1001.out").exists()
    assert f"{new}/prep/prep.txt" in Path(new, "prep/prep.sh").read_text()   # its own script, not the old one
    assert read_state(old) == before                                  # the old study is only read


def test_reuse_goes_through_a_chain_of_studies(tmp_path):
    first = make_study(tmp_path, "first")
    second = make_study(tmp_path, "second", reuse=first)
    third = make_study(tmp_path, "third", reuse=second)
    entry = read_state(third)["steps"]["prep"]
    assert entry["reused_from"] == {"study": second, "step": "prep", "job_id": "1000"}
    assert Path(third, "prep/result.txt").read_text() == "prep in first\n"


def test_a_rerun_request_runs_a_reused_instance_again(tmp_path):
    """maestro rerun's request (mmonitor.core.request_rerun) makes a reused step INITIALIZED."""
    from mmonitor.core import request_rerun

    old = make_study(tmp_path, "old")
    dag = new_dag(tmp_path)
    new = write_study(dag, str(tmp_path / "new"), {}, now=utcnow(), reuse=plan_reuse(dag, old))
    assert request_rerun(new, "sim_X.2") == ["sim_X.2"]
    edit_state(new, lambda state, dag_: None)
    assert read_state(new)["requests"]["queue"] == [{"kind": "rerun", "steps": ["sim_X.2"], "subtree": False}]


def test_the_state_with_reused_steps_follows_its_schema(tmp_path):
    old = make_study(tmp_path, "old")
    new = make_study(tmp_path, "new", reuse=old, default="INITIALIZED")
    jsonschema.validate(read_state(new), json.loads((SCHEMAS / "state.v1.schema.json").read_text()))
