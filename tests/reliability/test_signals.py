"""SIGINT, SIGTERM and SIGHUP at random points of passes and loops (fault campaign 2, F1, F13).

kill -9 is covered by test_kill9.py; these are the signals a user or a batch system sends
(Ctrl-C, `kill`, a closed terminal).  The engine holds them while a pass changes the state, so a
pass either ends before its work or writes a whole state and then exits 128+N with one line.
Over many trials on one study (passes and loops started and signalled at random moments, and a
20,000-instance fan whose subtree fails while loops are interrupted), every step runs exactly
once, no output is a traceback, and the study always ends.
"""

import os
import random
import re
import signal
import subprocess
import time

from mshared.statefile import read_state

from reliability_helpers import chain_spec, make_study, runs, scaled, tool

TRIALS = scaled(40, 200)
STEPS = 60
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FAN = scaled(2000, 20000)


def _python_start_up(stderr: str) -> bool:
    """The signal came while Python itself was starting (importing site, or loading the console
    script's first import), before any line of ours ran: the known breach of promise 25
    (docs/reliability.md), not a failure here."""
    # site's own report ("Fatal Python error: init_import_site", or "Error processing line 1 of
    # <...>.pth" and Python goes on), or a KeyboardInterrupt in the console script's first import
    started = "Traceback" in stderr or "Fatal Python error" in stderr
    return started and not any(
        os.sep + d + os.sep in frame for frame in re.findall(r'File "([^"]+)"', stderr)
        for d in ("tools", "shared", "runtime"))


def _check_output(proc, stderr: str) -> None:
    if _python_start_up(stderr):
        return
    assert "Traceback" not in stderr, stderr
    if proc.returncode in (128 + s for s in SIGNALS) or proc.returncode == 130:
        assert stderr.strip().splitlines()[-1].endswith(("interrupted", "interrupted (SIGTERM)",
                                                         "interrupted (SIGHUP)", "interrupted (SIGINT)")), stderr


def test_signals_at_random_points_never_run_a_step_twice(tmp_path):
    root = make_study(tmp_path, chain_spec("signals", STEPS, fan=5, sleep="0.{i7}"))
    rng = random.Random(4321)
    codes = {}
    for _ in range(TRIALS):
        argv = rng.choice([["mmonitor"], ["msubmit"], ["mmonitor", "--loop", "--interval", "0.1"]])
        proc = subprocess.Popen([tool(argv[0]), *argv[1:], root], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.02, 0.3))
        if proc.poll() is None:
            proc.send_signal(rng.choice(SIGNALS))
        _, err = proc.communicate(timeout=60)
        codes[proc.returncode] = codes.get(proc.returncode, 0) + 1
        _check_output(proc, err)
        read_state(root)          # whole and sound after every signal
        if all(e["state"] == "FINISHED" for e in read_state(root)["steps"].values()):
            break
    final = subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.1", root], capture_output=True,
                           text=True, timeout=120)
    print(f"\nsignals: exit codes {dict(sorted(codes.items()))}; {len(runs(root))} runs for {STEPS} steps")
    assert final.returncode == 0, final.stderr
    assert sorted(runs(root)) == sorted(f"s{i}" for i in range(STEPS)), "a step ran twice or never"
    assert all(len(e["jobs"]) == 1 for e in read_state(root)["steps"].values())


def test_a_loop_interrupted_while_a_subtree_fails_leaves_a_study_that_ends(tmp_path):
    """A failed parent with a large subtree: the loop that fails the subtree is interrupted at
    random moments; resuming always ends the study (FAILURE), never RUNNING for ever."""
    spec = ("description: {name: fan, description: d}\n"
            "global.parameters:\n"
            f"  P: {{values: [{', '.join(str(i) for i in range(FAN))}], label: P.%%}}\n"
            "study:\n"
            "  - {name: a, description: d, run: {cmd: 'sleep 0.3; exit 1'}}\n"
            "  - {name: b, description: d, run: {cmd: 'echo $(P)', depends: [a]}}\n"
            "  - {name: c, description: d, run: {cmd: 'echo c', depends: [b_*]}}\n")
    rng = random.Random(99)
    for trial in range(scaled(3, 20)):
        where = tmp_path / f"t{trial}"
        where.mkdir()
        root = make_study(where, spec)
        proc = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.1", root],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not any(n.endswith(".exit.json") for n in os.listdir(os.path.join(root, "a"))):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.25))
        if proc.poll() is None:
            proc.send_signal(rng.choice(SIGNALS))
        _, err = proc.communicate(timeout=60)
        _check_output(proc, err)
        resumed = subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.1", root], capture_output=True,
                                 text=True, timeout=60)
        assert resumed.returncode == 2, resumed.stderr
        states = {e["state"] for e in read_state(root)["steps"].values()}
        assert states == {"FAILED"}
