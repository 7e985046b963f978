"""The local adapter: records, identity against pid reuse, cancel, launcher faults."""

import json
import os
import subprocess
import sys
import time

import pytest

from mruntime.schedulers.base import JobRef, SubmitRefused
from mruntime.schedulers.local import LocalAdapter, is_alive


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


def test_a_launched_job_is_known_by_its_process_at_every_instant_until_its_record(tmp_path):
    # what a later process (cron) relies on: until the record is written, the job's process is
    # recognised as this workspace's job, from its first instant to its last
    adapter, misses = LocalAdapter(), 0
    for i in range(60):
        ws = tmp_path / f"w{i}"
        ref = JobRef(adapter.submit(_script(ws, "true"), str(ws), "s"), str(ws), "s")
        record = ws / f"s.{ref.job_id}.exit.json"
        while True:
            alive = is_alive(ref)
            if record.exists():
                break
            misses += not alive and not record.exists()
    adapter.close()
    assert misses == 0


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


def test_the_record_keeps_the_callers_start_and_its_own_time_is_the_end(tmp_path):
    # the runner reads no clock: STARTED (hundredths of a second) goes into the record as seconds,
    # and the record's modification time is the end
    script = _script(tmp_path, "true")
    from mruntime.schedulers.local import RUNNER, _read_exit
    for moment in (951782400, 1735689599, 4107542400):
        stem = f"t{moment}"
        subprocess.run(["/bin/sh", RUNNER, script, str(tmp_path), stem, str(moment * 100 + 7)], check=True)
        path = next(tmp_path.glob(f"{stem}.*.exit.json"))
        assert json.loads(path.read_text())["started"] == moment + 0.07
        pid = path.name.split(".")[1]
        os.utime(path, (moment + 65, moment + 65))
        record = _read_exit(JobRef(pid, str(tmp_path), stem))
        assert record["started"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
        assert record["ended"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment + 65))
        os.utime(path, (moment - 5, moment - 5))   # a file server's clock behind the caller's
        assert _read_exit(JobRef(pid, str(tmp_path), stem))["ended"] == record["started"]


def test_a_record_with_dates_of_an_earlier_release_is_read_as_written(tmp_path):
    from mruntime.schedulers.local import _read_exit
    (tmp_path / "s.42.exit.json").write_text('{"pid": 42, "exit_code": 0, "signal": 0, '
                                             '"started": "2026-11-20T08:00:00Z", "ended": "2026-11-20T08:01:00Z"}\n')
    record = _read_exit(JobRef("42", str(tmp_path), "s"))
    assert (record["started"], record["ended"]) == ("2026-11-20T08:00:00Z", "2026-11-20T08:01:00Z")


def test_a_script_other_than_the_steps_own_goes_on_the_line(tmp_path):
    # the launcher is sent an empty script for ./STEM.sh; any other (a restart script) by name
    adapter = LocalAdapter()
    ws = tmp_path / "w"
    _script(ws, "echo first > which.txt")
    restart = ws / "s.restart.sh"
    restart.write_text("#!/bin/bash\necho restart > which.txt\n")
    os.chmod(restart, 0o755)
    job = adapter.submit(str(restart), str(ws), "s")
    assert _wait_ended([JobRef(job, str(ws), "s")], adapter)[job].state == "FINISHED"
    assert (ws / "which.txt").read_text() == "restart\n"
    job = adapter.submit(str(ws / "s.sh"), str(ws), "s")
    assert _wait_ended([JobRef(job, str(ws), "s")], adapter)[job].state == "FINISHED"
    assert (ws / "which.txt").read_text() == "first\n"
    adapter.close()


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


def _wait_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), path


@pytest.mark.parametrize("trap", ['trap "" TERM', "trap 'echo term >> log.txt' TERM"])
def test_a_job_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path, trap):
    # campaign 2, F11: cancel sent SIGTERM only; a job ignoring it ran on after CANCELLED
    adapter = LocalAdapter(kill_grace=1.0)
    ws = tmp_path / "w"
    # it goes on past the grace period: a child started before the cancel, one started after it
    body = f"{trap}\necho $$ > shell.pid\nsleep 2 & echo $! > child.pid\nwait\nsleep 3\necho more >> after.txt"
    job = adapter.submit(_script(ws, body), str(ws), "s")
    _wait_file(ws / "child.pid")
    pids = [int((ws / name).read_text()) for name in ("shell.pid", "child.pid")]
    started = time.monotonic()
    adapter.cancel([JobRef(job, str(ws), "s")])
    assert time.monotonic() - started < 0.5                  # the pass does not wait for the grace
    time.sleep(0.5)
    assert any(_running(pid) for pid in pids)                 # SIGTERM alone did not stop it
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in pids)
    assert time.monotonic() - started < 5
    time.sleep(max(0.0, started + 5.5 - time.monotonic()))   # past where the job would have written
    assert not (ws / "after.txt").exists()
    adapter.close()


def test_a_job_that_ends_on_sigterm_leaves_no_helper_behind(tmp_path):
    adapter = LocalAdapter()
    assert adapter.kill_grace == 10.0
    ws = tmp_path / "w"
    job = adapter.submit(_script(ws, "sleep 300"), str(ws), "s")
    deadline = time.monotonic() + 10
    while not is_alive(JobRef(job, str(ws), "s")) and time.monotonic() < deadline:
        time.sleep(0.02)
    adapter.cancel([JobRef(job, str(ws), "s")])
    assert len(adapter._helpers) == 1
    deadline = time.monotonic() + 5                            # it ends with the job, not after 10 s
    while adapter._helpers and time.monotonic() < deadline:
        adapter.reap()
        time.sleep(0.05)
    assert not adapter._helpers
    adapter.close()


def test_a_missing_exit_record_is_explained_by_what_is_known(tmp_path):
    # campaign 2, F14: every missing record used to be blamed on SIGKILL
    adapter = LocalAdapter()
    ws = tmp_path / "gone"
    job = adapter.submit(_script(ws, 'rm -rf "$PWD"'), str(ws), "s")    # the step removes its workspace
    gone = JobRef(job, str(ws), "s")
    answer = _wait_ended([gone], adapter)[job]
    assert answer.state == "FAILED" and "the workspace is gone" in answer.reason
    assert "SIGKILL" not in answer.reason
    assert LocalAdapter().status([gone])[job].reason == answer.reason      # a later process agrees
    here = tmp_path / "here"
    here.mkdir()
    (here / "s.999999998.exit.json").write_bytes(b"")                     # a full disk: 0 bytes
    (here / "s.999999997.exit.json").write_bytes(b'{"pid": 9999')         # cut short
    answers = adapter.status([JobRef(pid, str(here), "s") for pid in ("999999998", "999999997", "999999996")])
    for pid in ("999999998", "999999997"):
        assert (answers[pid].state, answers[pid].reason) == \
            ("FAILED", "the exit record is empty or damaged (disk full?)")
    assert answers["999999996"].reason == ("the job's process ended without recording an exit code "
                                          "(killed with SIGKILL, or the machine restarted)")
    adapter.close()


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
from mruntime.schedulers.local import LocalAdapter
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


def test_quick_once_the_last_four_jobs_each_ran_under_a_quarter_second(tmp_path, monkeypatch):
    """The long job's run time is made by moving the adapter's clock on while it runs; QUICK is
    raised to 1 s for the test, so that `true` on a loaded CI machine still counts as quick."""
    import time as real_time

    from mruntime.schedulers import local

    class Clock:                        # the adapter's `time`, its monotonic moved on by `ahead`
        ahead = 0.0

        def __getattr__(self, name):
            return getattr(real_time, name)

        def monotonic(self):
            return real_time.monotonic() + self.ahead

    clock = Clock()
    monkeypatch.setattr(local, "time", clock)
    monkeypatch.setattr(local, "QUICK", 1.0)
    adapter, count = LocalAdapter(), iter(range(100))

    def run_one(body, runs_for=0.0):
        ws = tmp_path / f"w{next(count)}"
        adapter.submit(_script(ws, body), str(ws), "s")
        clock.ahead += runs_for
        while adapter.running_here:
            adapter.wait_any(5)

    for _ in range(3):
        run_one("true")
    assert not adapter.quick()             # three do not tell yet
    run_one("true")
    assert adapter.quick()
    run_one("true", runs_for=local.QUICK + 0.05)
    assert not adapter.quick()
    for _ in range(3):
        run_one("true")
    assert not adapter.quick()             # the long one is still among the last four
    run_one("true")
    assert adapter.quick()
    adapter.close()


def test_a_launched_job_and_a_directly_started_job_leave_the_same_records(tmp_path, monkeypatch):
    """The launcher (one forking shell per adapter) is kept for speed: a job it starts ends with
    the same status, output and exit record fields as one started on its own (the slow path)."""
    body = "echo out; echo err >&2; exit 3"
    launched, direct = LocalAdapter(), LocalAdapter()
    direct._poller = None                      # no pidfds: every job is started directly
    seen, used_launcher = {}, {}
    for name, adapter in (("launched", launched), ("direct", direct)):
        ws = tmp_path / name
        job = adapter.submit(_script(ws, body), str(ws), "s")
        status = _wait_ended([JobRef(job, str(ws), "s")], adapter)[job]
        record = json.loads((ws / f"s.{job}.exit.json").read_text())
        seen[name] = (status.state, status.exit_code, status.reason, sorted(record),
                      (ws / f"s.{job}.out").read_text(), (ws / f"s.{job}.err").read_text())
        used_launcher[name] = adapter._launcher is not None
        adapter.close()
    assert used_launcher == {"launched": True, "direct": False}
    assert seen["launched"] == seen["direct"]
    assert seen["direct"][:2] == ("FAILED", 3)
