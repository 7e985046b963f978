"""kill -9 of msubmit and mmonitor at random points: every step still runs exactly once.

Each step appends its id to runs.txt when it runs.  Passes are killed at random moments, over
and over, while the study runs; a final loop resumes it.  The figures are printed.
"""

import os
import random
import signal
import subprocess
import time

from mshared.statefile import read_state

from pipeline_helpers import make_study, tool

TRIALS = 300 if os.environ.get("MAESTRO_STRESS") else 60
STEPS = 24


def spec() -> str:
    steps = ["description: {name: crash, description: d}", "study:"]
    for i in range(STEPS):
        parent = f", depends: [s{i - 4}]" if i >= 4 else ""
        steps.append(f"  - {{name: s{i}, description: d, run: {{cmd: 'echo s{i} >> $(OUTPUT_PATH)/runs.txt; "
                     f"sleep 0.0{i % 7}'{parent}}}}}")
    return "\n".join(steps) + "\n"


def test_kill9_at_random_points_loses_no_job_and_runs_none_twice(tmp_path):
    root = make_study(tmp_path, spec())
    rng = random.Random(1234)
    killed = passes = 0
    for _ in range(TRIALS):
        command = rng.choice(["mmonitor", "msubmit"])
        proc = subprocess.Popen([tool(command), root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.04, 0.25))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        passes += 1
        state = read_state(root)   # never partial: read_state checks the checksum
        if all(e["state"] == "FINISHED" for e in state["steps"].values()):
            break
    final = subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.2", root], capture_output=True,
                           text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    runs = open(os.path.join(root, "runs.txt")).read().split()
    print(f"\nkill -9 trials: {passes} passes started, {killed} killed mid-pass; "
          f"{len(runs)} step runs for {STEPS} steps")
    assert sorted(runs) == sorted(f"s{i}" for i in range(STEPS))
    assert {e["state"] for e in read_state(root)["steps"].values()} == {"FINISHED"}
