"""SLURM adapter against recorded SLURM 22.05 answers (a fake runner: no cluster needed).

The transcripts are what sbatch/scontrol/sacct/scancel/squeue printed on the CI machine's real
SLURM 22.05.8 (../shared/slurm/README.md §3); tests/slurm/ runs the same adapter for real.
"""

from __future__ import annotations

import os
import time

import pytest

from mshared import states as S
from mshared.errors import SchedulerUnavailable
from mruntime.schedulers.base import CommandResult, JobRef, SubmitRefused
from mruntime.schedulers.slurm import FORGOTTEN, SlurmAdapter, map_state


def sc_line(jid, state, exit_code="0:0", reason="None", start="2026-11-25T16:14:23",
            end="2026-11-25T16:14:24", workdir="/tmp/ws", name="job.sh", extra=""):
    """One line of `scontrol show job -o` as SLURM 22.05.8 prints it (trimmed of a few fields)."""
    return (f"JobId={jid} JobName={name} UserId=root(0) GroupId=root(0) MCS_label=N/A "
            f"Priority=4294901752 Nice=0 Account=(null) QOS=(null) JobState={state} Reason={reason} "
            f"Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode={exit_code} {extra}"
            f"RunTime=00:00:01 TimeLimit=365-00:00:00 TimeMin=N/A SubmitTime=2026-11-25T16:14:22 "
            f"EligibleTime=2026-11-25T16:14:22 AccrueTime=2026-11-25T16:14:22 StartTime={start} "
            f"EndTime={end} Deadline=N/A SuspendTime=None SecsPreSuspend=0 "
            f"LastSchedEval=2026-11-25T16:14:23 Scheduler=Backfill Partition=debug "
            f"AllocNode:Sid=localhost:19329 ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost "
            f"BatchHost=localhost NumNodes=1 NumCPUs=1 NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* "
            f"TRES=cpu=1,node=1,billing=1 Socks/Node=* NtasksPerN:B:S:C=0:0:*:* CoreSpec=* "
            f"MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) DelayBoot=00:00:00 "
            f"OverSubscribe=YES Contiguous=0 Licenses=(null) Network=(null) "
            f"Command={workdir}/{name} WorkDir={workdir} StdErr={workdir}/slurm-{jid}.out "
            f"StdIn=/dev/null StdOut={workdir}/slurm-{jid}.out Power= ")


class FakeSlurm:
    """A runner replaying canned answers; records every call."""

    def __init__(self, answers=None):
        self.calls: list[list[str]] = []
        self.answers = answers or {}

    def __call__(self, argv, *, timeout=None, cwd=None, input_text=None, env=None):
        self.calls.append(list(argv))
        assert timeout is not None and timeout > 0, "every scheduler call needs a timeout"
        key = " ".join(argv[:3]) if argv[0] in ("scontrol", "sacct") else argv[0]
        if argv[0] == "sacct":
            key = "sacct -c" if "-c" in argv else "sacct"
        answer = self.answers.get(key)
        if answer is None:
            raise AssertionError(f"unexpected call {argv}")
        if callable(answer):
            answer = answer(argv)
        rc, out, err = answer
        return CommandResult(rc, out, err, list(argv))

    def count(self, prog):
        return sum(1 for c in self.calls if c[0] == prog)


@pytest.fixture(autouse=True)
def _reset_accounting_mode():
    SlurmAdapter._accounting = None
    yield
    SlurmAdapter._accounting = None


@pytest.fixture
def step(tmp_path):
    """(script, workspace) that exist."""
    ws = tmp_path / "ws"
    ws.mkdir()
    script = ws / "s.slurm.sh"
    script.write_text("#!/bin/bash\ntrue\n")
    return str(script), str(ws)


def refs(*ids, ws="/tmp/ws"):
    return [JobRef(str(i), ws, f"step{i}") for i in ids]


def adapter(answers):
    fake = FakeSlurm(answers)
    return SlurmAdapter({}, runner=fake, timeout=5), fake


# ------------------------------------------------------------------ submit
@pytest.mark.parametrize("out", ["123\n", "123;localci\n"])
def test_submit_returns_the_leading_integer(out, step):
    a, fake = adapter({"sbatch": (0, out, "")})
    assert a.submit(step[0], step[1], "s") == "123"
    assert fake.calls == [["sbatch", "--parsable", "-D", step[1], step[0]]]


def test_submit_refused_keeps_slurms_words(step):
    msg = "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
    a, _ = adapter({"sbatch": (1, "", msg)})
    with pytest.raises(SubmitRefused) as exc:
        a.submit(*step, "s")
    assert "Invalid partition name specified" in str(exc.value)


@pytest.mark.parametrize("msg", [
    "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)",
    "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
    "sbatch: error: Munge encode failed: Failed to access \"/run/munge/munge.socket.2\"",
])
def test_submit_controller_down_is_unavailable(msg, step):
    a, _ = adapter({"sbatch": (1, "", msg + "\n")})
    with pytest.raises(SchedulerUnavailable) as exc:
        a.submit(*step, "s")
    assert exc.value.exit_code == 69


def test_submit_without_job_id_is_not_guessed(step):
    a, _ = adapter({"sbatch": (0, "Submitted batch job\n", "")})
    with pytest.raises(SchedulerUnavailable, match="without a job id"):
        a.submit(*step, "s")


def test_missing_sbatch_is_unavailable(monkeypatch, tmp_path, step):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SchedulerUnavailable, match="not found on PATH"):
        SlurmAdapter({}).submit(*step, "s")


def test_missing_workspace_or_script_is_refused_without_calling_sbatch(step, tmp_path):
    a, fake = adapter({})
    with pytest.raises(SubmitRefused, match="does not exist"):
        a.submit(step[0], str(tmp_path / "gone"), "s")
    with pytest.raises(SubmitRefused, match="does not exist"):
        a.submit(str(tmp_path / "gone.sh"), step[1], "s")
    assert fake.calls == []


# ------------------------------------------------------------------ status
def test_status_of_200_jobs_is_one_call():
    lines = "\n".join(sc_line(i, "RUNNING") for i in range(1, 401)) + "\n"
    a, fake = adapter({"scontrol show job": (0, lines, "")})
    out = a.status(refs(*range(100, 300)))
    assert len(fake.calls) == 1 and fake.calls[0] == ["scontrol", "show", "job", "-o"]
    assert len(out) == 200 and {s.state for s in out.values()} == {S.RUNNING}


@pytest.mark.parametrize("word,state", [
    ("PENDING", S.PENDING), ("RUNNING", S.RUNNING), ("COMPLETING", S.FINISHING),
    ("COMPLETED", S.FINISHED), ("FAILED", S.FAILED), ("TIMEOUT", S.TIMEDOUT),
    ("CANCELLED", S.CANCELLED), ("CANCELLED by 0", S.CANCELLED), ("NODE_FAIL", S.HWFAILURE),
    ("BOOT_FAIL", S.HWFAILURE), ("PREEMPTED", S.HWFAILURE), ("OUT_OF_MEMORY", S.FAILED),
    ("DEADLINE", S.FAILED), ("SUSPENDED", S.RUNNING), ("REQUEUED", S.PENDING),
    ("PD", S.PENDING), ("CG", S.FINISHING), ("CD", S.FINISHED), ("TO", S.TIMEDOUT),
    ("NF", S.HWFAILURE), ("CA", S.CANCELLED), ("WEIRD", S.UNKNOWN),
])
def test_state_map(word, state):
    assert map_state(word) == state


def test_status_exit_codes_reasons_and_times(monkeypatch):
    lines = "\n".join([
        sc_line(1, "COMPLETED", "0:0"),
        sc_line(2, "FAILED", "3:0", "NonZeroExitCode", extra="DerivedExitCode=0:0 "),
        sc_line(3, "CANCELLED", "0:15"),
        sc_line(4, "TIMEOUT", "0:15", "TimeLimit"),
        sc_line(5, "FAILED", "0:9", "JobLaunchFailure"),
        sc_line(6, "PENDING", "0:0", "Resources", start="2026-11-25T18:00:00", end="Unknown"),
        sc_line(7, "RUNNING", "0:0", end="2027-11-25T16:14:23"),
        sc_line(8, "PENDING", "0:0", "JobHeldUser", start="Unknown", end="Unknown"),
    ])
    a, _ = adapter({"scontrol show job": (0, lines + "\n", "")})
    out = a.status(refs(1, 2, 3, 4, 5, 6, 7, 8))
    assert (out["1"].state, out["1"].exit_code, out["1"].reason) == (S.FINISHED, 0, None)
    assert (out["2"].state, out["2"].exit_code, out["2"].reason) == (S.FAILED, 3, "NonZeroExitCode")
    assert (out["3"].state, out["3"].exit_code, out["3"].reason) == (S.CANCELLED, None, "signal 15")
    assert (out["4"].state, out["4"].exit_code) == (S.TIMEDOUT, None)
    assert out["4"].reason == "TimeLimit; signal 15"
    assert (out["5"].state, out["5"].exit_code) == (S.FAILED, None)
    assert "signal 9" in out["5"].reason
    # pending: no start/end even though SLURM prints an expected start time
    assert (out["6"].state, out["6"].started, out["6"].ended, out["6"].reason) == \
        (S.PENDING, None, None, "Resources")
    # running: started, but EndTime is only the time limit, not an end
    assert out["7"].state == S.RUNNING and out["7"].started and out["7"].ended is None
    assert out["8"].reason == "JobHeldUser"
    assert out["1"].started.endswith("Z") and out["1"].ended.endswith("Z")


def test_times_are_converted_from_local_time_to_utc(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        line = sc_line(1, "COMPLETED", start="2026-07-01T08:00:00", end="2026-07-01T09:30:05")
        a, _ = adapter({"scontrol show job": (0, line + "\n", "")})
        st = a.status(refs(1))["1"]
        assert (st.started, st.ended) == ("2026-07-01T12:00:00Z", "2026-07-01T13:30:05Z")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_workdir_with_spaces_and_empty_cluster():
    line = sc_line(9, "RUNNING", workdir="/tmp/my study/step 1", name="step 1")
    a, _ = adapter({"scontrol show job": (0, line + "\n", "")})
    assert a.status(refs(9))["9"].state == S.RUNNING
    a, _ = adapter({"scontrol show job": (0, "No jobs in the system\n", ""),
                    "sacct": (1, "", "Slurm accounting storage is disabled\n"),
                    "sacct -c": (0, "", "")})
    assert a.status(refs(9))["9"].state == S.UNKNOWN


def test_purged_jobs_one_sacct_follow_up_with_slurmdbd():
    lines = sc_line(1, "RUNNING") + "\n"
    sacct = "2|FAILED|3:0|2026-11-25T16:14:23|2026-11-25T16:14:24\n" \
            "3|CANCELLED by 0|0:0|2026-11-25T16:14:23|2026-11-25T16:14:24\n"
    a, fake = adapter({"scontrol show job": (0, lines, ""), "sacct": (0, sacct, "")})
    out = a.status(refs(1, 2, 3, 4))
    assert len(fake.calls) == 2
    assert fake.calls[1][:2] == ["sacct", "-X"] and "2,3,4" in fake.calls[1]
    assert (out["2"].state, out["2"].exit_code) == (S.FAILED, 3)
    assert "sacct" in out["2"].reason
    assert (out["3"].state, out["3"].exit_code) == (S.CANCELLED, None)
    assert out["4"].state == S.UNKNOWN and out["4"].reason == FORGOTTEN


def test_purged_jobs_without_slurmdbd_use_the_jobcomp_log_and_remember_it():
    lines = sc_line(1, "RUNNING") + "\n"
    answers = {
        "scontrol show job": (0, lines, ""),
        "sacct": (1, "", "Slurm accounting storage is disabled\n"),
        "sacct -c": (0, "2|COMPLETED|0:0|2026-11-25T16:14:23|2026-11-25T16:14:24\n", ""),
    }
    a, fake = adapter(answers)
    out = a.status(refs(1, 2, 3))
    assert [c[0] for c in fake.calls] == ["scontrol", "sacct", "sacct"]
    assert (out["2"].state, out["2"].exit_code) == (S.FINISHED, 0)
    assert out["3"].state == S.UNKNOWN and "no longer known to SLURM" in out["3"].reason
    # the next pass (new adapter, same process) asks the jobcomp log straight away
    a2, fake2 = adapter(answers)
    a2.status(refs(1, 2))
    assert [c[0] for c in fake2.calls] == ["scontrol", "sacct"] and "-c" in fake2.calls[1]


def test_vanished_job_is_never_finished():
    a, _ = adapter({"scontrol show job": (0, sc_line(1, "RUNNING") + "\n", ""),
                    "sacct": (1, "", "Slurm accounting storage is disabled\n"),
                    "sacct -c": (1, "", "sacct: error: no jobcomp file\n")})
    st = a.status(refs(5))["5"]
    assert st.state == S.UNKNOWN and st.exit_code is None


def test_status_controller_down_and_garbage():
    a, _ = adapter({"scontrol show job": (
        1, "", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n")})
    with pytest.raises(SchedulerUnavailable, match="not reachable"):
        a.status(refs(1))
    a, _ = adapter({"scontrol show job": (0, "<html>proxy error</html>\n", "")})
    with pytest.raises(SchedulerUnavailable, match="unexpected output"):
        a.status(refs(1))
    a, fake = adapter({})
    assert a.status([]) == {} and fake.calls == []


# ------------------------------------------------------------------ cancel
def test_cancel_is_one_quiet_call_and_ignores_finished_jobs():
    a, fake = adapter({"scancel": (0, "", "")})
    a.cancel(refs(1, 2, 2, 3))
    assert fake.calls == [["scancel", "--quiet", "1", "2", "3"]]
    a, _ = adapter({"scancel": (1, "", "scancel: error: Kill job error on job id 7: "
                                        "Invalid job id specified\n")})
    a.cancel(refs(7))
    a, _ = adapter({"scancel": (1, "", "scancel: error: Unable to contact slurm controller "
                                        "(connect failure)\n")})
    with pytest.raises(SchedulerUnavailable):
        a.cancel(refs(7))
    a, _ = adapter({"scancel": (1, "", "scancel: error: Kill job error on job id 7: "
                                        "Access/permission denied\n")})
    with pytest.raises(SchedulerUnavailable, match="permission denied"):
        a.cancel(refs(7))


# ------------------------------------------------------------------ find
def test_find_matches_work_directories_exactly(monkeypatch):
    out = ("11|/tmp/study/a|a.slurm.sh\n12|/tmp/study/ab|ab.slurm.sh\n"
           "13|/tmp/we|ird/x|weird\n14|/elsewhere|z\n")
    a, fake = adapter({"squeue": (0, out, "")})
    found = a.find(["/tmp/study/a", "/tmp/we|ird/x/"])
    assert [(f.job_id, f.workspace, f.name) for f in found] == [
        ("11", "/tmp/study/a", "a.slurm.sh"), ("13", "/tmp/we|ird/x", "weird")]
    assert fake.calls[0][:5] == ["squeue", "-h", "-t", "all", "-u"]


def test_every_call_has_a_timeout_and_no_shell():
    # FakeSlurm asserts a timeout on every call; argv lists, never a shell string
    a, fake = adapter({"scontrol show job": (0, sc_line(1, "RUNNING") + "\n", "")})
    a.status(refs(1))
    assert all(isinstance(c, list) for c in fake.calls)
    assert os.path.basename(fake.calls[0][0]) == "scontrol"
