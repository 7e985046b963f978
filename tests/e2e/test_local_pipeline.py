"""mexpand | mrender, then msubmit and mmonitor, through the installed commands, on local jobs."""

import json
import os
import time

import pytest

from mshared.statefile import lock_study, read_state, write_state

from pipeline_helpers import make_study, run

FAILING = """
description: {name: failing, description: d}
study:
  - {name: ok-a, description: d, run: {cmd: echo a > a.txt}}
  - {name: bad, description: d, run: {cmd: 'echo oops >&2; exit 3', depends: [ok-a]}}
  - {name: child, description: d, run: {cmd: echo c, depends: [bad]}}
  - {name: grandchild, description: d, run: {cmd: echo g, depends: [child]}}
  - {name: indep, description: d, run: {cmd: echo i}}
  - {name: after-indep, description: d, run: {cmd: echo ai, depends: [indep]}}
"""


@pytest.fixture
def study_factory(tmp_path):
    return lambda text, **kw: make_study(tmp_path, text, **kw)


def states(root):
    return {sid: e["state"] for sid, e in read_state(root)["steps"].items()}


def test_hello_bye_runs_to_finished_with_maestros_files(tmp_path):
    sample = os.path.join(os.path.dirname(__file__), "..", "corpus", "maestro-samples", "hello_world",
                          "hello_bye_parameterized.yaml")
    dag = run(["mexpand", sample], tmp_path).stdout
    root = run(["mrender", "-o", str(tmp_path / "out")], tmp_path, input=dag).stdout.strip()
    first = run(["msubmit", root], tmp_path)
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert events and all(e["schema"] == "maestro.event" and e["to"] == "PENDING" for e in events)
    done = run(["mmonitor", "--loop", root], tmp_path)
    assert set(states(root).values()) == {"FINISHED"}
    workspace = os.path.join(root, "hello_world", "GREETING.Hello.NAME.Pam")
    assert open(os.path.join(workspace, "Hello_Pam.txt")).read() == "Hello, Pam!\n"
    job = read_state(root)["steps"]["hello_world_GREETING.Hello.NAME.Pam"]["job_id"]
    assert os.path.exists(os.path.join(workspace, f"hello_world_GREETING.Hello.NAME.Pam.{job}.out"))
    lines = open(os.path.join(root, "status.csv")).read().splitlines()
    assert lines[0].startswith("Step Name,Job ID,Workspace,State,Run Time")
    assert len(lines) == 9
    logged = open(os.path.join(root, "events.jsonl")).read().splitlines()
    assert len(logged) == len(events) + len(done.stdout.splitlines())


def test_failure_fails_the_subtree_and_other_branches_finish(study_factory, tmp_path):
    root = study_factory(FAILING)
    proc = run(["mmonitor", "--loop", root], tmp_path, check=False)
    assert proc.returncode == 2
    got = states(root)
    assert got == {"ok-a": "FINISHED", "bad": "FAILED", "child": "FAILED", "grandchild": "FAILED",
                   "indep": "FINISHED", "after-indep": "FINISHED"}
    bad = read_state(root)["steps"]["bad"]
    assert bad["exit_code"] == 3 and bad["reason"] == "exit code 3"


def test_jobs_outlive_msubmit_and_a_later_pass_learns_how_they_ended(study_factory, tmp_path):
    root = study_factory("""
        description: {name: slow, description: d}
        study:
          - {name: nap, description: d, run: {cmd: 'sleep 1; exit 4'}}
    """)
    run(["msubmit", root], tmp_path)
    assert states(root) == {"nap": "PENDING"}
    time.sleep(1.6)
    out = run(["mmonitor", root], tmp_path).stdout.splitlines()
    assert [json.loads(line)["to"] for line in out] == ["FAILED"]
    assert read_state(root)["steps"]["nap"]["exit_code"] == 4


def test_a_pass_that_changes_nothing_prints_nothing_and_keeps_the_file(study_factory, tmp_path):
    root = study_factory(FAILING)
    run(["mmonitor", "--loop", root], tmp_path, check=False)
    before = os.stat(os.path.join(root, "state.json")).st_mtime_ns
    again = run(["mmonitor", root], tmp_path)
    assert again.stdout == "" and again.stderr == ""
    assert os.stat(os.path.join(root, "state.json")).st_mtime_ns == before


def test_lock_held_gives_75_at_once(study_factory, tmp_path):
    root = study_factory(FAILING)
    with lock_study(root):
        started = time.monotonic()
        mon = run(["mmonitor", root], tmp_path, check=False)
        sub = run(["msubmit", root], tmp_path, check=False)
        assert time.monotonic() - started < 5
    assert mon.returncode == 75 and mon.stderr == ""
    assert sub.returncode == 75 and "another process holds the study lock" in sub.stderr


def test_not_a_study_is_65(tmp_path):
    for command in ("msubmit", "mmonitor"):
        proc = run([command, str(tmp_path)], tmp_path, check=False)
        assert proc.returncode == 65
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_local_concurrency_defaults_to_the_number_of_cores(study_factory, tmp_path):
    steps = "\n".join(f"  - {{name: s{i}, description: d, run: {{cmd: sleep 2}}}}" for i in range(6))
    root = study_factory("description: {name: many, description: d}\nstudy:\n" + steps + "\n")
    run(["msubmit", root], tmp_path)
    flying = [s for s in states(root).values() if s == "PENDING"]
    assert len(flying) == min(6, os.cpu_count())
    run(["msubmit", "--throttle", "5", root], tmp_path)
    assert list(states(root).values()).count("PENDING") == 5


def test_cancel_request_cancels_running_jobs_and_what_had_not_run(study_factory, tmp_path):
    root = study_factory("""
        description: {name: cancel, description: d}
        study:
          - {name: long, description: d, run: {cmd: sleep 30}}
          - {name: after, description: d, run: {cmd: echo x, depends: [long]}}
    """)
    run(["msubmit", root], tmp_path)
    with lock_study(root, wait=True):
        state = read_state(root)
        state["requests"]["cancel"] = True
        write_state(root, state)
    proc = run(["mmonitor", "--loop", root], tmp_path, check=False)
    assert proc.returncode == 3
    assert states(root) == {"long": "CANCELLED", "after": "CANCELLED"}
    job = read_state(root)["steps"]["long"]["job_id"]
    time.sleep(0.2)
    assert not os.path.exists(f"/proc/{job}") or open(f"/proc/{job}/stat").read().split()[2] == "Z"


def test_state_and_events_after_a_run_match_their_schemas(study_factory, tmp_path):
    import jsonschema
    from importlib import resources

    root = study_factory(FAILING)
    run(["mmonitor", "--loop", root], tmp_path, check=False)
    schema = json.loads(resources.files("mshared").joinpath("schemas/state.v1.schema.json").read_text())
    jsonschema.validate(json.loads(open(os.path.join(root, "state.json")).read()), schema)
    for line in open(os.path.join(root, "events.jsonl")):
        event = json.loads(line)
        assert event["schema"] == "maestro.event" and event["version"] == 1
        assert {"at", "from", "to", "step"} <= set(event)


def test_a_temporary_file_left_by_a_killed_writer_is_swept_by_a_later_pass(study_factory, tmp_path):
    root = study_factory(FAILING)
    stale = os.path.join(root, ".tmp-abc123-state.json")
    fresh = os.path.join(root, ".tmp-def456-state.json")
    for path in (stale, fresh):
        open(path, "w").write("{")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    run(["msubmit", root], tmp_path)
    assert not os.path.exists(stale) and os.path.exists(fresh)
    os.unlink(fresh)



def test_later_passes_read_the_pass_view_not_the_dag_until_the_dag_changes(study_factory, monkeypatch):
    from mruntime.engine import passes, store, view
    from mshared.errors import InvalidInput

    root = study_factory(FAILING)
    passes.run_pass(root, poll_jobs=True, submit=False)                 # writes meta/dag-view.json
    assert os.path.exists(os.path.join(root, view.FILE))
    read = []
    real = store.read_dag
    monkeypatch.setattr(store, "read_dag", lambda *a: read.append(a) or real(*a))
    passes.run_pass(root, poll_jobs=True, submit=True)                  # submits from the view
    assert read == [] and "PENDING" in states(root).values()
    dag = os.path.join(root, "dag.json")
    with open(dag, "a") as handle:                                      # edited after rendering
        handle.write(" ")
    with pytest.raises(InvalidInput, match="does not match the DAG"):
        passes.run_pass(root, poll_jobs=True, submit=False)
    assert len(read) == 1


def test_a_stale_or_damaged_pass_view_is_made_again(study_factory):
    from mruntime.engine import passes, view

    root = study_factory(FAILING)
    passes.run_pass(root, poll_jobs=True, submit=False)
    path = os.path.join(root, view.FILE)
    with open(path, "rb") as handle:
        good = handle.read()
    for bad in (good[: len(good) // 2], good.replace(b'"dag_sha256":"', b'"dag_sha256":"0')):
        with open(path, "wb") as handle:
            handle.write(bad)
        passes.run_pass(root, poll_jobs=True, submit=True)
        with open(path, "rb") as handle:
            assert handle.read() == good
