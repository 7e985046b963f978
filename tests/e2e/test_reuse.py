"""--reuse end to end, through the installed commands: run a study, change one parameter value, run
it again with --reuse, and only that value's instances and the funnel over them run (every step
appends a line to ran.log, outside the study)."""

import json
import os

import pytest

from mshared.statefile import read_state

from pipeline_helpers import run

SPEC = """\
description: {name: loop, description: the daily loop}
env:
  variables: {OUTPUT_PATH: ./out, LOG: "$(SPECROOT)/ran.log"}
study:
  - {name: prep, description: p, run: {cmd: 'echo prep >> $(LOG); echo ready > prep.txt'}}
  - name: sim
    description: s
    run: {cmd: 'echo sim $(X) >> $(LOG); echo $(X) $(Y) > out.txt', depends: [prep]}
  - name: post
    description: f
    run: {cmd: 'echo post >> $(LOG); cat $(sim.workspace)/*/out.txt | sort > all.txt', depends: [sim_*]}
global.parameters:
  X: {values: [1, 2, 3, 4], label: X.%%}
  Y: {values: [a, b, c, d], label: Y.%%}
"""


def ran(tmp_path) -> list[str]:
    path = tmp_path / "ran.log"
    lines = sorted(path.read_text().splitlines()) if path.exists() else []
    path.write_text("")
    return lines


@pytest.fixture
def first(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    run(["maestro", "run", "-fg", "-y", "-o", "A", "spec.yaml"], tmp_path)
    assert ran(tmp_path) == ["post", "prep", "sim 1", "sim 2", "sim 3", "sim 4"]
    (tmp_path / "spec.yaml").write_text(SPEC.replace("[1, 2, 3, 4]", "[1, 2, 7, 4]"))
    return tmp_path / "A"


def test_maestro_run_reuse_runs_only_the_changed_value_and_the_funnel(tmp_path, first):
    plan = run(["maestro", "run", "--reuse", "A", "--why-json", "-o", "B", "spec.yaml"], tmp_path)
    doc = json.loads(plan.stdout)
    assert doc["summary"] == {"instances": 6, "reuse": 4, "run": 2, "why": {"new": 1, "parent": 1}}
    assert not (tmp_path / "B").exists() and ran(tmp_path) == []       # --why runs nothing

    proc = run(["maestro", "run", "-fg", "-y", "--reuse", "A", "-o", "B", "spec.yaml"], tmp_path)
    assert f"maestro run: reuse 4 of 6 instances from {first}; run 2 (new 1, parent 1)" in proc.stderr
    assert ran(tmp_path) == ["post", "sim 7"]
    assert (tmp_path / "B" / "post" / "all.txt").read_text() == "1 a\n2 b\n4 d\n7 c\n"
    assert (tmp_path / "B" / "sim" / "X.2.Y.b" / "out.txt").read_text() == "2 b\n"   # brought over

    status = run(["maestro", "status", "--format", "json", "B"], tmp_path)
    steps = {s["id"]: s for s in json.loads(status.stdout)["steps"]}
    assert steps["sim_X.1.Y.a"]["reused_from"]["study"] == str(first)
    assert "reused_from" not in steps["sim_X.7.Y.c"] and json.loads(status.stdout)["summary"]["reused"] == 4
    assert "Reused From" in run(["maestro", "status", "B"], tmp_path).stdout


def test_the_microtools_do_the_same(tmp_path, first):
    dag = run(["mexpand", "spec.yaml"], tmp_path).stdout
    root = run(["mrender", "--reuse", "A", "-o", "C"], tmp_path, input=dag).stdout.strip()
    run(["mmonitor", "--loop", root], tmp_path)
    assert ran(tmp_path) == ["post", "sim 7"]
    assert {e["state"] for e in read_state(root)["steps"].values()} == {"FINISHED"}


def test_maestro_rerun_runs_a_reused_instance_whatever_its_key(tmp_path, first):
    run(["maestro", "run", "-fg", "-y", "--reuse", "A", "-o", "B", "spec.yaml"], tmp_path)
    ran(tmp_path)
    proc = run(["maestro", "rerun", "B", "sim_X.2.Y.b", "-fg"], tmp_path)
    assert "1 step instance(s) of 'sim_X.2.Y.b' will run again" in proc.stderr
    assert ran(tmp_path) == ["sim 2"]
    entry = read_state(tmp_path / "B")["steps"]["sim_X.2.Y.b"]
    assert entry["state"] == "FINISHED" and entry["job_id"]
    status = json.loads(run(["mreport", "--format", "json", "B"], tmp_path).stdout)
    assert status["summary"]["reused"] == 3


def test_a_whitespace_only_change_reruns_with_a_warning(tmp_path, first):
    (tmp_path / "spec.yaml").write_text(SPEC.replace("echo prep >> $(LOG)", "echo prep  >> $(LOG)"))
    proc = run(["maestro", "run", "-fg", "-y", "--reuse", "A", "-o", "B", "spec.yaml"], tmp_path)
    assert "maestro run: warning: 6 of the 6 instances to run run again only because only whitespace " \
           "changed in a command (first: 'prep')" in proc.stderr
    assert len(ran(tmp_path)) == 6


PGEN = """\
from maestrowf.datastructures.core import ParameterGenerator

def get_custom_generator(env, **kwargs):
    p = ParameterGenerator()
    n = int(kwargs.get("N", "3"))
    p.add_parameter("X", list(range(n)), "X.%%")
    p.add_parameter("Y", [chr(97 + i) for i in range(n)], "Y.%%")
    return p
"""


def test_reuse_with_a_pgen(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    (tmp_path / "gen.py").write_text(PGEN)
    run(["maestro", "run", "-fg", "-y", "-o", "A", "-p", "gen.py", "--pargs", "N:3", "spec.yaml"], tmp_path)
    ran(tmp_path)
    run(["maestro", "run", "-fg", "-y", "--reuse", "A", "-o", "B", "-p", "gen.py", "--pargs", "N:4", "spec.yaml"],
        tmp_path)
    assert ran(tmp_path) == ["post", "sim 3"]


@pytest.mark.parametrize("old,message", [
    ("nowhere", "not a directory"),
    ("spec.yaml", "not a directory"),
    ("A/sim", "no state file"),
])
def test_a_bad_old_study_is_exit_65_and_nothing_runs(tmp_path, first, old, message):
    proc = run(["maestro", "run", "-fg", "-y", "--reuse", old, "-o", "B", "spec.yaml"], tmp_path, check=False)
    assert proc.returncode == 65 and proc.stdout == ""
    assert proc.stderr.startswith(f"maestro run: error: --reuse {old}: ") and message in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert not (tmp_path / "B").exists() and ran(tmp_path) == []


def test_a_damaged_old_study_is_exit_65_and_stays_as_it_was(tmp_path, first):
    state = first / "state.json"
    state.write_bytes(state.read_bytes().replace(b'"FINISHED"', b'"FAILED"', 1))
    before = {p: p.stat().st_mtime_ns for p in first.rglob("*")}
    proc = run(["maestro", "run", "-fg", "-y", "--reuse", "A", "-o", "B", "spec.yaml"], tmp_path, check=False)
    assert proc.returncode == 65 and "checksum mismatch" in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in first.rglob("*")} == before
    assert not (tmp_path / "B").exists() and ran(tmp_path) == []
    assert os.listdir(tmp_path / "A")


def test_why_without_reuse_is_a_usage_error(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    proc = run(["maestro", "run", "--why", "-o", "B", "spec.yaml"], tmp_path, check=False)
    assert proc.returncode == 2 and "--why and --why-json show what --reuse OLD would do" in proc.stderr
    assert not (tmp_path / "B").exists()
