"""Bundles on the real local SLURM (issue 17): a large study through few allocations, and the deaths
a bundle must survive (a worker killed with kill -9, an allocation scancelled, an allocation at its
walltime, a conductor killed), each with no step run twice and the study ended by later allocations."""

import glob
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import yaml

from mshared.statefile import read_state

from pipeline_helpers import run, tool

pytestmark = pytest.mark.slurm


def spec(tmp_path, count: int, cmd: str, bundle: dict, *, extra: list | None = None, name: str = "bundled") -> str:
    doc = {"description": {"name": name, "description": "bundled steps on the local SLURM"},
           "batch": {"type": "slurm", "queue": "debug"},
           "bundle": bundle,
           "study": [{"name": "work", "description": "one small step per X",
                      "run": {"cmd": cmd, "procs": 1}}] + (extra or []),
           "global.parameters": {"X": {"values": list(range(count)), "label": "X.%%"}}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def start(tmp_path, spec_path: str, *args) -> subprocess.Popen:
    return subprocess.Popen([tool("maestro"), "run", "-fg", "-y", "-s", "1", "-o", str(tmp_path / "s"),
                             *args, spec_path], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"maestro run did not end in {timeout} s: {err}")
    return proc.returncode, err


def entries(root) -> dict:
    try:
        return read_state(root)["steps"]
    except Exception:
        return {}


def wait_for(condition, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(0.1)


def runs_per_step(root) -> dict[str, int]:
    """workspace -> how many times a worker started its script (one .out file per run)."""
    counts: dict[str, int] = {}
    for path in glob.glob(os.path.join(root, "work", "*", "work_*.b-*.out")):
        counts[os.path.dirname(path)] = counts.get(os.path.dirname(path), 0) + 1
    return counts


def allocations(root) -> list[dict]:
    path = os.path.join(root, "meta", "bundle", "allocations.json")
    return json.load(open(path))["allocations"] if os.path.exists(path) else []


def running_allocation(root) -> dict:
    """A lease of a live worker that runs a step now."""
    for path in glob.glob(os.path.join(root, "meta", "bundle", "leases", "*.json")):
        lease = json.load(open(path))
        if not lease["ended"] and lease["running"]:
            return lease
    return {}


class QueueWatch(threading.Thread):
    """The most jobs of this study's bundle that squeue showed at once."""

    def __init__(self, prefix: str):
        super().__init__(daemon=True)
        self.prefix, self.most, self.stop = prefix, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            out = subprocess.run(["squeue", "-h", "-o", "%j"], capture_output=True, text=True).stdout
            self.most = max(self.most, sum(1 for name in out.split() if name.startswith(self.prefix)))
            time.sleep(0.2)


def test_two_thousand_steps_run_exactly_once_through_at_most_the_allocations_in_flight(tmp_path):
    path = spec(tmp_path, 2000, "echo $(X) > out.txt",
                dict(nodes=1, walltime="00:10:00", allocations=2, linger=5, margin=5), name="big")
    watch = QueueWatch("big.bundle.")
    watch.start()
    try:
        code, err = finish(start(tmp_path, path), timeout=400)
    finally:
        watch.stop.set()
        watch.join()
    root = tmp_path / "s"
    assert code == 0, err
    steps = entries(root)
    assert len(steps) == 2000 and {e["state"] for e in steps.values()} == {"FINISHED"}
    assert sorted(set(runs_per_step(root).values())) == [1] and len(runs_per_step(root)) == 2000
    assert (root / "work" / "X.1234" / "out.txt").read_text() == "1234\n"
    made = allocations(root)
    assert 1 <= len(made) <= 2 and 1 <= watch.most <= 2
    assert {e["alloc"] for e in steps.values()} <= {a["job_id"] for a in made}
    assert all(e["node"] for e in steps.values())
    status = run(["maestro", "status", str(root), "--format", "json"], tmp_path).stdout
    assert '"alloc"' in status


def test_a_worker_killed_with_kill_9_fails_only_its_steps_and_later_allocations_finish_the_study(tmp_path):
    path = spec(tmp_path, 60, "sleep 0.3; echo $(X) > out.txt",
                dict(nodes=1, walltime="00:10:00", allocations=1, linger=5, margin=5), name="kill9")
    proc = start(tmp_path, path)
    root = tmp_path / "s"
    wait_for(lambda: running_allocation(root), 120, "a worker running a step")
    lease = running_allocation(root)
    os.kill(lease["pid"], signal.SIGKILL)
    code, err = finish(proc)
    steps = entries(root)
    failed = [e for e in steps.values() if e["state"] == "FAILED"]
    assert 1 <= len(failed) <= lease["cores"], err
    assert all("bundle worker" in e["reason"] and "not run again" in e["reason"] for e in failed)
    assert sum(1 for e in steps.values() if e["state"] == "FINISHED") == 60 - len(failed)
    assert max(runs_per_step(root).values()) == 1
    assert len(allocations(root)) >= 2             # a later allocation finished the study
    assert code == 2                                # Maestro's exit for a study that ended in FAILURE


def test_an_allocation_cancelled_with_scancel_cancels_only_its_running_steps(tmp_path):
    path = spec(tmp_path, 40, "sleep 1; echo $(X) > out.txt",
                dict(nodes=1, walltime="00:10:00", allocations=1, linger=5, margin=5), name="scancel")
    proc = start(tmp_path, path)
    root = tmp_path / "s"
    wait_for(lambda: running_allocation(root), 120, "a worker running a step")
    job = running_allocation(root)["alloc"]
    subprocess.run(["scancel", job], check=True)
    code, err = finish(proc)
    steps = entries(root)
    cancelled = [e for e in steps.values() if e["state"] == "CANCELLED"]
    assert cancelled and all(e["alloc"] == job for e in cancelled), err
    assert all(f"allocation {job} was cancelled" in e["reason"] for e in cancelled)
    assert sum(1 for e in steps.values() if e["state"] == "FINISHED") == 40 - len(cancelled)
    assert max(runs_per_step(root).values()) == 1
    assert len(allocations(root)) >= 2


def test_an_allocation_at_its_walltime_times_out_its_step_and_a_later_one_runs_the_restart(tmp_path):
    # SLURM's time limits are whole minutes: the allocation lasts one, and the long step (it gives
    # no walltime of its own, so any allocation takes it) is still running when it ends
    extra = [{"name": "long", "description": "outlives its allocation unless restarted",
              "run": {"cmd": "sleep 600", "restart": "echo restarted > restarted.txt", "procs": 1}}]
    path = spec(tmp_path, 3, "echo $(X) > out.txt",
                dict(nodes=1, walltime=1, allocations=1, linger=5, margin=10), extra=extra, name="walltime")
    code, err = finish(start(tmp_path, path), timeout=300)
    root = tmp_path / "s"
    steps = entries(root)
    assert code == 0, err
    assert {e["state"] for e in steps.values()} == {"FINISHED"}
    assert steps["long"]["restarts"] == 1
    assert (root / "long" / "restarted.txt").read_text() == "restarted\n"
    first, *later = allocations(root)
    assert first["state"] == "TIMEDOUT" and later
    assert steps["long"]["alloc"] == later[-1]["job_id"] or steps["long"]["alloc"] in {a["job_id"] for a in later}
    assert len(glob.glob(str(root / "long" / "long.b-*.out"))) == 2    # the run and its restart, once each


def test_a_killed_conductor_is_resumed_and_cron_passes_finish_a_bundled_study(tmp_path):
    path = spec(tmp_path, 40, "sleep 1.5; echo $(X) > out.txt",
                dict(nodes=1, walltime="00:10:00", allocations=1, linger=5, margin=5), name="conductor")
    root = tmp_path / "s"

    def finished():
        return sum(1 for e in entries(root).values() if e["state"] == "FINISHED")

    run(["maestro", "run", "-y", "-s", "1", "-o", str(root), path], tmp_path)
    wait_for(lambda: finished() > 0, 120, "a finished step")
    os.kill(int(open(root / "conductor.pid").read().split()[0]), signal.SIGKILL)
    before = finished()
    conductor = subprocess.Popen([tool("maestro"), "conductor", str(root)], cwd=tmp_path,   # resumed
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: finished() > before + 4, 60, "progress under the resumed conductor")
    conductor.kill()
    conductor.wait()
    assert finished() < 40, "the study ended before cron's passes could be tried: make its steps longer"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and finished() < 40:       # then cron's single passes
        run(["mmonitor", str(root)], tmp_path, check=False)
        time.sleep(1)
    steps = entries(root)
    assert {e["state"] for e in steps.values()} == {"FINISHED"}
    assert sorted(set(runs_per_step(root).values())) == [1] and len(runs_per_step(root)) == 40
