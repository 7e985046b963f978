"""`maestro cancel` and `maestro rerun` racing each other and a running loop (fault campaign 2, F4).

Before, a re-run and a cancel carried out by the same pass left the re-run step INITIALIZED under
a cancelled study, RUNNING for ever (3 of 6 command-line races).  Here both commands are started
at the same moment, in either order, while `mmonitor --loop` drives the study: whatever the
interleaving, the loop ends (never RUNNING for ever), and the later request wins.
"""

import random
import subprocess
import threading
import time

from mshared.statefile import read_state

from reliability_helpers import chain_spec, make_study, scaled, tool

TRIALS = scaled(3, 12)


def test_a_cancel_and_a_rerun_at_once_always_end_the_study(tmp_path):
    rng = random.Random(7)
    ends = {}
    for trial in range(TRIALS):
        where = tmp_path / f"t{trial}"
        where.mkdir()
        root = make_study(where, chain_spec(f"race{trial}", 12, fan=3, sleep="0.2"))
        loop = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.1", root],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.6)                                   # s0..s2 have run or are running
        commands = [[tool("maestro"), "cancel", "-y", root], [tool("maestro"), "rerun", root, "s0"]]
        rng.shuffle(commands)
        results = []

        def run(argv, pause):
            time.sleep(pause)
            results.append(subprocess.run(argv, capture_output=True, text=True, timeout=60))

        threads = [threading.Thread(target=run, args=(argv, rng.uniform(0, 0.05))) for argv in commands]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        try:
            _, err = loop.communicate(timeout=60)        # ends: it never waits for ever
        finally:
            loop.kill()
        final = subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.1", root], capture_output=True,
                               text=True, timeout=60)
        state = read_state(root)
        assert not state["requests"].get("queue"), state["requests"]
        assert all(e["state"] in ("FINISHED", "CANCELLED", "FAILED") for e in state["steps"].values())
        ends[final.returncode] = ends.get(final.returncode, 0) + 1
    print(f"\ncancel/rerun races: final loop exit codes {ends}")
