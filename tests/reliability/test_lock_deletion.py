"""Deleting the study lock file never lets two writers in at once (fault campaign 2, F2).

A user clearing a "stale lock", or a scratch purge, deletes `state.json.lock` while a loop and
cron-like passes hammer the study.  No writer makes a new lock file: every writer stops with one
line saying how to restore it, nothing runs twice, and once the file is back (`touch`) the study
resumes and ends with every step run exactly once.
"""

import collections
import os
import subprocess
import threading
import time

from mshared.statefile import read_state

from reliability_helpers import chain_spec, make_study, runs, scaled, states, tool

TRIALS = scaled(2, 8)
STEPS = scaled(40, 80)


def test_deleting_the_lock_mid_run_stops_writers_and_nothing_runs_twice(tmp_path):
    for trial in range(TRIALS):
        where = tmp_path / f"t{trial}"
        where.mkdir()
        root = make_study(where, chain_spec(f"lock{trial}", STEPS, fan=4, sleep="0.0{i7}"))
        lock = os.path.join(root, "state.json.lock")
        loop = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.2", root],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        codes = collections.Counter()
        messages = set()
        stop = threading.Event()

        def hammer(seed):
            names = ("mmonitor", "msubmit")
            i = seed
            while not stop.is_set():
                proc = subprocess.run([tool(names[i % 2]), root], capture_output=True, text=True, timeout=60)
                i += 1
                codes[proc.returncode] += 1
                if proc.returncode == 65:
                    messages.add(proc.stderr.strip())

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.3 + 0.1 * trial)
        os.unlink(lock)                                  # "a stale lock": cleared by hand
        time.sleep(0.5)
        assert not os.path.exists(lock), "a writer made a new lock file"
        stop.set()
        for thread in threads:
            thread.join()
        _, err = loop.communicate(timeout=60)
        assert loop.returncode == 65 and "study lock file is missing" in err and "touch" in err, err
        assert messages and all("study lock file is missing" in m and "\n" not in m for m in messages)
        assert len(runs(root)) == len(set(runs(root)))   # nothing ran twice, so far
        open(lock, "w").close()                          # restored, as the message says
        proc = subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.2", root], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert sorted(runs(root)) == sorted(f"s{i}" for i in range(STEPS)), "a step ran twice or never"
        assert set(states(root).values()) == {"FINISHED"}
        assert all(len(e["jobs"]) == 1 for e in read_state(root)["steps"].values())
