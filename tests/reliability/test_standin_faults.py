"""Scheduler faults on the LSF, Flux and PBS stand-ins (tests/standins): the study continues or
stops cleanly, and the state says why.

* down / garbage / hang while submitting or polling: msubmit and mmonitor exit 69 with one line,
  the state file is byte-for-byte unchanged, nothing is marked failed, no job is left behind; once
  the scheduler is back the study goes on to the end, one job per step.
* a refusal counts as an attempt, waits its back-off (`not_before`, honoured by later passes
  without calling the scheduler) and, after --attempts, fails the step with the scheduler's own
  words and its subtree; the other branch goes on.
* a submission that times out AFTER the scheduler accepted the job must not lead to a second job.

Hangs use a 1 s adapter timeout (the CLI is invoked in-process with the adapters built that way);
`make stress` also runs one hang against the real 30 s default through the installed command.
"""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from mruntime.engine import passes
from mruntime.engine import study as pass_study
from mruntime.schedulers import registry
from mshared.statefile import read_state
from standins import engine
from standins.testing import use_standin

from reliability_helpers import STRESS, one_line_error, tool

SCHEDULERS = {
    "lsf": {"queue": "normal", "status": "BJOBS", "submit": "BSUB"},
    "flux": {"queue": "batch", "status": "FLUX_JOBS", "submit": "FLUX_BATCH"},
    "pbs": {"queue": "workq", "status": "QSTAT", "submit": "QSUB"},
}


def finished(kind: str, ok: bool) -> dict:
    now = time.time()
    if kind == "lsf":
        return dict(stat="DONE" if ok else "EXIT", exit_code=None if ok else 3, start_time=now - 5,
                    finish_time=now)
    if kind == "flux":
        return dict(state="INACTIVE", result="COMPLETED" if ok else "FAILED", returncode=0 if ok else 3,
                    t_run=now - 5, t_inactive=now)
    return dict(job_state="F", substate=92, Exit_status=0 if ok else 3, stime=now - 5, obittime=now)


SPEC = """
description: {{name: faults, description: scheduler faults}}
batch: {{type: {kind}, queue: {queue}}}
study:
  - {{name: a, description: first, run: {{cmd: echo a, nodes: 1, procs: 1}}}}
  - {{name: b, description: after a, run: {{cmd: echo b, nodes: 1, procs: 1, depends: [a]}}}}
  - {{name: c, description: another branch, run: {{cmd: echo c, nodes: 1, procs: 1}}}}
"""


@pytest.fixture(params=list(SCHEDULERS))
def standin(request, tmp_path, monkeypatch):
    kind = request.param
    state_dir = use_standin(monkeypatch, tmp_path, kind, queues=[SCHEDULERS[kind]["queue"], "debug"])
    from mexpand.cli import main as mexpand_main
    from mrender.cli import main as mrender_main

    monkeypatch.chdir(tmp_path)
    dag = CliRunner().invoke(mexpand_main, ["-"], input=SPEC.format(kind=kind, queue=SCHEDULERS[kind]["queue"]))
    assert dag.exit_code == 0, dag.stderr
    out = CliRunner().invoke(mrender_main, ["-o", str(tmp_path / "study")], input=dag.stdout_bytes)
    assert out.exit_code == 0, out.stderr
    # every adapter a pass builds gets a 1 s timeout, so a hang costs a second, not thirty
    real = registry.get_adapter
    monkeypatch.setattr(pass_study, "get_adapter", lambda name, batch=None, **kw: real(name, batch, timeout=1.0, **kw))
    monkeypatch.setenv("STANDIN_HANG_SECONDS", "4")
    return kind, state_dir, str(tmp_path / "study")


def cli(name: str, *args):
    from mmonitor.cli import main as mmonitor_main
    from msubmit.cli import main as msubmit_main

    main = {"msubmit": msubmit_main, "mmonitor": mmonitor_main}[name]
    start = time.monotonic()
    result = CliRunner().invoke(main, list(args), prog_name=name)
    result.seconds = time.monotonic() - start
    return result


def state_bytes(root) -> bytes:
    return open(os.path.join(root, "state.json"), "rb").read()


def state_doc(root) -> dict:
    """The state without its 'updated' stamp, checksum and intents: a pass that wrote its intents
    and took them back (scheduler down) leaves only a newer stamp; one whose submit may have
    reached the scheduler (no job id, a timeout) keeps that step's intent, to find the job later."""
    doc = read_state(root)
    doc.pop("updated")
    doc.pop("checksum")
    for entry in doc["steps"].values():
        entry.pop("intent")
    return doc


def no_grace(root) -> None:
    """Reconcile kept intents at once (the default waits 10 s for a job that may still appear)."""
    from mshared.statefile import lock_study, write_state

    with lock_study(root, wait=True):
        state = read_state(root)
        state["settings"]["submit_grace"] = 0
        write_state(root, state)


def steps(root) -> dict:
    return {sid: (e["state"], e["job_id"]) for sid, e in read_state(root)["steps"].items()}


def jobs_per_step(state_dir, root) -> dict:
    """How many scheduler jobs each step's workspace got."""
    counts = {}
    for job in engine.jobs(state_dir).values():
        where = job.get("exec_cwd") or job.get("cwd") or (job.get("Variable_List") or {}).get("PBS_O_WORKDIR")
        step = os.path.basename(where) if where and where.startswith(root) else "?"
        counts[step] = counts.get(step, 0) + 1
    return counts


def finish_all(kind, state_dir, root, failing=()):
    """The scheduler ends every job in flight: exit 0, or exit 3 for the steps in ``failing``."""
    for sid, (state, job_id) in steps(root).items():
        if job_id and state not in ("FINISHED", "FAILED"):
            engine.update_job(state_dir, job_id, **finished(kind, sid not in failing))


def run_to_the_end(kind, state_dir, root, failing=()):
    """Poll, finish what is in flight, repeat: the study ends; returns its final step states."""
    for _ in range(6):
        result = cli("mmonitor", root)
        assert result.exit_code == 0, result.stderr
        finish_all(kind, state_dir, root, failing)
        if all(s in ("FINISHED", "FAILED") for s, _ in steps(root).values()):
            break
    return {sid: s for sid, (s, _) in steps(root).items()}


def test_faults_while_submitting_change_nothing_then_the_study_goes_on(standin, monkeypatch):
    kind, state_dir, root = standin
    no_grace(root)
    before = state_doc(root)
    for mode in ("down", "garbage", "hang"):
        monkeypatch.setenv("STANDIN_FAIL", mode)
        result = cli("msubmit", root)
        line = one_line_error(result.stderr, "msubmit")
        print(f"\nstand-in {kind}, {mode} on submit: exit {result.exit_code} in {result.seconds:.1f} s: {line}")
        assert result.exit_code == 69, mode
        assert state_doc(root) == before, f"{mode}: the state changed although nothing was submitted"
        assert engine.jobs(state_dir) == {}, mode
    monkeypatch.delenv("STANDIN_FAIL")
    assert cli("msubmit", root).exit_code == 0
    final = run_to_the_end(kind, state_dir, root)
    assert final == {"a": "FINISHED", "b": "FINISHED", "c": "FINISHED"}
    assert jobs_per_step(state_dir, root) == {"a": 1, "b": 1, "c": 1}


def test_faults_while_polling_change_nothing_then_the_study_goes_on(standin, monkeypatch):
    kind, state_dir, root = standin
    assert cli("msubmit", root).exit_code == 0
    finish_all(kind, state_dir, root, failing=("c",))       # the jobs ended while the scheduler is sick
    before = state_bytes(root)
    variable = f"STANDIN_FAIL_{SCHEDULERS[kind]['status']}"
    for mode in ("down", "garbage", "hang", "refuse"):
        monkeypatch.setenv(variable, mode)
        result = cli("mmonitor", root)
        print(f"\nstand-in {kind}, {mode} on status: exit {result.exit_code} in {result.seconds:.1f} s: "
              f"{result.stderr.strip()}")
        assert result.exit_code == 69, (mode, result.stderr, steps(root))
        one_line_error(result.stderr, "mmonitor")
        assert state_bytes(root) == before, mode
    monkeypatch.delenv(variable)
    final = run_to_the_end(kind, state_dir, root, failing=("c",))
    assert final == {"a": "FINISHED", "b": "FINISHED", "c": "FAILED"}
    state = read_state(root)["steps"]
    assert state["c"]["exit_code"] == 3 and state["c"]["reason"]
    assert jobs_per_step(state_dir, root) == {"a": 1, "b": 1, "c": 1}


def test_refusals_back_off_then_fail_the_step_with_the_schedulers_words(standin, monkeypatch):
    kind, state_dir, root = standin
    monkeypatch.setenv(f"STANDIN_FAIL_{SCHEDULERS[kind]['submit']}", "refuse")
    from msubmit.core import update_settings

    update_settings(root, {"attempts": 3})
    t0 = datetime.now(timezone.utc)
    clock = {"now": t0}
    calls = []

    def one_pass(at_seconds):
        clock["now"] = t0 + timedelta(seconds=at_seconds)
        before = len(engine.calls(state_dir))
        passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: clock["now"])
        calls.append(len(engine.calls(state_dir)) - before)
        return read_state(root)["steps"]

    s = one_pass(0)                  # attempt 1 of a and c: refused, next in 2 s
    assert s["a"]["state"] == "INITIALIZED" and s["a"]["attempts"] == 1 and s["a"]["not_before"]
    assert "attempt 1 of 3, next in 2 s" in s["a"]["reason"]
    s = one_pass(1)                  # too early: the scheduler is not asked
    assert s["a"]["attempts"] == 1 and calls[-1] == 0
    s = one_pass(2.5)                # attempt 2: next in 4 s
    assert s["a"]["attempts"] == 2 and "next in 4 s" in s["a"]["reason"]
    s = one_pass(7)                  # attempt 3: out of attempts
    print(f"\nstand-in {kind}, refusals: scheduler calls per pass {calls}; a: {s['a']['state']}: "
          f"{s['a']['reason']}")
    assert s["a"]["state"] == "FAILED" and s["c"]["state"] == "FAILED"
    assert s["a"]["reason"].startswith("submission refused 3 time(s): ")
    assert s["b"]["state"] == "FAILED" and s["b"]["reason"] == "parent 'a' failed"
    assert engine.jobs(state_dir) == {}


def test_a_refusal_of_one_step_lets_the_other_branch_finish(standin, monkeypatch, tmp_path):
    """Only step a is refused (its queue does not exist): a and b fail, c runs to the end."""
    kind, state_dir, root = standin
    engine.init(state_dir, [SCHEDULERS[kind]["queue"]])       # 'debug' is gone now
    script = [p for p in os.listdir(os.path.join(root, "a")) if p.endswith(".sh")][0]
    path = os.path.join(root, "a", script)
    text = open(path).read().replace(SCHEDULERS[kind]["queue"], "debug")
    open(path, "w").write(text)
    result = cli("msubmit", root)
    assert result.exit_code == 0, result.stderr
    final = run_to_the_end(kind, state_dir, root)
    state = read_state(root)["steps"]
    print(f"\nstand-in {kind}, one step refused: {final}; a: {state['a']['reason']}")
    assert final == {"a": "FAILED", "b": "FAILED", "c": "FINISHED"}
    assert state["a"]["reason"].startswith("submission refused 1 time(s): ")
    assert ("debug" in state["a"]["reason"]) or kind == "pbs"     # PBS does not name the queue
    assert jobs_per_step(state_dir, root) == {"c": 1}


def test_a_submission_that_times_out_after_the_job_was_accepted_is_not_submitted_twice(standin, tmp_path,
                                                                                     monkeypatch):
    """The submit command registers the job, then hangs past the adapter's timeout (a slow
    controller; SLURM's "Socket timed out on send/recv" after the job was queued).  The job
    exists: the next passes must adopt it (find() by workspace), never submit a second one."""
    kind, state_dir, root = standin
    command = {"lsf": "bsub", "flux": "flux", "pbs": "qsub"}[kind]
    slow = tmp_path / "slow-bin"
    slow.mkdir()
    real = os.path.join(os.path.dirname(engine.__file__), kind, command)
    wrapper = slow / command
    wrapper.write_text("#!/bin/sh\n"
                       f"\"{sys.executable}\" \"{real}\" \"$@\"\nrc=$?\n"
                       "case \"$1\" in jobs|cancel|job|uptime) exit $rc;; esac\n"
                       "[ \"$0\" != \"${0%bjobs}\" ] && exit $rc\n"
                       "sleep 3\nexit $rc\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{slow}{os.pathsep}{os.environ['PATH']}")
    result = cli("msubmit", root)                       # bsub/qsub/flux batch accepted, then hung
    print(f"\nstand-in {kind}, timeout after acceptance: msubmit exit {result.exit_code}: "
          f"{result.stderr.strip()}; jobs {jobs_per_step(state_dir, root)}")
    assert result.exit_code == 69
    intents = {sid for sid, e in read_state(root)["steps"].items() if e["intent"]}
    monkeypatch.setenv("PATH", os.environ["PATH"].split(os.pathsep, 1)[1])   # the scheduler is fast again
    # passes within and after the intent grace period
    for _ in range(2):
        cli("msubmit", root)
    later = datetime.now(timezone.utc) + timedelta(seconds=passes.INTENT_GRACE + 1)
    passes.run_pass(root, poll_jobs=True, submit=True, clock=lambda: later)
    counts = jobs_per_step(state_dir, root)
    print(f"stand-in {kind}, timeout after acceptance: intents kept {sorted(intents)}; "
          f"jobs per step after the next passes {counts}")
    assert counts.get("a") == 1 and counts.get("c") == 1, f"a step was submitted twice: {counts}"


@pytest.mark.skipif(not STRESS, reason="costs the real 30 s timeout: `make stress` only")
def test_a_hang_against_the_real_timeout_through_the_installed_command(tmp_path, monkeypatch):
    state_dir = use_standin(monkeypatch, tmp_path, "lsf", queues=["normal"])
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(kind="lsf", queue="normal"))
    dag = subprocess.run([tool("mexpand"), str(spec)], capture_output=True, check=True, cwd=tmp_path).stdout
    root = subprocess.run([tool("mrender"), "-o", str(tmp_path / "s")], input=dag, capture_output=True,
                          check=True, cwd=tmp_path).stdout.decode().strip()
    before = state_doc(root)
    monkeypatch.setenv("STANDIN_FAIL", "hang")
    monkeypatch.setenv("STANDIN_HANG_SECONDS", "120")
    start = time.monotonic()
    proc = subprocess.run([tool("msubmit"), root], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - start
    print(f"\nstand-in lsf, hang, installed msubmit: exit {proc.returncode} after {took:.1f} s: {proc.stderr.strip()}")
    assert proc.returncode == 69 and 25 < took < 60
    assert state_doc(root) == before and engine.jobs(state_dir) == {}
