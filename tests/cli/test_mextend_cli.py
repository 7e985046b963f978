"""mextend's command line: NDJSON out, duplicates said on stderr and in the output, one clear line
and exit 65 for every kind of bad input with nothing changed, the limits, help and docs."""

import json
import os
import re
import sys

import pytest
from click.testing import CliRunner

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit"))

from extend_helpers import LOOP, make, snapshot  # noqa: E402
from mextend.cli import main  # noqa: E402
from mshared.statefile import read_state, write_state  # noqa: E402


def run(args, code=0, stdin=None):
    result = CliRunner().invoke(main, args, input=stdin, catch_exceptions=False)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def test_combinations_from_stdin_give_ndjson_of_the_instances(tmp_path):
    root = make(tmp_path)
    result = run([root], stdin='{"X": 1}\n{"X": 2}\n{"X": 1}\n')
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["line"], r["added"]) for r in records] == [
        ("sim_X.1", 1, True), ("sim_X.2", 2, True), ("sim_X.1", 3, False), ("decide_ROUND.2", None, True)]
    assert result.stderr.splitlines() == [
        'mextend: <stdin>:3: {"X":1} is in the study already (sim_X.1); nothing added',
        f"mextend: {root}: round 2: 3 instance(s) added"]


def test_a_file_and_csv(tmp_path):
    root = make(tmp_path)
    (tmp_path / "more.csv").write_text("X\n7\n8\n")
    records = [json.loads(line) for line in run([root, str(tmp_path / "more.csv")]).stdout.splitlines()]
    assert [r["params"] for r in records if r["step"] == "sim"] == [{"X": 7}, {"X": 8}]
    again = run([root, str(tmp_path / "more.csv")])
    assert [json.loads(line)["added"] for line in again.stdout.splitlines()] == [False, False]
    assert "more.csv:2: " in again.stderr and "nothing added" in again.stderr


@pytest.mark.parametrize("stdin,message", [
    ('{"X": 1}\n{"Y": 2}\n', "<stdin>:2: unknown parameter 'Y'; the study's parameters are: X"),
    ('{"X": 1, "Y": 2}\n', "<stdin>:1: unknown parameter 'Y'"),
    ('{}\n', "<stdin>:1: parameter 'X' is missing; give every one of: X"),
    ('{"X": {"a": 1}}\n', "<stdin>:1: parameter 'X': {'a': 1} is not a string or a number; give a scalar value"),
    ('{"X": null}\n', "<stdin>:1: parameter 'X': None is not a string or a number"),
    ('{"X": 1}\n{"X": 2\n', "<stdin>:2: not JSON"),
    ('{"X": 1}\n[1]\n', "<stdin>:2: a combination must be a JSON object of parameter: value"),
])
def test_bad_input_is_one_line_exit_65_and_nothing_changes(tmp_path, stdin, message):
    root = make(tmp_path)
    before = snapshot(root)
    result = run([root], 65, stdin)
    assert result.stdout == ""
    assert result.stderr.startswith("mextend: error: " + message) and result.stderr.count("\n") == 1
    assert snapshot(root) == before


def test_a_workspace_outside_the_study_is_refused(tmp_path):
    root = make(tmp_path, LOOP.replace("X: {label: X.%%}", "X: {label: '%%'}"))
    before = snapshot(root)
    for value in ("..", "../../etc", "/tmp/x"):
        result = run([root], 65, json.dumps({"X": value}) + "\n")
        assert re.match(r"mextend: error: <stdin>:1: parameter 'X': the value .* gives the label .*, which "
                        r"cannot name a workspace inside the study; change the value\n$", result.stderr)
    assert snapshot(root) == before


def test_a_cancelled_study_and_a_changed_dag_are_refused(tmp_path):
    root = make(tmp_path)
    state = read_state(root)
    state["requests"]["queue"] = [{"kind": "cancel"}]
    write_state(root, state)
    result = run([root], 65, '{"X": 1}\n')
    assert result.stderr == (f"mextend: error: {root}: the study was cancelled; it takes no new combinations "
                             "(`maestro rerun` lifts a cancel)\n")
    other = make(tmp_path, name="other")
    with open(os.path.join(other, "dag.json"), "ab") as handle:
        handle.write(b"\n")
    before = snapshot(other)
    result = run([other], 65, '{"X": 1}\n')
    assert "dag.json: does not match the DAG this study was rendered from" in result.stderr
    assert snapshot(other) == before


def test_not_a_study(tmp_path):
    result = run([str(tmp_path)], 65, '{"X": 1}\n')
    assert "no state file; is this a study directory made by mrender?" in result.stderr


def test_max_rounds_and_done_without_input(tmp_path):
    root = make(tmp_path)
    result = run([root, "--max-rounds", "4"])
    assert result.stdout == "" and result.stderr == f"mextend: {root}: max rounds: None -> 4\n"
    run([root, "--done"])
    assert read_state(root)["extension"]["max_rounds"] == 4 and read_state(root)["extension"]["done"]
    assert run([root, "--max-rounds", "0"], 2).stderr.count("0 is not in the range x>=1") == 1


def test_the_limit_refuses_a_round_too_many(tmp_path):
    root = make(tmp_path)
    run([root, "--max-rounds", "1"])
    result = run([root], 65, '{"X": 1}\n')
    assert "round 2 would pass the study's limit of 1 rounds; raise it with `mextend --max-rounds N`" in result.stderr
    run([root, "--max-rounds", "2"], 0, '{"X": 1}\n')


def test_help_is_in_the_docs():
    """The block in docs/mextend.md is `mextend --help` at 100 columns."""
    text = CliRunner().invoke(main, ["--help"], terminal_width=100).output
    page = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "mextend.md"), encoding="utf-8").read()
    assert text.strip() in page, "docs/mextend.md: paste the current `mextend --help`"
