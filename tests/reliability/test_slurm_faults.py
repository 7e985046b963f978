"""Scheduler faults on the real local SLURM.

* sbatch refusing a job (a partition or a reservation that does not exist): the attempt counts,
  the step waits its back-off, then ends FAILED with SLURM's own message; its subtree fails, the
  other branch finishes.
* slurmctld stopped for a while in the middle of a study: msubmit and mmonitor exit 69 with one
  line and mark nothing failed; once it is started again the study finishes, one job per step.
  The test always starts slurmctld again (.ci/slurm/start-slurm.sh, which starts only what is
  missing), even when it fails.
* a job cancelled by hand (scancel): the step is CANCELLED and so is its subtree.
* an sbatch that times out after SLURM queued the job must not lead to a second job.
"""

import os
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from mruntime.engine import passes
from mruntime.engine import study as pass_study
from mruntime.schedulers import registry
from mshared.statefile import read_state

from reliability_helpers import STRESS, one_line_error, tool, wait_for

pytestmark = pytest.mark.slurm
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
START = os.path.join(REPO, ".ci", "slurm", "start-slurm.sh")
PIDS = os.environ.get("SLURM_LOCAL_DIR", "/var/lib/slurm-local") + "/run"


def render(tmp_path, name: str, spec: str, *options) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(spec)
    dag = subprocess.run([tool("mexpand"), str(path)], capture_output=True, cwd=tmp_path, timeout=60)
    assert dag.returncode == 0, dag.stderr
    out = subprocess.run([tool("mrender"), "-o", str(tmp_path / name), *options], input=dag.stdout,
                         capture_output=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    return str(tmp_path / name)


def steps(root) -> dict:
    return read_state(root)["steps"]


def loop(*roots, timeout=300):
    return subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.5", *roots], capture_output=True,
                          text=True, timeout=timeout)


def job_workdirs(job_ids) -> dict:
    """JobId -> WorkDir for the given ids (slurmctld keeps finished jobs for MinJobAge)."""
    out = {}
    proc = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, timeout=60)
    for line in proc.stdout.splitlines():
        fields = dict(tok.split("=", 1) for tok in line.split(" ") if "=" in tok)
        if fields.get("JobId") in job_ids:
            out[fields["JobId"]] = fields.get("WorkDir")
    return out


def jobs_in(root) -> list[str]:
    """Every SLURM job (any state) whose working directory is inside the study."""
    proc = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%Z"], capture_output=True, text=True,
                          timeout=60)
    return sorted(line.split("|", 1)[0] for line in proc.stdout.splitlines()
                  if line.split("|", 1)[-1].startswith(root + "/"))


# --------------------------------------------------------------------------- refusals
REFUSED = """
description: {{name: refused, description: sbatch refuses a job}}
batch: {{type: slurm, queue: {queue}}}
study:
  - {{name: bad, description: asks for a reservation that does not exist,
      run: {{cmd: echo bad, nodes: 1, procs: 1, reservation: nosuchreservation}}}}
  - {{name: after_bad, description: never runs, run: {{cmd: echo x, nodes: 1, procs: 1, depends: [bad]}}}}
  - {{name: good, description: the other branch, run: {{cmd: echo good > good.txt, nodes: 1, procs: 1}}}}
"""


def test_sbatch_refusals_fail_the_step_with_slurms_words_after_the_attempts(slurm_cluster, tmp_path):
    reservation = render(tmp_path, "reservation", REFUSED.format(queue="debug"), "-a", "2")
    partition = render(tmp_path, "partition", REFUSED.format(queue="nosuchpartition"))
    start = time.monotonic()
    proc = loop(reservation, partition)
    took = time.monotonic() - start
    r, p = steps(reservation), steps(partition)
    print(f"\nSLURM refusals: loop exit {proc.returncode} after {took:.1f} s; reservation study: "
          + ", ".join(f"{k} {v['state']}" for k, v in r.items())
          + f"; bad: {r['bad']['reason']}; partition study: {p['good']['reason']}")
    assert proc.returncode == 2, proc.stderr
    assert r["bad"]["state"] == "FAILED" and r["bad"]["attempts"] == 2 and r["bad"]["job_id"] is None
    assert r["bad"]["reason"].startswith("submission refused 2 time(s): sbatch: error: Batch job submission failed")
    assert "reservation" in r["bad"]["reason"].lower()
    assert r["after_bad"]["state"] == "FAILED" and r["after_bad"]["reason"] == "parent 'bad' failed"
    assert r["good"]["state"] == "FINISHED"
    assert took >= 1        # the second attempt waited its back-off (2 s, counted in whole seconds)
    assert {e["state"] for e in p.values()} == {"FAILED"}
    assert "invalid partition" in p["good"]["reason"].lower() and p["good"]["attempts"] == 1
    assert jobs_in(partition) == [] and len(jobs_in(reservation)) == 1


# --------------------------------------------------------------------------- controller down
OUTAGE = """
description: {name: outage, description: slurmctld goes away in the middle}
batch: {type: slurm, queue: debug}
study:
  - {name: a, description: first, run: {cmd: sleep 4; echo a > a.txt, nodes: 1, procs: 1}}
  - {name: b, description: after a, run: {cmd: cat $(a.workspace)/a.txt > b.txt, nodes: 1, procs: 1, depends: [a]}}
  - {name: c, description: another branch, run: {cmd: sleep 1, nodes: 1, procs: 1}}
  - {name: d, description: held back by the throttle until the outage, run: {cmd: sleep 1, nodes: 1, procs: 1}}
"""


def ctld_pid():
    try:
        pid = int(open(os.path.join(PIDS, "slurmctld.pid")).read().strip())
    except (OSError, ValueError):
        return None
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return pid if handle.read().strip() == "slurmctld" else None
    except OSError:
        return None


def start_slurm():
    env = {**os.environ, "SLURM_LOCAL_RESET": "0", "SLURM_LOCAL_NO_INSTALL": "1", "SLURM_LOCAL_PROBE": "0"}
    return subprocess.run(["bash", START], capture_output=True, text=True, env=env, timeout=180)


def test_slurmctld_stopped_during_a_study_marks_nothing_failed_and_the_study_finishes(slurm_cluster, tmp_path):
    root = render(tmp_path, "outage", OUTAGE, "-s", "1", "-t", "2")
    first = subprocess.run([tool("msubmit"), root], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    submitted = {k: v["job_id"] for k, v in steps(root).items() if v["job_id"]}
    assert set(submitted) == {"a", "c"}
    pid = ctld_pid()
    assert pid, "slurmctld is not running from the pid file of start-slurm.sh"
    figures = {}
    looping = None
    try:
        os.kill(pid, 15)
        wait_for(lambda: ctld_pid() is None, 30, what="slurmctld to stop")
        down_at = time.monotonic()
        before = {k: (v["state"], v["job_id"]) for k, v in steps(root).items()}
        for name, extra in (("mmonitor", []), ("msubmit", ["-t", "3"])):   # msubmit now has d to submit
            t0 = time.monotonic()
            proc = subprocess.run([tool(name), *extra, root], capture_output=True, text=True, timeout=120)
            figures[name] = (proc.returncode, time.monotonic() - t0)
            line = one_line_error(proc.stderr, name)
            assert proc.returncode == 69, (name, proc.stderr)
            assert "SLURM" in line or "slurm" in line
            figures[name + " line"] = line
        status = subprocess.run([tool("mreport"), "--summary", root], capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr     # reading needs no scheduler
        after = {k: (v["state"], v["job_id"]) for k, v in steps(root).items()}
        assert after == before, "something changed while the controller was down"
        assert not any(v["state"] == "FAILED" for v in steps(root).values())
        # a loop started during the outage rides it out (a ends meanwhile)
        looping = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.5", root],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # (under `make stress` long enough for its first pass to give up: the outage warning shows)
        time.sleep(12.0 if STRESS else max(3.0, 6 - (time.monotonic() - down_at)))
    finally:
        started = start_slurm()
        up = started.returncode == 0
    assert up, started.stdout + started.stderr
    down_for = time.monotonic() - down_at
    out, err = looping.communicate(timeout=300)
    final = steps(root)
    print(f"\nslurmctld down for {down_for:.1f} s: mmonitor exit {figures['mmonitor'][0]} in "
          f"{figures['mmonitor'][1]:.1f} s, msubmit exit {figures['msubmit'][0]} in {figures['msubmit'][1]:.1f} s "
          f"({figures['mmonitor line'][:150]}); the loop started during the outage exits {looping.returncode}: "
          + ", ".join(f"{k} {v['state']} (job {v['job_id']})" for k, v in final.items()))
    print(f"the loop's stderr during the outage: {err.strip() or '(nothing: its first pass outlasted the outage)'}")
    assert looping.returncode == 0, err
    assert "Traceback" not in err
    if STRESS:
        assert "warning" in err and "answers again" in err, err
    assert {k: v["state"] for k, v in final.items()} == {s: "FINISHED" for s in "abcd"}
    assert final["a"]["job_id"] == submitted["a"] and final["c"]["job_id"] == submitted["c"]
    assert (tmp_path / "outage" / "b" / "b.txt").read_text() == "a\n"
    assert all(len(v["jobs"]) == 1 for v in final.values())
    assert len(jobs_in(root)) == 4


# --------------------------------------------------------------------------- scancel by hand
CANCELLED = """
description: {name: scancelled, description: a job cancelled outside the tool}
batch: {type: slurm, queue: debug}
study:
  - {name: long, description: cancelled by hand, run: {cmd: sleep 120, nodes: 1, procs: 1}}
  - {name: child, description: after long, run: {cmd: echo child, nodes: 1, procs: 1, depends: [long]}}
  - {name: grandchild, description: after child, run: {cmd: echo grandchild, depends: [child]}}
  - {name: other, description: another branch, run: {cmd: echo other > other.txt, nodes: 1, procs: 1}}
"""


def test_a_job_cancelled_by_hand_cancels_its_subtree(slurm_cluster, tmp_path):
    root = render(tmp_path, "scancelled", CANCELLED, "-s", "1")
    proc = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.5", root], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        job = wait_for(lambda: steps(root)["long"]["state"] == "RUNNING" and steps(root)["long"]["job_id"], 120,
                       what="the long step to run")
        subprocess.run(["scancel", job], check=True, timeout=60)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    final = steps(root)
    print(f"\nscancel by hand: loop exit {proc.returncode}; "
          + ", ".join(f"{k} {v['state']} ({v['reason']})" for k, v in final.items()))
    assert proc.returncode == 3, err                  # Maestro's code for a cancelled study
    assert final["long"]["state"] == "CANCELLED"
    assert final["child"]["state"] == "CANCELLED" and final["child"]["reason"] == "parent 'long' was cancelled"
    assert final["grandchild"]["state"] == "CANCELLED"
    assert final["other"]["state"] == "FINISHED"


# --------------------------------------------------------------------------- timeout after acceptance
TWICE = """
description: {name: slowsbatch, description: sbatch queues the job then hangs}
batch: {type: slurm, queue: debug}
study:
  - {name: a, description: once, run: {cmd: sleep 2, nodes: 1, procs: 1}}
"""


def test_an_sbatch_that_times_out_after_queueing_the_job_does_not_lead_to_a_second_job(
        slurm_cluster, tmp_path, monkeypatch):
    root = render(tmp_path, "slowsbatch", TWICE)
    slow = tmp_path / "slow-bin"
    slow.mkdir()
    (slow / "sbatch").write_text('#!/bin/sh\n/usr/bin/sbatch "$@"\nrc=$?\nsleep 4\nexit $rc\n')
    (slow / "sbatch").chmod(0o755)
    real = registry.get_adapter
    monkeypatch.setattr(pass_study, "get_adapter", lambda name, batch=None, **kw: real(name, batch, timeout=1.5, **kw))
    monkeypatch.setenv("PATH", f"{slow}{os.pathsep}{os.environ['PATH']}")
    from msubmit.cli import main as msubmit_main

    first = CliRunner().invoke(msubmit_main, [root], prog_name="msubmit")
    monkeypatch.setenv("PATH", os.environ["PATH"].split(os.pathsep, 1)[1])
    queued = jobs_in(root)
    intent = steps(root)["a"]["intent"]
    later = datetime.now(timezone.utc) + timedelta(seconds=passes.INTENT_GRACE + 1)
    passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: later)
    after = jobs_in(root)
    print(f"\nsbatch timed out after queueing: msubmit exit {first.exit_code} ({first.stderr.strip()}); "
          f"intent kept: {intent is not None}; SLURM jobs for the step: {queued} then {after}")
    subprocess.run(["scancel", *after], capture_output=True, timeout=60)
    assert first.exit_code == 69
    assert len(after) == 1, f"the step has {len(after)} SLURM jobs: {after}"
