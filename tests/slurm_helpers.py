"""Small helpers for tests that talk to the local SLURM started by .ci/slurm/start-slurm.sh.

Detection uses `scontrol ping` only: it answers at once, while sinfo/squeue/sbatch retry for ~9 s
when slurmctld is down.  Remember the SLURM gotchas when writing tests: time limits are whole
minutes (a TIMEOUT costs 60-90 s), finished jobs are visible to squeue/scontrol only for MinJobAge
(300 s) and only with `-t all`, and the first batch job after slurmctld starts waits ~3 s.
"""

from __future__ import annotations

import shutil
import subprocess
import time

FINAL_STATES = frozenset({
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
    "BOOT_FAIL", "DEADLINE",
})


def ping(timeout: float = 10.0) -> tuple[bool, str]:
    """(up, message): whether slurmctld answers `scontrol ping`, and what it said."""
    exe = shutil.which("scontrol")
    if exe is None:
        return False, "scontrol is not installed"
    try:
        proc = subprocess.run([exe, "ping"], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, f"scontrol ping did not answer within {timeout:.0f} s"
    except OSError as err:
        return False, f"scontrol ping: {err}"
    text = (proc.stdout + proc.stderr).strip()
    first = text.splitlines()[0] if text else f"scontrol ping exited {proc.returncode}"
    return proc.returncode == 0 and "UP" in proc.stdout, first


def parse_oneliner(line: str) -> dict[str, str]:
    """Parse one line of `scontrol show job -o` into a dict (values may contain no spaces except
    in the last fields; good enough for JobId, JobName, JobState, ExitCode, WorkDir, Reason)."""
    fields: dict[str, str] = {}
    key = None
    for token in line.split(" "):
        if "=" in token and not token.startswith("="):
            key, _, value = token.partition("=")
            fields[key] = value
        elif key is not None and token:
            fields[key] += " " + token
    return fields


def show_jobs(job_id=None) -> list[dict[str, str]]:
    """Records of the jobs slurmctld still knows: all of them (one call), or one job id (an array
    job id gives one record per task)."""
    cmd = ["scontrol", "show", "job", "-o"]
    if job_id is not None:
        cmd.append(str(job_id))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        return []
    return [parse_oneliner(line) for line in proc.stdout.splitlines() if line.startswith("JobId=")]


def job_state(job_id) -> tuple[str | None, str | None]:
    """(JobState, ExitCode) of one job, or (None, None) when slurmctld does not know it."""
    for rec in show_jobs(job_id):
        return rec.get("JobState"), rec.get("ExitCode")
    return None, None


def wait_final(job_ids, timeout: float = 120.0, poll: float = 0.3) -> dict[str, str]:
    """Wait until every job in job_ids is in a final state; returns {job id: state}.
    Raises TimeoutError with the last seen states."""
    wanted = {str(j) for j in job_ids}
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while True:
        states = {rec["JobId"]: rec.get("JobState", "") for rec in show_jobs()
                  if rec.get("JobId") in wanted}
        if len(states) == len(wanted) and all(s in FINAL_STATES for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs not finished after {timeout:.0f} s: {states}")
        time.sleep(poll)


def cancel(job_ids) -> None:
    """scancel the given jobs (ignores unknown ids)."""
    ids = [str(j) for j in job_ids]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
