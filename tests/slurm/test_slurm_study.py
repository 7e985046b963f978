"""Whole studies on the real local SLURM: the Maestro sample, and a timeout restarted by mmonitor."""

import os
import re

import pytest

from mshared.statefile import read_state

from pipeline_helpers import run

pytestmark = pytest.mark.slurm
SAMPLE = os.path.join(os.path.dirname(__file__), "..", "corpus", "maestro-samples", "hello_world",
                      "hello_bye_parameterized_slurm.yaml")


def local_values(text: str) -> str:
    """The sample's cluster names, swapped for ones that exist on the local single-node SLURM."""
    text = re.sub(r"host\s*:\s*\S+", "host: localhost", text)
    text = re.sub(r"bank\s*:\s*\S+", "bank: root", text)
    return re.sub(r"queue\s*:\s*\S+", "queue: debug", text)


def states(root):
    return {sid: e["state"] for sid, e in read_state(root)["steps"].items()}


def test_the_slurm_sample_runs_to_finished(slurm_cluster, tmp_path):
    spec = tmp_path / "hello_slurm.yaml"
    spec.write_text(local_values(open(SAMPLE).read()))
    proc = run(["maestro", "run", "-fg", "-y", "-s", "1", "-o", str(tmp_path / "s"), str(spec)], tmp_path,
               check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert set(states(tmp_path / "s").values()) == {"FINISHED"}
    workspace = tmp_path / "s" / "hello_world" / "GREETING.Ciao.NAME.Jim"
    assert (workspace / "Ciao_Jim.txt").read_text() == "Ciao, Jim!\n"
    script = (workspace / "hello_world_GREETING.Ciao.NAME.Jim.slurm.sh").read_text()
    assert "#SBATCH --partition=debug" in script and "srun -n 1" in script
    job = read_state(tmp_path / "s")["steps"]["hello_world_GREETING.Ciao.NAME.Jim"]["job_id"]
    assert job.isdigit()


TIMEOUT_SPEC = """
description: {name: timeout, description: a step that times out once and is restarted}
batch: {type: slurm, queue: debug}
study:
  - name: slow
    description: sleeps past its one-minute limit unless restarted
    run:
      cmd: sleep 300
      restart: echo restarted > restarted.txt
      nodes: 1
      procs: 1
      walltime: "00:01:00"
  - name: after
    description: runs once slow has finished
    run: {cmd: cat $(slow.workspace)/restarted.txt > seen.txt, depends: [slow]}
  - name: failing
    description: exits 3
    run: {cmd: exit 3, nodes: 1, procs: 1}
"""


def test_timeout_is_restarted_with_the_restart_script_and_failure_is_recorded(slurm_cluster, tmp_path):
    """The one shared TIMEOUT case (SLURM time limits are whole minutes: this takes ~90 s)."""
    spec = tmp_path / "timeout.yaml"
    spec.write_text(TIMEOUT_SPEC)
    proc = run(["maestro", "run", "-fg", "-y", "-s", "2", "-r", "1", "-o", str(tmp_path / "t"), str(spec)],
               tmp_path, check=False, timeout=400)
    assert proc.returncode == 2, proc.stderr      # 'failing' failed: the study ends in FAILURE
    state = read_state(tmp_path / "t")["steps"]
    assert state["slow"]["state"] == "FINISHED" and state["slow"]["restarts"] == 1
    assert len(state["slow"]["jobs"]) == 2
    assert state["after"]["state"] == "FINISHED"
    assert (tmp_path / "t" / "after" / "seen.txt").read_text() == "restarted\n"
    assert state["failing"]["state"] == "FAILED" and state["failing"]["exit_code"] == 3
    events = (tmp_path / "t" / "events.jsonl").read_text()
    assert "timed out; restarting with its restart script (1 of 1)" in events
