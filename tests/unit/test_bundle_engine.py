"""Bundles end to end in the engine: real passes, real workers, a stand-in batch scheduler whose
allocations are processes of this machine (tests/slurm has the same against real SLURM)."""

import glob
import os
import time

import pytest

from bundle_helpers import (ProcessScheduler, bundled_study, flat_spec, run_until_done, steps_by_state,
                            use_plain_allocations)
from mruntime.bundle import files as F
from mruntime.engine.passes import run_pass
from mshared.jsonio import loads
from mshared.statefile import read_state

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="the worker waits on pidfds (Linux 5.3+)")


@pytest.fixture
def scheduler(monkeypatch):
    use_plain_allocations(monkeypatch)
    fake = ProcessScheduler()
    yield fake
    fake.stop_all()


def ran(root: str) -> dict[str, int]:
    """workspace -> how many times its step's script ran (each run leaves one .out file)."""
    counts = {}
    for path in glob.glob(os.path.join(root, "work", "*", "work_*.b-*.out")):
        counts[os.path.dirname(path)] = counts.get(os.path.dirname(path), 0) + 1
    return counts


def test_every_bundled_step_runs_exactly_once_through_few_allocations(tmp_path, scheduler):
    root = bundled_study(tmp_path, flat_spec(24), allocations=2)
    assert run_until_done(root, scheduler) == "FINISHED"
    state = read_state(root)
    assert steps_by_state(root) == {"FINISHED": 24}
    assert sorted(ran(root).values()) == [1] * 24
    assert scheduler.submitted <= 2                   # at most `allocations` allocations
    for entry in state["steps"].values():
        assert entry["job_id"].startswith("b-") and entry["alloc"] in ("1000", "1001") and entry["node"]
    for entry in state["steps"].values():
        out = glob.glob(os.path.join(root, "work", "*", f"*.{entry['job_id']}.out"))
        assert len(out) == 1
    assert open(glob.glob(os.path.join(root, "work", "X.3", "*.out"))[0]).read() == ""
    assert open(os.path.join(root, "work", "X.3", "out.txt")).read() == "3\n"


def test_workers_end_themselves_when_nothing_more_can_come(tmp_path, scheduler):
    root = bundled_study(tmp_path, flat_spec(4), allocations=1, linger=300)
    assert run_until_done(root, scheduler) == "FINISHED"
    deadline = time.monotonic() + 20
    while any(p.poll() is None for p in scheduler.procs.values()) and time.monotonic() < deadline:
        run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": scheduler})
        time.sleep(0.2)
    assert all(p.poll() is not None for p in scheduler.procs.values()), "an idle allocation burns its hours"
    lease = loads(open(glob.glob(F.path(root, F.LEASES, "*.json"))[0], "rb").read())
    assert lease["ended"] and lease["ran"] == 4


def test_a_step_that_fails_fails_alone_and_keeps_its_exit_code(tmp_path, scheduler):
    root = bundled_study(tmp_path, flat_spec(3, cmd="exit $(X)"))
    assert run_until_done(root, scheduler) == "FAILURE"
    steps = read_state(root)["steps"]
    codes = sorted((e["state"], e["exit_code"]) for e in steps.values())
    assert codes == [("FAILED", 1), ("FAILED", 2), ("FINISHED", 0)]


def test_a_step_past_its_walltime_is_stopped_by_its_worker_and_timed_out(tmp_path, scheduler):
    root = bundled_study(tmp_path, flat_spec(1, cmd="sleep 30", walltime="00:00:01"))
    assert run_until_done(root, scheduler, timeout=40) == "FAILURE"
    (entry,) = read_state(root)["steps"].values()
    assert entry["state"] == "TIMEDOUT"


def test_a_cancelled_study_stops_its_workers_and_its_allocations(tmp_path, scheduler):
    from mruntime.engine.requests import ask_cancel
    from mshared.studydir import edit_state

    root = bundled_study(tmp_path, flat_spec(4, cmd="echo $(X); sleep 30"), allocations=1)
    pass_until(root, scheduler, lambda: "RUNNING" in steps_by_state(root))
    assert steps_by_state(root).get("RUNNING") == 2
    edit_state(root, lambda state, dag: ask_cancel(state, None))
    assert run_until_done(root, scheduler, timeout=30) == "CANCELLED"
    assert steps_by_state(root) == {"CANCELLED": 4}
    assert os.path.exists(F.path(root, F.STOP))
    deadline = time.monotonic() + 20
    while any(p.poll() is None for p in scheduler.procs.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(p.poll() is not None for p in scheduler.procs.values())
    assert ran(root) and all(n == 1 for n in ran(root).values())


def test_an_allocation_at_its_walltime_times_out_the_steps_it_ran_and_later_ones_finish_the_study(tmp_path, scheduler):
    root = bundled_study(tmp_path, flat_spec(3, cmd="echo $(X); sleep 2"), allocations=1, cores=1)
    pass_until(root, scheduler, lambda: "RUNNING" in steps_by_state(root))
    scheduler.expire("1000")
    states = {}
    status = run_until_done(root, scheduler, timeout=60)
    for sid, entry in read_state(root)["steps"].items():
        states[sid] = (entry["state"], entry["alloc"])
    timed_out = [s for s, (state, alloc) in states.items() if state == "TIMEDOUT"]
    assert len(timed_out) == 1 and states[timed_out[0]][1] == "1000"
    assert status == "FAILURE"
    assert sum(1 for state, _ in states.values() if state == "FINISHED") == 2
    assert all(n == 1 for n in ran(root).values())


def test_a_killed_worker_fails_its_step_once_and_never_runs_it_again(tmp_path, scheduler):
    import signal

    root = bundled_study(tmp_path, flat_spec(3, cmd="echo $(X); sleep 2"), allocations=1, cores=1)
    pass_until(root, scheduler, lambda: "RUNNING" in steps_by_state(root))
    lease = loads(open(glob.glob(F.path(root, F.LEASES, "*.json"))[0], "rb").read())
    os.kill(lease["pid"], signal.SIGKILL)
    status = run_until_done(root, scheduler, timeout=60)
    states = sorted(e["state"] for e in read_state(root)["steps"].values())
    assert states == ["FAILED", "FINISHED", "FINISHED"]
    failed = next(e for e in read_state(root)["steps"].values() if e["state"] == "FAILED")
    assert "worker" in failed["reason"] and "not run again" in failed["reason"]
    assert status == "FAILURE"
    assert all(n == 1 for n in ran(root).values())
    assert scheduler.submitted == 2        # a later allocation finished the study


CHAIN = """
description: {name: chain, description: d}
batch: {type: slurm, queue: debug}
study:
  - {name: a, description: d, run: {cmd: echo a, procs: 1}}
  - {name: b, description: d, run: {cmd: echo b, procs: 1, depends: [a]}}
  - {name: c, description: d, run: {cmd: echo c, procs: 1, depends: [b]}}
"""


def test_a_loop_passes_when_a_bundled_step_ends_and_asks_the_scheduler_once_per_poll_interval(
        tmp_path, scheduler, monkeypatch):
    from mruntime.engine import loop

    root = bundled_study(tmp_path, CHAIN, poll_interval=60, allocations=1, linger=30)
    started = time.monotonic()
    real = loop._Loop.__init__

    def with_stand_in(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.adapters = {r: {"slurm": scheduler} for r in self.roots}

    monkeypatch.setattr(loop._Loop, "__init__", with_stand_in)
    assert loop.run_loop([root]) == {root: "FINISHED"}
    assert time.monotonic() - started < 20       # not three poll intervals of 60 s
    assert scheduler.submitted == 1
    assert scheduler.queries <= 2                 # the allocation, asked about at most once a minute


def tickets_written(root: str) -> list[str]:
    out = []
    for path in glob.glob(F.path(root, F.TICKETS, "*.jsonl")):
        out += [loads(line)["step"] for line in open(path, "rb") if line.strip()]
    return out


def pass_until(root, scheduler, condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, steps_by_state(root)
        run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": scheduler})
        time.sleep(0.2)


def test_cancel_of_one_step_stops_it_in_its_worker_or_takes_its_ticket_back_and_rerun_runs_it_again(tmp_path, scheduler):
    from mruntime.engine.requests import ask_cancel, ask_rerun
    from mshared.studydir import edit_state

    root = bundled_study(tmp_path, flat_spec(4, cmd="echo $(X); sleep 3"), allocations=1, cores=1)
    pass_until(root, scheduler, lambda: "RUNNING" in steps_by_state(root))
    steps = read_state(root)["steps"]
    running = next(s for s, e in steps.items() if e["state"] == "RUNNING")
    queued = next(s for s, e in steps.items() if e["state"] == "PENDING")
    edit_state(root, lambda state, dag: ask_cancel(state, [running, queued]))
    run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": scheduler})
    steps = read_state(root)["steps"]
    assert steps[running]["state"] == steps[queued]["state"] == "CANCELLED"
    assert os.path.exists(F.path(root, F.KILL, steps[running]["job_id"]))            # asked to stop
    assert F.claimant(root, steps[queued]["job_id"])["worker"] == F.PASS_CLAIM         # never runs
    edit_state(root, lambda state, dag: ask_rerun(state, [queued], False))
    assert run_until_done(root, scheduler, timeout=60) == "CANCELLED"
    steps = read_state(root)["steps"]
    assert steps[queued]["state"] == "FINISHED" and len(steps[queued]["jobs"]) == 2
    done = loads(open(F.path(root, F.DONE, steps[running]["job_id"] + ".json"), "rb").read())
    assert done["how"] == "cancelled"                 # stopped by its worker, before its 3 s
    assert all(n == 1 for n in ran(root).values())


def test_a_pass_killed_after_writing_tickets_finds_them_again_and_writes_none_twice(tmp_path, scheduler, monkeypatch):
    from mruntime.engine import submission

    root = bundled_study(tmp_path, flat_spec(3))
    real = submission._record_job

    def killed(*args, **kwargs):
        raise KeyboardInterrupt           # the pass dies once its tickets are on disk

    monkeypatch.setattr(submission, "_record_job", killed)
    with pytest.raises(KeyboardInterrupt):
        run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": scheduler})
    monkeypatch.setattr(submission, "_record_job", real)
    assert steps_by_state(root) == {"INITIALIZED": 3}
    assert all(e["intent"] for e in read_state(root)["steps"].values())
    assert run_until_done(root, scheduler) == "FINISHED"
    assert sorted(tickets_written(root)) == sorted(read_state(root)["steps"])          # once each
    assert all(len(e["jobs"]) == 1 for e in read_state(root)["steps"].values())
    assert all(n == 1 for n in ran(root).values())


def test_bundling_turned_off_sends_tickets_no_worker_took_as_their_own_jobs(tmp_path, monkeypatch):
    from mshared.studydir import edit_state

    use_plain_allocations(monkeypatch)
    held = ProcessScheduler(start=False)       # a full cluster: the allocation never starts
    root = bundled_study(tmp_path, flat_spec(3), allocations=1)
    run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": held})
    assert steps_by_state(root) == {"PENDING": 3} and held.submitted == 1

    def off(state, dag):
        state["settings"]["bundle"] = {"off": True}

    edit_state(root, off)
    run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": held})
    steps = read_state(root)["steps"]
    assert all(not F.is_ticket(e["job_id"]) and e["state"] == "PENDING" for e in steps.values())
    assert held.submitted == 4                 # the allocation, then one job per step
    assert all(F.claimant(root, e["jobs"][0])["worker"] == F.PASS_CLAIM for e in steps.values())
    held.start = True
    held.stop_all()


def test_an_allocation_that_starts_no_worker_is_said_and_the_next_waits(tmp_path, scheduler, monkeypatch):
    from mruntime.bundle import allocations
    from mshared.errors import SchedulerUnavailable

    broken = types_namespace(extension="sh", allocation=lambda *a: "#!/bin/bash\nexit 3\n")
    monkeypatch.setattr(allocations.Allocations, "unit", lambda self: broken)
    root = bundled_study(tmp_path, flat_spec(2), allocations=1)
    adapters = {"slurm": scheduler}
    run_pass(root, poll_jobs=True, submit=True, adapters=adapters)
    deadline = time.monotonic() + 10
    with pytest.raises(SchedulerUnavailable, match="without starting a worker"):
        while time.monotonic() < deadline:
            run_pass(root, poll_jobs=True, submit=True, adapters=adapters)
            time.sleep(0.2)
    for _ in range(5):
        run_pass(root, poll_jobs=True, submit=True, adapters=adapters)
    assert scheduler.submitted == 1            # no storm of allocations: the next waits 30 s


def types_namespace(**fields):
    import types

    return types.SimpleNamespace(**fields)


def test_a_cancelled_study_takes_its_queued_tickets_back_at_once_and_a_rerun_runs_only_new_ones(tmp_path, monkeypatch):
    from mruntime.engine.requests import ask_cancel, ask_rerun
    from mshared.studydir import edit_state

    use_plain_allocations(monkeypatch)
    held = ProcessScheduler(start=False)          # the allocation waits in the queue
    root = bundled_study(tmp_path, flat_spec(30), allocations=1)
    run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": held})
    edit_state(root, lambda state, dag: ask_cancel(state, None))
    run_pass(root, poll_jobs=True, submit=True, adapters={"slurm": held})
    assert steps_by_state(root) == {"CANCELLED": 30}
    assert not os.listdir(F.path(root, F.CLAIMS))               # no work per ticket
    assert os.listdir(F.path(root, F.REVOKED)) and not os.listdir(F.path(root, F.TICKETS))
    edit_state(root, lambda state, dag: ask_rerun(state, ["work_X.3"], False))
    held.release()                                # the old allocation starts now, then later ones
    assert run_until_done(root, held, timeout=60) == "CANCELLED"
    steps = read_state(root)["steps"]
    assert steps["work_X.3"]["state"] == "FINISHED"
    assert list(ran(root)) == [os.path.join(root, "work", "X.3")]   # nothing revoked ran
    held.stop_all()
