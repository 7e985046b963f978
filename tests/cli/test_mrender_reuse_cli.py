"""mrender --reuse OLD, --why, --why-json: the plan on stdout, a summary on stderr, bad old studies."""

import json
import os
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from mrender.cli import main
from mshared.jsonio import dumps
from mshared.statefile import read_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from reuse_helpers import SPEC, make_study, new_dag  # noqa: E402

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "reuse-plan.v1.schema.json"
CHANGED = SPEC.replace("[1, 2, 3]", "[1, 2, 4]")


def run(args, dag):
    return CliRunner().invoke(main, args, input=dumps(dag), catch_exceptions=False, prog_name="mrender")


@pytest.fixture
def old(tmp_path):
    return make_study(tmp_path, "old")


def test_why_prints_the_plan_and_writes_nothing(tmp_path, old):
    result = run(["-o", str(tmp_path / "new"), "--reuse", old, "--why"], new_dag(tmp_path, CHANGED))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Plan: reuse 3 of 5 instances from {old}; run 2 (new 1, parent 1)"
    assert "run     new     sim_X.4" in result.stdout and result.stderr == ""
    assert not (tmp_path / "new").exists()


def test_why_json_is_the_plan_document(tmp_path, old):
    result = run(["-o", str(tmp_path / "new"), "--reuse", old, "--why-json"], new_dag(tmp_path, CHANGED))
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["study"]["root"] == str(tmp_path / "new") and doc["summary"]["reuse"] == 3
    assert not (tmp_path / "new").exists()


def test_reuse_renders_with_a_summary_on_stderr(tmp_path, old):
    result = run(["-o", str(tmp_path / "new"), "--reuse", old], new_dag(tmp_path, CHANGED))
    assert result.exit_code == 0
    assert result.stdout == f"{tmp_path / 'new'}\n"
    assert result.stderr == f"mrender: reuse 3 of 5 instances from {old}; run 2 (new 1, parent 1)\n"
    assert read_state(tmp_path / "new")["steps"]["prep"]["state"] == "FINISHED"


def test_a_mass_rerun_warns(tmp_path, old):
    dag = new_dag(tmp_path, SPEC.replace("echo prep > ", "echo prep  >  "))
    result = run(["-o", str(tmp_path / "new"), "--reuse", old], dag)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("mrender: reuse 0 of 5 instances") and "whitespace 1, parent 4" in lines[0]
    assert lines[1].startswith("mrender: warning: 5 of the 5 instances to run run again only because only "
                               "whitespace changed in a command (first: 'prep')")


def test_why_needs_reuse(tmp_path):
    result = run(["--why"], new_dag(tmp_path))
    assert result.exit_code == 2 and "--why and --why-json show what --reuse OLD would do" in result.stderr


@pytest.mark.parametrize("make,message", [
    (lambda tmp, old: str(tmp / "missing"), "not a directory; give a study directory made by mrender"),
    (lambda tmp, old: str(Path(old, "dag.json")), "not a directory; give a study directory made by mrender"),
    (lambda tmp, old: str(Path(old, "prep")), "no state file; is this a study directory made by mrender?"),
    (lambda tmp, old: _damage(old), "checksum mismatch"),
    (lambda tmp, old: _rename(old), "a study of 'elsewhere', not of 'r'"),
    (lambda tmp, old: _newer(old), "maestro.state version 2 is newer than this tool understands"),
])
def test_a_bad_old_study_is_one_line_exit_65_and_nothing_written(tmp_path, old, make, message):
    path = make(tmp_path, old)
    before = {p: p.stat().st_mtime_ns for p in Path(old).rglob("*")}
    result = run(["-o", str(tmp_path / "new"), "--reuse", path], new_dag(tmp_path))
    assert result.exit_code == 65
    assert result.stderr.startswith(f"mrender: error: --reuse {path}: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert not (tmp_path / "new").exists()
    assert {p: p.stat().st_mtime_ns for p in Path(old).rglob("*")} == before


def _damage(old):
    path = Path(old, "state.json")
    path.write_bytes(path.read_bytes().replace(b'"FINISHED"', b'"FAILED"', 1))
    return old


def _rename(old):
    from mshared.studydir import edit_state

    edit_state(old, lambda state, dag: state["study"].update(name="elsewhere"))
    return old


def _newer(old):
    from mshared.statefile import encode_state

    state = read_state(old)
    state["version"] = 2
    Path(old, "state.json").write_bytes(encode_state(state))
    return old


def test_the_old_study_is_never_the_new_one(tmp_path, old):
    result = run(["-o", old, "--force", "--reuse", old], new_dag(tmp_path))
    assert result.exit_code == 65 and "the new study's own directory, or they lie one inside" in result.stderr
    assert os.listdir(tmp_path) == ["old"]
