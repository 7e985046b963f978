"""PBS adapter details against the qsub/qstat/qdel stand-ins (tests/standins/pbs).

What every scheduler must do (refusals, faults, unknown ids, a missing client) is checked for
PBS by tests/unit/test_scheduler_contract.py, with the harness in tests/sched_contract/pbs.py.
"""

from __future__ import annotations

import json
import time

import pytest

from mshared import states as S
from mshared.errors import SchedulerUnavailable
from mruntime.schedulers.base import CommandResult, JobRef
from mruntime.schedulers.pbs import PbsAdapter, make_status
from standins import engine
from sched_contract.pbs import Harness
from standins.testing import call_count, write_script

HEADER = Harness.header


@pytest.fixture
def pbs(monkeypatch, tmp_path):
    return PbsAdapter({}, timeout=10), Harness(tmp_path, monkeypatch).state


def script(tmp_path, name="step1", body="echo hi\n", header=HEADER):
    ws = tmp_path / "study" / name
    return write_script(ws, f"{name}.pbs.sh", header.format(name=name) + body), str(ws)


def ref(job_id, ws="/nowhere"):
    return JobRef(job_id, ws, "s")


def test_submit_status_find_cancel(pbs, tmp_path):
    a, state = pbs
    path, ws = script(tmp_path)
    jid = a.submit(path, ws, "step1")
    assert jid == "1.pbssrv"
    job = engine.jobs(state)["1"]
    assert job["Variable_List"]["PBS_O_WORKDIR"] == ws        # qsub ran in the workspace
    assert engine.calls(state, "qsub")[0]["argv"] == [path]
    assert a.status([ref(jid)])[jid].state == S.PENDING
    assert [(f.job_id, f.workspace, f.name) for f in a.find([ws])] == [(jid, ws, "step1")]

    engine.update_job(state, jid, job_state="R", substate=42, stime=time.time() - 30)
    st = a.status([ref(jid)])[jid]
    assert st.state == S.RUNNING and st.started
    a.cancel([ref(jid)])
    st = a.status([ref(jid)])[jid]
    assert (st.state, st.exit_code) == (S.CANCELLED, None) and st.ended
    a.cancel([ref(jid)])                      # finished: not an error
    a.cancel([ref("77.pbssrv")])              # unknown: not an error


@pytest.mark.parametrize("fields,expect", [
    (dict(job_state="Q"), (S.PENDING, None)),
    (dict(job_state="H"), (S.PENDING, None)),
    (dict(job_state="W"), (S.WAITING, None)),
    (dict(job_state="T"), (S.PENDING, None)),
    (dict(job_state="R"), (S.RUNNING, None)),
    (dict(job_state="S"), (S.RUNNING, None)),
    (dict(job_state="E"), (S.FINISHING, None)),
    (dict(job_state="F", substate=92, Exit_status=0), (S.FINISHED, 0)),
    (dict(job_state="F", substate=92, Exit_status=3), (S.FAILED, 3)),
    (dict(job_state="F", substate=93, Exit_status=-29), (S.TIMEDOUT, None)),
    (dict(job_state="F", substate=92, Exit_status=271,
          resources_used={"walltime": "00:10:02"}), (S.TIMEDOUT, None)),
    (dict(job_state="F", substate=91, Exit_status=271), (S.CANCELLED, None)),
    (dict(job_state="F", substate=91), (S.CANCELLED, None)),
    (dict(job_state="F", substate=92, Exit_status=265), (S.FAILED, None)),
    (dict(job_state="F", substate=93, Exit_status=-27), (S.FAILED, None)),
    (dict(job_state="F", substate=93, Exit_status=-20), (S.HWFAILURE, None)),
    (dict(job_state="M"), (S.UNKNOWN, None)),
    (dict(job_state="Z"), (S.UNKNOWN, None)),
])
def test_state_map(pbs, tmp_path, fields, expect):
    a, state = pbs
    path, ws = script(tmp_path)
    jid = a.submit(path, ws, "step1")
    if fields["job_state"] == "F":
        fields = dict(fields, stime=1_790_000_000, obittime=1_790_000_123)
    engine.update_job(state, jid, **fields)
    st = a.status([ref(jid)])[jid]
    assert (st.state, st.exit_code) == expect
    if fields["job_state"] == "F":
        assert (st.started, st.ended) == ("2026-09-21T14:13:20Z", "2026-09-21T14:15:23Z")
    if fields.get("Exit_status") == -27:
        assert "JOB_EXEC_KILL_MEM" in st.reason
    if fields.get("Exit_status") == 265:
        assert "signal 9" in st.reason


def test_buildtest_transcript_parses():
    """The PBS Pro 19.0.0 record from buildtesters/buildtest docs/batch_support.rst."""
    rec = json.loads("""{"Job_Name": "pbs_sleep", "Job_Owner": "pbsuser@pbs",
        "resources_used": {"cpupercent": 0, "cput": "00:00:00", "mem": "5620kb", "ncpus": 1,
                           "vmem": "25632kb", "walltime": "00:00:10"},
        "job_state": "F", "queue": "workq", "server": "pbs", "ctime": "Wed Mar 17 20:36:48 2021",
        "mtime": "Wed Mar 17 20:36:58 2021", "Resource_List": {"walltime": "00:02:00"},
        "stime": "Wed Mar 17 20:36:48 2021", "substate": 92,
        "comment": "Job run at Wed Mar 17 at 20:36 on (pbs:ncpus=1) and finished",
        "Exit_status": 0, "Variable_List": {"PBS_O_WORKDIR": "/tmp/stage"}}""")
    st = make_status("40.pbs", rec)
    assert (st.state, st.exit_code, st.reason) == (S.FINISHED, 0, None)
    assert st.started and st.ended                      # end from mtime when no obittime


def test_status_of_200_jobs_is_one_call(pbs):
    a, state = pbs
    for i in range(1, 201):
        engine.add_job(state, str(i), full_id=f"{i}.pbssrv", Job_Name=f"s{i}", Job_Owner="u@h",
                       job_state="R" if i % 2 else "F", substate=92, Exit_status=0, queue="workq",
                       stime=time.time())
    before = call_count(state)
    # one id spelled with the server's long name: matched by its sequence number
    ids = [f"{i}.pbssrv" for i in range(1, 200)] + ["200.pbssrv.example.org", "999.pbssrv"]
    out = a.status([ref(j) for j in ids])
    assert call_count(state) - before == 1
    assert len(out) == 201
    assert out["1.pbssrv"].state == S.RUNNING and out["2.pbssrv"].state == S.FINISHED
    assert out["200.pbssrv.example.org"].state == S.FINISHED
    assert out["999.pbssrv"].state == S.UNKNOWN and "no longer known" in out["999.pbssrv"].reason


def test_invalid_json_is_a_clear_error():
    def runner(argv, **kw):
        return CommandResult(0, '{"timestamp":1, "Jobs":{"1.s":{"job_state":"R",', "", argv)
    with pytest.raises(SchedulerUnavailable, match="not JSON"):
        PbsAdapter({}, runner=runner).status([ref("1.s")])


@pytest.mark.parametrize("mode", ["down", "garbage", "hang"])
def test_find_faults_are_unavailable(pbs, monkeypatch, mode):
    # (status and cancel under the same faults: test_scheduler_contract.py)
    a, _ = pbs
    monkeypatch.setenv("STANDIN_FAIL", mode)
    monkeypatch.setenv("STANDIN_HANG_SECONDS", "5")
    a.timeout = 0.5 if mode == "hang" else 10.0
    with pytest.raises(SchedulerUnavailable):
        a.find(["/tmp"])
