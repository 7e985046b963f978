"""Bundles without a cluster: a stand-in batch scheduler whose jobs are processes of this machine.

The engine hands it allocation scripts; it runs each with bash (so the real worker runs, against
the real study directory) and answers status queries from the processes, as a batch scheduler
would: PENDING until started, RUNNING, then FINISHED, FAILED, CANCELLED (``cancel``) or TIMEDOUT
(``expire``).  Only the scheduler is stood in for: tickets, claims, leases, the worker and the
passes are the real ones.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import textwrap
import time
import types

from mruntime.engine.passes import run_pass
from mruntime.schedulers.base import FoundJob, JobStatus
from mshared import states as S
from mshared.statefile import read_state
from mshared.studydir import edit_state

from engine_helpers import render_study


def plain_allocation(batch, settings, name, workdir, worker, shell):
    """An allocation script with no launcher: the one worker runs as the script's own process."""
    return (f"#!/bin/bash\ncd {shlex.quote(workdir)} || exit 1\n"
            f"export MAESTRO_BUNDLE_END=$(( $(date +%s) + {settings['walltime']} ))\n"
            f"exec {' '.join(shlex.quote(w) for w in worker)}\n")


def use_plain_allocations(monkeypatch) -> None:
    """The stand-in scheduler runs scripts with bash: give it allocations without srun."""
    from mruntime.bundle import allocations

    unit = types.SimpleNamespace(extension="sh", allocation=plain_allocation)
    monkeypatch.setattr(allocations.Allocations, "unit", lambda self: unit)


class ProcessScheduler:
    """Jobs are `bash SCRIPT` processes in their own session, numbered from 1000."""

    def __init__(self, start=True):
        self.procs: dict[str, subprocess.Popen] = {}
        self.dirs: dict[str, str] = {}
        self.ended: dict[str, str] = {}        # job id -> the state a cancel or an expiry gave it
        self.start = start                     # False: jobs stay PENDING (a full cluster)
        self.held: list[tuple[str, str]] = []
        self.submitted = 0
        self.queries = 0

    def submit(self, script, workspace, stem):
        job_id = str(1000 + self.submitted)
        self.submitted += 1
        self.dirs[job_id] = workspace
        if self.start:
            self._run(job_id, script)
        else:
            self.held.append((job_id, script))
        return job_id

    def _run(self, job_id, script):
        env = dict(os.environ, SLURM_JOB_ID=job_id)
        with open(os.path.join(self.dirs[job_id], "allocation.out"), "ab") as out:
            self.procs[job_id] = subprocess.Popen(["bash", script], cwd=self.dirs[job_id], env=env,
                                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def release(self):
        for job_id, script in self.held:
            self._run(job_id, script)
        self.held = []
        self.start = True

    def status(self, refs):
        self.queries += 1
        out = {}
        for ref in refs:
            proc = self.procs.get(ref.job_id)
            if ref.job_id in self.ended and (proc is None or proc.poll() is not None):
                out[ref.job_id] = JobStatus(ref.job_id, self.ended[ref.job_id])
            elif proc is None:
                out[ref.job_id] = JobStatus(ref.job_id, S.PENDING)
            elif proc.poll() is None:
                out[ref.job_id] = JobStatus(ref.job_id, S.RUNNING)
            else:
                out[ref.job_id] = JobStatus(ref.job_id, S.FINISHED if proc.returncode == 0 else S.FAILED,
                                            exit_code=proc.returncode)
        return out

    def _end(self, job_id, state):
        self.ended[job_id] = state
        proc = self.procs.get(job_id)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def cancel(self, refs):
        for ref in refs:
            self._end(ref.job_id, S.CANCELLED)

    def expire(self, job_id):
        """The allocation reaches its walltime: the scheduler ends it (SIGTERM first)."""
        self._end(job_id, S.TIMEDOUT)

    def find(self, workspaces):
        return [FoundJob(j, d) for j, d in self.dirs.items() if d in workspaces]

    def close(self):
        pass

    def offers(self, capability):
        return False

    def stop_all(self):
        for job_id, proc in self.procs.items():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def flat_spec(count: int, cmd: str = "echo $(X) > out.txt", walltime: str = "00:01:00") -> str:
    values = ", ".join(str(i) for i in range(count))
    return textwrap.dedent(f"""
        description: {{name: bundled, description: d}}
        batch: {{type: slurm, queue: debug}}
        study:
          - name: work
            description: d
            run: {{cmd: "{cmd}", procs: 1, walltime: "{walltime}"}}
        global.parameters:
          X: {{values: [{values}], label: X.%%}}
    """)


def bundled_study(tmp_path, spec: str, poll_interval: int = 0, **settings) -> str:
    """``spec`` rendered, with bundling turned on by the state's override (``settings``)."""
    root = render_study(tmp_path, spec)
    bundle = {"nodes": 1, "walltime": "00:10:00", "allocations": 2, "cores": 2, "linger": 5, "margin": 5, **settings}

    def change(state, dag):
        state["settings"]["bundle"] = bundle
        state["settings"]["poll_interval"] = poll_interval

    edit_state(root, change)
    return root


def run_until_done(root: str, scheduler: ProcessScheduler, timeout: float = 60, between=None) -> str:
    """Single passes (as mmonitor from cron) until the study ends; returns its status."""
    deadline = time.monotonic() + timeout
    adapters = {"slurm": scheduler}
    number = 0
    while time.monotonic() < deadline:
        result = run_pass(root, poll_jobs=True, submit=True, adapters=adapters)
        number += 1
        if between is not None:
            between(number)
        if result.status != "RUNNING":
            return result.status
        time.sleep(0.2)
    raise AssertionError(f"the study did not end in {timeout} s: {steps_by_state(root)}")


def steps_by_state(root: str) -> dict:
    counts: dict[str, int] = {}
    for entry in read_state(root)["steps"].values():
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    return counts
