"""The tutorial's loops, run as written (docs/tutorial.md sections 6 and 7):
- Optuna's own command line drives a study through a shell loop (optuna ask -> mextend -> mmonitor
  --loop -> mreport -> optuna tell), four rounds of four trials, and converges on the minimum;
- a decide step inside the study drives the loop to its end with no driver outside."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from mshared.statefile import read_state

TUTORIAL = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "tutorial.md")
BIN = os.path.dirname(sys.executable)


def block(name: str) -> str:
    """The code block after `<!-- tutorial: NAME ... -->` in the tutorial."""
    text = open(TUTORIAL, encoding="utf-8").read()
    found = re.search(r"<!-- tutorial: " + re.escape(name) + r"[^>]*-->\n```\w*\n(.*?)```", text, re.S)
    assert found, f"docs/tutorial.md has no block '{name}'"
    return found.group(1)


def env():
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONWARNINGS": "ignore"}


@pytest.mark.slow
def test_optuna_asks_and_tells_through_a_growing_study(tmp_path):
    pytest.importorskip("optuna", reason="optuna is a test extra: make install")
    if not shutil.which("optuna", path=env()["PATH"]):
        pytest.skip("the optuna command is not installed (make install)")
    if not shutil.which("jq"):
        pytest.skip("jq is not installed (the tutorial's driver reads mreport's JSON with it)")
    (tmp_path / "quad.yaml").write_text(block("quad.yaml"))
    (tmp_path / "drive.sh").write_text("set -euo pipefail\n" + block("drive.sh"))
    proc = subprocess.run(["bash", "drive.sh"], cwd=tmp_path, env=env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    best = json.loads(proc.stdout.strip().splitlines()[-1])
    assert abs(best["params"]["x"] - 3) < 0.1 and best["value"] < 0.01, best
    study = tmp_path / "quad-study"
    state = read_state(study)
    assert len(state["steps"]) == 16 and {e["state"] for e in state["steps"].values()} == {"FINISHED"}
    assert [r["combinations"] for r in state["extension"]["rounds"]] == [4, 4, 4, 4]
    # what Optuna was told is what the study computed, trial by trial
    report = subprocess.run([os.path.join(BIN, "mreport"), "-f", "ndjson", str(study)], capture_output=True,
                            text=True, check=True).stdout
    results = {r["params"]["number"]: r["result"] for r in map(json.loads, report.splitlines())}
    assert sorted(results) == list(range(16))
    assert results[best["number"]] == pytest.approx(best["value"])
    first_round = min(results[n] for n in range(4))
    assert best["value"] < first_round


def test_a_decide_step_drives_the_loop_inside_the_study(tmp_path):
    (tmp_path / "bisect.yaml").write_text(block("bisect.yaml"))
    (tmp_path / "decide.py").write_text(block("decide.py"))
    proc = subprocess.run([os.path.join(BIN, "maestro"), "run", "-fg", "-y", "-o", "out", "bisect.yaml"],
                          cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "the loop is done (decide/ROUND." in proc.stderr
    state = read_state(tmp_path / "out")
    assert state["extension"]["done"] is True and state["extension"]["round"] < 40
    report = subprocess.run([os.path.join(BIN, "mreport"), "-f", "ndjson", "--step", "sim", "--result", "result.json",
                             str(tmp_path / "out")], capture_output=True, text=True, check=True).stdout
    best = min((r["result"]["f"], r["params"]["X"]) for r in map(json.loads, report.splitlines()))
    assert abs(best[1] - 3) < 0.01
