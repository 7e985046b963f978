"""LSF adapter details against the bsub/bjobs/bkill stand-ins (tests/standins/lsf).

What every scheduler must do (refusals, faults, unknown ids, a missing client) is checked for
LSF by tests/unit/test_scheduler_contract.py, with the harness in tests/sched_contract/lsf.py.
"""

from __future__ import annotations

import time

import pytest

from mshared import states as S
from mruntime.schedulers.base import JobRef
from mruntime.schedulers.lsf import LsfAdapter
from standins import engine
from sched_contract.lsf import Harness
from standins.testing import call_count, write_script

HEADER = Harness.header


@pytest.fixture
def lsf(monkeypatch, tmp_path):
    return LsfAdapter({"queue": "normal"}, timeout=10), Harness(tmp_path, monkeypatch).state


def script(tmp_path, name="step1", body="echo hi\n", header=HEADER):
    ws = tmp_path / "study" / name
    return write_script(ws, f"{name}.lsf.sh", header.format(name=name) + body), str(ws)


def ref(job_id, ws="/nowhere", stem="s"):
    return JobRef(job_id, ws, stem)


def test_submit_status_find_cancel(lsf, tmp_path):
    a, state = lsf
    path, ws = script(tmp_path)
    jid = a.submit(path, ws, "step1")
    assert jid == "1"
    job = engine.jobs(state)["1"]
    assert job["exec_cwd"] == ws and job["job_name"] == "step1"
    assert job["script"].startswith("#!/bin/bash\n#BSUB")         # the script went in on stdin
    assert engine.calls(state, "bsub")[0]["argv"] == ["-cwd", ws]

    assert a.status([ref(jid, ws)])[jid].state == S.PENDING
    assert [(f.job_id, f.workspace, f.name) for f in a.find([ws, "/other"])] == [("1", ws, "step1")]

    a.cancel([ref(jid, ws)])
    st = a.status([ref(jid, ws)])[jid]
    assert st.state == S.CANCELLED and "TERM_OWNER" in st.reason
    a.cancel([ref(jid, ws)])                  # already finished: not an error
    a.cancel([ref("999")])                    # unknown: not an error


@pytest.mark.parametrize("when,state,exit_code,reason,expect", [
    ("run", "RUN", None, None, (S.RUNNING, None)),
    ("done", "DONE", None, None, (S.FINISHED, 0)),
    ("fail", "EXIT", 3, None, (S.FAILED, 3)),
    ("timeout", "EXIT", 140, "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
     (S.TIMEDOUT, 140)),
    ("owner", "EXIT", 130, "TERM_OWNER: job killed by owner", (S.CANCELLED, 130)),
    ("preempt", "EXIT", 143, "TERM_PREEMPT: job killed after preemption", (S.HWFAILURE, 143)),
    ("psusp", "PSUSP", None, None, (S.PENDING, None)),
    ("ususp", "USUSP", None, None, (S.RUNNING, None)),
    ("wait", "WAIT", None, None, (S.WAITING, None)),
    ("unkwn", "UNKWN", None, None, (S.UNKNOWN, None)),
    ("zombi", "ZOMBI", None, None, (S.HWFAILURE, None)),
    ("weird", "SOMETHING", None, None, (S.UNKNOWN, None)),
])
def test_state_map(lsf, when, state, exit_code, reason, expect):
    a, st_dir = lsf
    now = time.time()
    engine.add_job(st_dir, "42", stat=state, exit_code=exit_code, exit_reason=reason,
                   start_time=now - 60 if state != "PSUSP" else None,
                   finish_time=now if state in ("DONE", "EXIT") else None, user="x")
    st = a.status([ref("42")])["42"]
    assert (st.state, st.exit_code) == expect
    if state in ("DONE", "EXIT"):
        assert st.started and st.ended and st.ended.endswith("Z")
    if reason:
        assert st.reason.startswith(reason.split(":")[0])


def test_times_round_trip_to_utc(lsf):
    a, st_dir = lsf
    engine.add_job(st_dir, "5", stat="DONE", exit_code=None, exit_reason=None,
                   start_time=1_790_000_000, finish_time=1_790_000_123, user="x")
    st = a.status([ref("5")])["5"]
    assert (st.started, st.ended) == ("2026-09-21T14:13:20Z", "2026-09-21T14:15:23Z")


def test_status_of_200_jobs_is_one_call(lsf):
    a, st_dir = lsf
    for i in range(1, 201):
        engine.add_job(st_dir, str(i), stat="RUN" if i % 2 else "DONE", exit_code=None,
                       exit_reason=None, start_time=time.time(), finish_time=None, user="x")
    before = call_count(st_dir)
    out = a.status([ref(str(i)) for i in range(1, 201)] + [ref("5000")])
    assert call_count(st_dir) - before == 1
    assert len(out) == 201
    assert out["1"].state == S.RUNNING and out["2"].state == S.FINISHED
    assert out["5000"].state == S.UNKNOWN and "no longer known" in out["5000"].reason

