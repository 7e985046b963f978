"""kill -9 of mextend at random points while a loop runs the study: the study is always whole (its
state and DAG agree, as before or after an extension, never half), and in the end every
combination ran exactly once.

Each instance appends its combination to runs.txt when it runs.  mextend is killed at random
moments, over and over, with overlapping batches, while `mmonitor --loop` runs what is committed;
a final mextend with every combination and a final loop finish the study.
"""

import os
import random
import signal
import subprocess
import time

from mshared.statefile import read_state
from mshared.studydir import read_dag

from pipeline_helpers import make_study, run, tool
from reliability_helpers import scaled

TRIALS = scaled(25, 150)
VALUES = 120

SPEC = """
description: {name: kill, description: mextend killed at random}
extend:
  parameters: {X: {label: X.%%}}
study:
  - {name: sim, description: s, run: {cmd: 'echo $(X) >> $(OUTPUT_PATH)/runs.txt'}}
  - {name: post, description: p, run: {cmd: 'ls $(sim.workspace) > seen.txt || true', depends: [sim_*]}}
"""


def whole(root):
    """State and DAG agree (read_dag checks the checksum the state names), and every committed
    instance has its script."""
    state = read_state(root)
    dag = read_dag(root, state)
    assert {s["id"] for s in dag["steps"]} == set(state["steps"])
    for step in dag["steps"]:
        assert os.path.isfile(os.path.join(root, step["workspace"], f"{step['stem']}.sh")), step["id"]
    return state


def test_kill9_of_mextend_leaves_a_whole_study_and_every_combination_runs_once(tmp_path):
    root = make_study(tmp_path, SPEC)
    loop = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.2", root],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rng = random.Random(18)
    killed = 0
    try:
        for _ in range(TRIALS):
            start = rng.randrange(VALUES)
            batch = "".join(f'{{"X": {x}}}\n' for x in range(start, min(start + 15, VALUES)))
            proc = subprocess.Popen([tool("mextend"), root], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            proc.stdin.write(batch.encode())
            proc.stdin.close()
            time.sleep(rng.uniform(0.0, 0.2))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
            whole(root)
            if loop.poll() is not None:            # the loop ended (all committed ran): start another
                loop = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.2", root],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        loop.wait(timeout=120)
    run(["mextend", root], tmp_path, input="".join(f'{{"X": {x}}}\n' for x in range(VALUES)))
    final = run(["mmonitor", "--loop", "--interval", "0.2", root], tmp_path, timeout=180)
    assert final.returncode == 0
    state = whole(root)
    runs = open(os.path.join(root, "runs.txt")).read().split()
    print(f"\nmextend kill -9: {TRIALS} runs, {killed} killed; {state['extension']['round']} rounds, "
          f"{len(runs)} runs for {VALUES} combinations")
    assert sorted(runs, key=int) == [str(x) for x in range(VALUES)]
    assert {e["state"] for e in state["steps"].values()} == {"FINISHED"}
