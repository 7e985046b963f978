"""Flux adapter details against the `flux` stand-in (tests/standins/flux).

What every scheduler must do (refusals, faults, unknown ids, a missing client) is checked for
Flux by tests/unit/test_scheduler_contract.py, with the harness in tests/sched_contract/flux.py.
"""

from __future__ import annotations

import time

import pytest

from mshared import states as S
from mruntime.schedulers.base import JobRef
from mruntime.schedulers.flux import FluxAdapter, id_key, read_directives
from standins import engine
from sched_contract.flux import Harness
from standins.testing import call_count, write_script

HEADER = Harness.header


@pytest.fixture
def flux(monkeypatch, tmp_path):
    return FluxAdapter({}, timeout=10), Harness(tmp_path, monkeypatch).state


def script(tmp_path, name="step1", body="echo hi\n", header=HEADER):
    ws = tmp_path / "study" / name
    return write_script(ws, f"{name}.flux.sh", header.format(name=name) + body), str(ws)


def ref(job_id, ws="/nowhere"):
    return JobRef(job_id, ws, "s")


def only_job(state):
    (job,) = engine.jobs(state).values()
    return job


def test_directives_and_ids():
    opts, nested = read_directives(HEADER.format(name="a") + "#MAESTRO-INFO (nested) False\n")
    assert opts[:4] == ["-N", "1", "-n", "2"] and "--job-name=a" in opts and nested is False
    assert id_key("ƒM5k8m7m") == id_key("fM5k8m7m") == "M5k8m7m"


def test_nested_step_goes_to_flux_batch(flux, tmp_path):
    a, state = flux
    path, ws = script(tmp_path)
    jid = a.submit(path, ws, "step1")
    assert jid.startswith("f")                              # FLUX_F58_FORCE_ASCII
    job = only_job(state)
    assert job["mode"] == "batch" and job["cwd"] == ws and job["name"] == "step1"
    assert engine.calls(state, "flux-batch")[0]["argv"] == ["batch", f"--cwd={ws}", path]


def test_non_nested_step_goes_to_flux_submit_with_the_directives(flux, tmp_path):
    a, state = flux
    path, ws = script(tmp_path, header=HEADER + "#MAESTRO-INFO (nested) False\n")
    a.submit(path, ws, "step1")
    job = only_job(state)
    assert job["mode"] == "submit" and job["cwd"] == ws
    argv = engine.calls(state, "flux-submit")[0]["argv"]
    assert argv[:2] == ["submit", f"--cwd={ws}"] and argv[-1] == path
    assert ["-N", "1", "-n", "2"] == argv[2:6] and "--job-name=step1" in argv


def test_script_without_resources_gets_one_slot(flux, tmp_path):
    a, state = flux
    path, ws = script(tmp_path, header="#!/bin/bash\n")
    a.submit(path, ws, "step1")
    assert engine.calls(state, "flux-batch")[0]["argv"][2:4] == ["-n", "1"]


def test_status_find_cancel(flux, tmp_path):
    a, state = flux
    path, ws = script(tmp_path)
    jid = a.submit(path, ws, "step1")
    assert a.status([ref(jid, ws)])[jid].state == S.QUEUED
    assert [(f.job_id, f.workspace, f.name) for f in a.find([ws])] == [(jid, ws, "step1")]
    assert a.find([str(tmp_path / "other")]) == []
    a.cancel([ref(jid, ws)])
    st = a.status([ref(jid, ws)])[jid]
    assert st.state == S.CANCELLED and "before it started" in st.reason
    a.cancel([ref(jid, ws)])                    # inactive: not an error
    a.cancel([ref("fZZZZ")])                    # unknown: not an error


@pytest.mark.parametrize("fields,expect", [
    (dict(state="DEPEND"), (S.PENDING, None)),
    (dict(state="PRIORITY"), (S.PENDING, None)),
    (dict(state="SCHED"), (S.QUEUED, None)),
    (dict(state="RUN", t_run=1_790_000_000.0), (S.RUNNING, None)),
    (dict(state="CLEANUP", t_run=1_790_000_000.0), (S.FINISHING, None)),
    (dict(state="INACTIVE", result="COMPLETED", returncode=0, t_run=1_790_000_000.0,
          t_inactive=1_790_000_010.5), (S.FINISHED, 0)),
    (dict(state="INACTIVE", result="FAILED", returncode=3, t_run=1_790_000_000.0,
          t_inactive=1_790_000_010.0), (S.FAILED, 3)),
    (dict(state="INACTIVE", result="FAILED", returncode=-9, t_run=1_790_000_000.0,
          t_inactive=1_790_000_010.0), (S.FAILED, None)),
    (dict(state="INACTIVE", result="TIMEOUT", returncode=143, exception_type="timeout",
          exception_note="resource allocation expired", t_run=1.7e9, t_inactive=1.7e9 + 60),
     (S.TIMEDOUT, 143)),
    (dict(state="INACTIVE", result="CANCELED", returncode=143, exception_type="cancel"),
     (S.CANCELLED, 143)),
    (dict(state="INACTIVE", result="FAILED", returncode=1, exception_type="node-fail"),
     (S.HWFAILURE, 1)),
])
def test_state_map(flux, tmp_path, fields, expect):
    a, state = flux
    path, ws = script(tmp_path)
    jid = a.submit(path, ws, "step1")
    engine.update_job(state, jid, **fields)
    st = a.status([ref(jid)])[jid]
    assert (st.state, st.exit_code) == expect
    if fields.get("t_inactive"):
        assert st.ended and st.ended.endswith("Z")
    if fields.get("returncode") == -9:
        assert "signal 9" in st.reason
    if fields.get("exception_note"):
        assert "resource allocation expired" in st.reason


def test_times(flux, tmp_path):
    a, state = flux
    path, ws = script(tmp_path)
    jid = a.submit(path, ws, "step1")
    engine.update_job(state, jid, state="INACTIVE", result="COMPLETED", returncode=0,
                      t_run=1_790_000_000.25, t_inactive=1_790_000_123.0)
    st = a.status([ref(jid)])[jid]
    assert (st.started, st.ended) == ("2026-09-21T14:13:20Z", "2026-09-21T14:15:23Z")


def test_status_of_200_jobs_is_one_call(flux):
    a, state = flux
    ids = []
    for i in range(200):
        n = (1 << 40) + i
        key = str(n)
        engine.add_job(state, key, f58=engine.f58(n, False), f58_ascii=engine.f58(n, True),
                       state="RUN", result="", returncode=None, t_run=time.time(), t_inactive=0.0,
                       t_submit=time.time(), exception_type="", exception_note="", name=f"s{i}",
                       cwd="/x", user="x")
        # half the ids as the UTF-8 form flux prints without FLUX_F58_FORCE_ASCII
        ids.append(engine.f58(n, ascii_only=bool(i % 2)))
    before = call_count(state)
    out = a.status([ref(j) for j in ids] + [ref("fNoSuchJob")])
    assert call_count(state) - before == 1
    assert len(out) == 201 and out[ids[0]].state == S.RUNNING and out[ids[1]].state == S.RUNNING
    assert out["fNoSuchJob"].state == S.UNKNOWN

