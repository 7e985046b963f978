"""mreport for studies that grow: each step's round, its result file (--result or the spec's
extend.result, bounded), the study's extension record; schema and a golden file."""

import json
import os
import sys
from importlib import resources

import jsonschema
import pytest
from click.testing import CliRunner

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit"))

from extend_helpers import LOOP, finish, make  # noqa: E402
from mextend.core import extend_study  # noqa: E402
from mreport.cli import main  # noqa: E402
from mshared.statefile import read_state, write_state  # noqa: E402
from mshared.times import utcnow  # noqa: E402
from test_mreport_golden import check, normalise  # noqa: E402

NOW = "2026-11-25T12:00:00Z"
AT = "2026-11-25T11:00:00Z"


def run(args, code=0):
    result = CliRunner().invoke(main, ["--now", NOW, *args], catch_exceptions=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture
def grown(tmp_path):
    """The LOOP study grown by two combinations, its sims ended (one with a result, one without,
    one too large), times fixed."""
    root = make(tmp_path)
    extend_study(root, [(1, {"X": 1}), (2, {"X": 2}), (3, {"X": "big"})], now=utcnow())
    finish(root, "setup", "decide", "sim_X.1", "sim_X.2", "sim_X.big")
    state = read_state(root)
    state["study"]["created"] = state["updated"] = AT
    for entry in state["steps"].values():
        entry.update({k: AT for k in ("submitted", "started", "ended") if entry["state"] == "FINISHED"})
    state["extension"]["rounds"][0]["at"] = AT
    write_state(root, state)
    open(os.path.join(root, "sim", "X.1", "result.json"), "w").write('{"loss": 0.5}\n')
    open(os.path.join(root, "sim", "X.big", "result.json"), "w").write("x" * (64 * 1024 + 1))
    open(os.path.join(root, "setup", "result.json"), "w").write("plain text\n")
    return root


def test_the_specs_result_file_and_the_rounds_are_in_the_json(grown):
    doc = json.loads(run([grown, "--format", "json"]).stdout)
    jsonschema.validate(doc, json.loads(resources.files("mshared").joinpath("schemas/report.v1.schema.json").read_text()))
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["sim_X.1"]["result"] == {"loss": 0.5} and steps["sim_X.1"]["result_error"] is None
    assert steps["sim_X.2"]["result"] is None and steps["sim_X.2"]["result_error"] == "missing"
    assert steps["sim_X.big"]["result"] is None and steps["sim_X.big"]["result_error"] == "larger than 65536 bytes"
    assert steps["setup"]["result"] == "plain text"
    assert [(s["id"], s["round"]) for s in doc["steps"]] == [
        ("setup", 1), ("decide", 1), ("sim_X.1", 2), ("sim_X.2", 2), ("sim_X.big", 2), ("decide_ROUND.2", 2)]
    assert doc["study"]["extension"] == {"round": 2, "max_rounds": None, "done": False, "requests": {},
                                         "rounds": [{"round": 2, "at": AT, "by": "mextend", "combinations": 3,
                                                     "added": 4}]}


def test_result_on_the_command_line_and_ndjson(grown):
    open(os.path.join(grown, "sim", "X.2", "score.txt"), "w").write("0.25\n")
    lines = [json.loads(line) for line in run([grown, "-f", "ndjson", "--step", "sim", "--result", "score.txt"]).stdout.splitlines()]
    assert [(r["params"]["X"], r["result"], r["result_error"]) for r in lines] == [
        (1, None, "missing"), (2, 0.25, None), ("big", None, "missing")]


def test_no_results_without_a_result_file(tmp_path):
    root = make(tmp_path, LOOP.replace("  result: result.json\n", ""))
    doc = json.loads(run([root, "--format", "json"]).stdout)
    assert all("result" not in s for s in doc["steps"])
    assert doc["study"]["extension"]["round"] == 1


@pytest.mark.parametrize("args,message", [
    (["--result", "r.json"], "--result goes with the step list in --format json or ndjson"),
    (["-f", "json", "--summary", "--result", "r.json"], "--result goes with the step list"),
    (["-f", "json", "--result", "../r.json"], "give a file name inside the workspace"),
])
def test_result_outside_a_json_step_list_is_a_usage_error(grown, args, message):
    assert message in run([grown, *args], 2).stderr


def test_the_json_of_a_grown_study_matches_its_golden_file(grown, update_goldens):
    text = json.dumps(json.loads(run([grown, "--format", "json"]).stdout), indent=1, sort_keys=True) + "\n"
    check("extended-json", normalise(text, grown), update_goldens)


def test_a_study_that_grows_between_reading_its_state_and_its_dag_is_read_again(grown, monkeypatch):
    """mreport reads without the lock: mextend may commit between its two reads."""
    from mreport import load

    real = load.read_state
    calls = []

    def state_then_grow(root):
        state = real(root)
        if not calls:
            extend_study(root, [(1, {"X": 9})], now=utcnow())
        calls.append(1)
        return state

    monkeypatch.setattr(load, "read_state", state_then_grow)
    doc = json.loads(run([grown, "--format", "json"]).stdout)
    assert "sim_X.9" in {s["id"] for s in doc["steps"]} and len(calls) == 2
