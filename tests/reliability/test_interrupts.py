"""Ctrl-C and the other ending signals, from a user's seat (issue 15, F13).

- Ctrl-C on `maestro run -fg`, typed into a real terminal (a pty): the monitoring stops, the jobs
  do not (local jobs are detached, scheduled ones are the scheduler's); the command says so, and
  how to resume (`maestro conductor DIR`) and how to stop them (`maestro cancel DIR`), exits 130,
  and never prints a traceback.  `maestro conductor DIR` afterwards finishes the study with every
  step run exactly once.
- SIGTERM or SIGHUP to the background conductor: logs/conductor.log says why it ended, and
  `maestro status` says that nothing monitors the study.
- SIGINT at random moments of a command's start-up: one line `<tool>: interrupted`, exit 130, or
  the command's own result; never a traceback from our code, click's "Aborted!" or a crash.
  Python's own start-up (the `site` module, finding our package), before any line of ours runs,
  is outside this promise: those cases are counted and printed.
"""

import collections
import os
import pty
import random
import re
import select
import signal
import subprocess
import time

import pytest

from reliability_helpers import (chain_spec, job_records, proc_run, runs, scaled, states, tool,
                                 wait_for)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS = tuple(os.path.join(REPO, d) + os.sep for d in ("tools", "shared", "runtime"))


def _pty_run(argv, cwd, interrupt_after: float, timeout: float = 60) -> tuple[int, str]:
    """Run ``argv`` on a new pseudo-terminal; type Ctrl-C ``interrupt_after`` seconds after the
    first output; returns (exit status as a shell shows it, everything it printed)."""
    pid, master = pty.fork()
    if pid == 0:                                    # the child: its terminal is the pty
        os.chdir(cwd)
        os.execv(argv[0], argv)
    out, typed, first = b"", False, None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if first is not None and not typed and time.monotonic() - first >= interrupt_after:
            os.write(master, b"\x03")               # the terminal turns it into SIGINT
            typed = True
        ready, _, _ = select.select([master], [], [], 0.02)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:                          # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if first is None:
                first = time.monotonic()
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(master)
    code = os.waitstatus_to_exitcode(status)
    return (128 - code if code < 0 else code), out.decode("utf-8", "replace")


def test_ctrl_c_on_run_fg_says_what_it_left_running_and_a_resume_runs_each_step_once(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("ctrlc", 8, fan=2, sleep="0.{i7}"))
    seen = collections.Counter()
    for trial in range(scaled(3, 25)):
        root = str(tmp_path / f"st{trial}")
        delay = random.uniform(0.05, 1.5)
        code, out = _pty_run([tool("maestro"), "run", "-fg", "-y", "-s", "1", "-o", root, str(spec)], tmp_path, delay)
        assert "Traceback" not in out and "Aborted" not in out, out
        if code == 0:                               # it finished before the Ctrl-C
            seen["finished first"] += 1
        else:
            assert code == 130, out
            assert re.search(r"maestro run: interrupted \(SIGINT\): (\d+ job\(s\) in flight keep running|no job "
                             r"is in flight)", out), out
            assert f"resume monitoring:  maestro conductor {root}" in out
            assert f"stop the jobs:      maestro cancel {root}" in out
            seen["interrupted"] += 1
            assert "interrupted by SIGINT" in open(os.path.join(root, "logs", "conductor.log")).read()
            resumed = proc_run(["maestro", "conductor", root], cwd=tmp_path, timeout=120)
            assert resumed.returncode == 0, resumed.stderr
        assert set(states(root).values()) == {"FINISHED"}
        assert sorted(runs(root)) == sorted(f"s{i}" for i in range(8)), runs(root)       # each step once
        assert all(len(jobs) == 1 for jobs in job_records(root).values()), job_records(root)
    print(f"\nCtrl-C on maestro run -fg: {dict(seen)}")
    assert seen["interrupted"]


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_the_background_conductor_logs_why_it_ended(tmp_path, signame):
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("bg", 4, fan=1, sleep="1"))
    root = str(tmp_path / "st")
    assert proc_run(["maestro", "run", "-y", "-s", "1", "-o", root, str(spec)], cwd=tmp_path).returncode == 0
    log = os.path.join(root, "logs", "conductor.log")
    wait_for(lambda: "started (maestro conductor)" in open(log).read(), 30, what="the conductor to start")
    pid = int(open(os.path.join(root, "conductor.pid")).read().split()[0])
    time.sleep(0.3)
    os.kill(pid, getattr(signal, signame))
    wait_for(lambda: f"interrupted by {signame}" in open(log).read(), 30, what="the conductor's last line")
    wait_for(lambda: "No conductor is running (pid" in proc_run(["maestro", "status", root], cwd=tmp_path).stdout,
             30, what="maestro status to say nothing monitors the study")
    resumed = proc_run(["maestro", "conductor", root], cwd=tmp_path, timeout=120)
    assert resumed.returncode == 0 and sorted(runs(root)) == ["s0", "s1", "s2", "s3"]
    assert "finished with state 'FINISHED'" in open(log).read()


START_UP = {
    "mexpand": ["mexpand", "{spec}"], "mrender": ["mrender", "-o", "{tmp}/r{n}", "{dag}"],
    "mreport": ["mreport", "{study}"], "mmonitor": ["mmonitor", "--no-submit", "{study}"],
    "maestro status": ["maestro", "status", "{study}"], "maestro run -n": ["maestro", "run", "-n", "-o", "{tmp}/n{n}",
                                                                           "{spec}"],
}


@pytest.mark.parametrize("command", list(START_UP))
def test_sigint_at_random_moments_of_start_up_is_one_line(tmp_path, command):
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("start", 3, sleep="0"))
    (tmp_path / "dag.json").write_text(proc_run(["mexpand", str(spec)], cwd=tmp_path).stdout)
    study = proc_run(["maestro", "run", "-n", "-o", str(tmp_path / "study"), str(spec)], cwd=tmp_path)
    assert study.returncode == 0
    outcomes, python_start_up, entry_module = collections.Counter(), 0, 0

    def args(n):
        return [a.format(spec=spec, tmp=tmp_path, n=n, dag=tmp_path / "dag.json", study=tmp_path / "study")
                for a in START_UP[command]]

    started = time.monotonic()
    assert proc_run(args("timed"), cwd=tmp_path).returncode == 0
    span = time.monotonic() - started           # the whole run: every moment of it is tried
    for n in range(scaled(8, 150)):
        proc = subprocess.Popen([tool(args(n)[0]), *args(n)[1:]], cwd=tmp_path, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(random.uniform(0, span))
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1].decode("utf-8", "replace")
        frames = [f for f in re.findall(r'File "([^"]+)"', err) if f.startswith(OURS)]
        # a frame of the entry module alone: the signal came while Python was loading it, before
        # its first statement (blocking SIGINT) ran
        assert all(f.endswith("__main__.py") for f in frames), f"a traceback of ours:\n{err}"
        assert "Aborted!" not in err and proc.returncode not in (-signal.SIGSEGV, -signal.SIGABRT), err
        # a bare "KeyboardInterrupt" and exit 1: Python's start-up caught it before printing a traceback
        bare = proc.returncode == 1 and err.strip() == "KeyboardInterrupt"
        if "Traceback" in err or "Fatal Python error" in err or bare:
            if frames:
                entry_module += 1                 # loading the entry module, before its first line
            else:
                python_start_up += 1              # Python's own start-up (site), finding our package
            continue
        if proc.returncode == 130:      # the last line says so (after what the command had said)
            assert re.fullmatch(r"(maestro( \w+)?|m\w+): interrupted( \(SIGINT\))?", err.splitlines()[-1]), err
            assert ": error:" not in err, err
        else:
            assert proc.returncode in (0, -signal.SIGINT), (proc.returncode, err)
        outcomes[proc.returncode] += 1
    print(f"\nSIGINT during start-up of {command}: exit codes {dict(outcomes)}; tracebacks of Python's own "
          f"start-up: {python_start_up}, of loading the entry module before its first line: {entry_module}")
    assert outcomes[130]
