"""The local adapter: records, identity against pid reuse, cancel, launcher faults."""

import json
import os
import subprocess
import sys
import time

from mshared.schedulers.base import JobRef, SubmitRefused
from mshared.schedulers.local import LocalAdapter, is_alive


def test_a_job_polled_the_moment_it_starts_is_not_failed(tmp_path):
    adapter, refs, wrong = LocalAdapter(), [], 0
    for i in range(80):
        ws = tmp_path / f"w{i}"
        ws.mkdir()
        script = ws / "s.sh"
        script.write_text("#!/bin/bash\necho x > out.txt\n")
        os.chmod(script, 0o755)
        refs.append(JobRef(adapter.submit(str(script), str(ws), "s"), str(ws), "s"))
        for ref in refs[-3:]:     # poll at once, before the runner has written anything
            wrong += adapter.status([ref])[ref.job_id].state == "FAILED"
    assert wrong == 0
    for _ in range(200):
        states = {s.state for s in LocalAdapter().status(refs).values()}   # a later process's view
        if states == {"FINISHED"}:
            break
        time.sleep(0.05)
    assert states == {"FINISHED"}


def _script(ws, body):
    ws.mkdir(parents=True, exist_ok=True)
    script = ws / "s.sh"
    script.write_text("#!/bin/bash\n" + body + "\n")
    os.chmod(script, 0o755)
    return str(script)


def _wait_ended(refs, adapter=None, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        answers = (adapter or LocalAdapter()).status(refs)
        if all(a.state != "RUNNING" for a in answers.values()) or time.monotonic() > deadline:
            return answers
        time.sleep(0.02)


def test_the_record_holds_exit_code_signal_and_utc_times(tmp_path):
    adapter = LocalAdapter()
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ok = JobRef(adapter.submit(_script(tmp_path / "ok", "sleep 1.1"), str(tmp_path / "ok"), "s"), str(tmp_path / "ok"), "s")
    bad = JobRef(adapter.submit(_script(tmp_path / "bad", "exit 3"), str(tmp_path / "bad"), "s"), str(tmp_path / "bad"), "s")
    killed = JobRef(adapter.submit(_script(tmp_path / "k", "kill -9 $$"), str(tmp_path / "k"), "s"), str(tmp_path / "k"), "s")
    answers = _wait_ended([ok, bad, killed], adapter)
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert (answers[ok.job_id].state, answers[ok.job_id].exit_code) == ("FINISHED", 0)
    assert before <= answers[ok.job_id].started < answers[ok.job_id].ended <= after   # 1.1 s apart
    assert (answers[bad.job_id].state, answers[bad.job_id].exit_code, answers[bad.job_id].reason) == ("FAILED", 3, "exit code 3")
    assert answers[killed.job_id].reason == "killed by signal 9"
    record = (tmp_path / "ok" / f"s.{ok.job_id}.exit.json").read_text()
    assert f'"pid": {ok.job_id}' in record
    assert (tmp_path / "ok" / f"s.{ok.job_id}.out").exists()
    adapter.close()


def test_the_runner_writes_any_date_as_python_does(tmp_path):
    # the runner formats times with shell arithmetic: check it against Python on dates that trip
    # calendar code (leap days, centuries, year ends); STARTED is hundredths of a second
    script = _script(tmp_path, "true")
    from mshared.schedulers.local import RUNNER
    for moment in (951782400, 951868799, 1709164800, 1735689599, 4107542400, 1):
        stem = f"t{moment}"
        subprocess.run(["/bin/sh", RUNNER, script, str(tmp_path), stem, str(moment * 100 + 99)], check=True)
        record = json.loads(next(tmp_path.glob(f"{stem}.*.exit.json")).read_text())
        assert record["started"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
        assert record["ended"] in (record["started"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment + 1)))


def test_a_later_process_knows_a_launched_job_by_its_workspace(tmp_path):
    adapter = LocalAdapter()
    ws = tmp_path / "w"
    job = adapter.submit(_script(ws, "sleep 30"), str(ws), "s")
    try:
        assert is_alive(JobRef(job, str(ws), "s"))
        assert not is_alive(JobRef(job, str(tmp_path), "s"))          # not this workspace's job
        assert not is_alive(JobRef(str(os.getpid()), str(ws), "s"))    # not a runner at all
        assert LocalAdapter().status([JobRef(job, str(ws), "s")])[job].state == "RUNNING"
    finally:
        adapter.cancel([JobRef(job, str(ws), "s")])
    assert _wait_ended([JobRef(job, str(ws), "s")], adapter)[job].state == "FAILED"


def test_cancel_stops_the_job_and_everything_it_started(tmp_path):
    adapter = LocalAdapter()
    ws = tmp_path / "w"
    job = adapter.submit(_script(ws, "sleep 300 & echo $! > child.pid; wait"), str(ws), "s")
    deadline = time.monotonic() + 10
    while not (ws / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int((ws / "child.pid").read_text())
    adapter.cancel([JobRef(job, str(ws), "s")])
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(child)


def test_a_path_no_line_can_carry_is_started_directly(tmp_path):
    adapter = LocalAdapter()
    ws = tmp_path / "tab\there"
    job = adapter.submit(_script(ws, "echo x > out.txt"), str(ws), "s")
    assert _wait_ended([JobRef(job, str(ws), "s")], adapter)[job].state == "FINISHED"
    assert (ws / "out.txt").read_text() == "x\n"


def test_a_workspace_that_cannot_be_entered_is_refused(tmp_path):
    adapter = LocalAdapter()
    script = _script(tmp_path / "w", "true")
    try:
        adapter.submit(script, str(tmp_path / "missing"), "s")
    except SubmitRefused as err:
        assert "cannot enter the workspace" in str(err)
    else:
        assert adapter._launcher is None   # no launcher here (no pidfds): the runner exits 97


def test_a_launcher_that_died_is_replaced(tmp_path):
    adapter = LocalAdapter()
    first = adapter.submit(_script(tmp_path / "a", "true"), str(tmp_path / "a"), "s")
    if adapter._launcher is not None:
        adapter._launcher.kill()
        adapter._launcher.wait()
    second = adapter.submit(_script(tmp_path / "b", "true"), str(tmp_path / "b"), "s")
    answers = _wait_ended([JobRef(first, str(tmp_path / "a"), "s"), JobRef(second, str(tmp_path / "b"), "s")], adapter)
    assert {a.state for a in answers.values()} == {"FINISHED"}


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_dead_launcher_never_kills_the_tool_with_sigpipe(tmp_path):
    # our commands restore SIGPIPE's default action (so `mexpand spec | head` ends quietly): a
    # request to a launcher that died must fail as an error, not kill the tool
    code = f"""
import os, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
from mshared.schedulers.local import LocalAdapter
d = {str(tmp_path)!r}
for w in "abc":
    os.makedirs(f"{{d}}/{{w}}")
    with open(f"{{d}}/{{w}}/s.sh", "w") as handle:
        handle.write("#!/bin/bash\\nsleep 0.2\\n")
    os.chmod(f"{{d}}/{{w}}/s.sh", 0o755)
adapter = LocalAdapter()
adapter.submit(f"{{d}}/a/s.sh", f"{{d}}/a", "s")
if adapter._launcher is not None:
    adapter._launcher.kill()
for w in "bc":
    try:
        adapter.submit(f"{{d}}/{{w}}/s.sh", f"{{d}}/{{w}}", "s")
    except Exception as err:
        print(type(err).__name__)
print("alive")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("alive"), (proc.returncode, proc.stderr)
