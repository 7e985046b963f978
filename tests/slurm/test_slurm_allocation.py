"""A bundle's allocation script (``registry.unit("slurm").allocation``) run by the real local SLURM.

Skipped when SLURM is down, failed instead when MAESTRO_REQUIRE_SLURM=1 (conftest's slurm_cluster).
The script is submitted as the engine does (``adapter.submit(script, workdir, stem)``), its worker
is a shell that records MAESTRO_BUNDLE_END and the node it ran on, and ``find`` finds the job by
its work directory as after a crash.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from mruntime.schedulers import registry
from mruntime.schedulers.slurm import SlurmAdapter
from mshared import bundlesettings

pytestmark = pytest.mark.slurm

WORKER = ["/bin/sh", "-c", "echo $MAESTRO_BUNDLE_END > end.txt; hostname > host.txt"]


def wait_ended(helpers, job_id: str, timeout: float = 60.0) -> tuple[str, str]:
    """(JobState, ExitCode) once scontrol shows the job in a final state (polled, at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        state, code = helpers.job_state(job_id)
        if state in helpers.FINAL_STATES:
            return state, code
        assert time.monotonic() < deadline, f"allocation {job_id} still {state} after {timeout:.0f} s"
        time.sleep(0.3)


def submit(tmp_path: Path, worker: list[str], queue: str | None = None):
    workdir = tmp_path / "bundles" / "a1"
    workdir.mkdir(parents=True)
    settings = bundlesettings.normalize({"nodes": 1, "walltime": "00:01:00", "allocations": 1})
    assert settings["walltime"] == 60
    unit = registry.unit("slurm")
    text = unit.allocation({"queue": queue} if queue else {}, settings, "test.bundle.a1", str(workdir),
                           worker, "/bin/bash")
    script = workdir / f"allocation{unit.script_suffix}"
    script.write_text(text, encoding="utf-8")
    script.chmod(0o755)
    adapter = SlurmAdapter({}, timeout=30)
    return adapter, adapter.submit(str(script), str(workdir), "test.bundle.a1"), workdir


def test_an_allocation_runs_one_worker_with_the_end_time(slurm_cluster, tmp_path):
    before = int(time.time())
    adapter, job_id, workdir = submit(tmp_path, WORKER)
    try:
        found = adapter.find([str(workdir)])      # a crash right after sbatch: found by its work dir
        assert [(f.job_id, f.workspace) for f in found] == [(job_id, str(workdir))]
        state, code = wait_ended(slurm_cluster.helpers, job_id)
    finally:
        slurm_cluster.helpers.cancel([job_id])
    after = int(time.time())
    log = "".join(p.read_text() for p in workdir.glob("test.bundle.a1.*"))
    assert (state, code) == ("COMPLETED", "0:0"), log
    end = int((workdir / "end.txt").read_text().strip())
    assert before + 60 <= end <= after + 60           # the script's start plus the walltime
    host = (workdir / "host.txt").read_text().strip()
    assert host                                        # it ran on the allocation's one node
    assert sorted(p.name for p in workdir.glob("test.bundle.a1.*")) == [
        f"test.bundle.a1.{job_id}.err", f"test.bundle.a1.{job_id}.out"]
    assert "srun --nodes=1 --ntasks=1 " in (workdir / "allocation.slurm.sh").read_text()


def test_the_allocation_exits_with_the_workers_status_and_steps_share_the_node(slurm_cluster, tmp_path):
    """A step the worker starts with srun runs at once beside it (SLURM_OVERLAP); the worker's exit
    status is the allocation's."""
    inner = "timeout 30 srun -n 1 -N 1 hostname > step.txt; exit 3"
    adapter, job_id, workdir = submit(tmp_path, ["/bin/sh", "-c", inner], queue="debug")
    try:
        state, code = wait_ended(slurm_cluster.helpers, job_id)
    finally:
        slurm_cluster.helpers.cancel([job_id])
    assert (state, code) == ("FAILED", "3:0")
    assert (workdir / "step.txt").read_text().strip()
    assert shlex.split((workdir / "allocation.slurm.sh").read_text().splitlines()[-1])[-3:] == [
        "/bin/sh", "-c", inner]
