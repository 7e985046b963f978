"""kill -9 of the monitor LOOP (`maestro conductor`, `mmonitor --loop`) at random points, then resume.

The same spec runs twice: once undisturbed (the reference) and once with its loop killed with
SIGKILL over and over at random moments (and the cron-style passes of test_kill9.py mixed in).
After a final resume both studies must agree step by step: same states, same exit codes, same
reasons, the same exit code of the final loop; every step that runs ran exactly once and has
exactly one local job record.
"""

import os
import random
import signal
import subprocess
import time

from mshared.statefile import read_state

from reliability_helpers import comparable, job_records, make_study, runs, scaled, states, tool

TRIALS_PER_ROUND = 60
ROUNDS = scaled(2, 15)
STEPS = 24
FAILING = 5          # s5 exits 3: its subtree (s9, s13, ...) is FAILED, the other branches go on


def spec() -> str:
    lines = ["description: {name: crashloop, description: d}", "study:"]
    for i in range(STEPS):
        parent = f", depends: [s{i - 4}]" if i >= 4 else ""
        tail = "exit 3" if i == FAILING else f"sleep 0.{i % 5}"
        lines.append(f"  - {{name: s{i}, description: d, run: {{cmd: 'echo s{i} >> $(OUTPUT_PATH)/runs.txt; "
                     f"{tail}'{parent}}}}}")
    return "\n".join(lines) + "\n"


def loop_argv(kind: str, root: str) -> list[str]:
    if kind == "conductor":
        return [tool("maestro"), "conductor", "--sleep", "0.2", root]
    if kind == "loop":
        return [tool("mmonitor"), "--loop", "--interval", "0.2", root]
    return [tool(kind), root]          # a single mmonitor / msubmit pass, as cron would start


def expected_runs():
    failed_subtree = {f"s{i}" for i in range(FAILING + 4, STEPS, 4)}
    return sorted(f"s{i}" for i in range(STEPS) if f"s{i}" not in failed_subtree)


def crash_round(base, rng, reference) -> dict:
    """One study whose loops are killed until it has ended; then one final resume."""
    base.mkdir()
    root = make_study(base, spec(), name="crashed")
    figures = {"started": 0, "killed": 0, "kinds": {"conductor": 0, "loop": 0, "mmonitor": 0, "msubmit": 0}}
    t0 = time.monotonic()
    for _ in range(TRIALS_PER_ROUND):
        kind = rng.choice(["conductor", "conductor", "loop", "loop", "mmonitor", "msubmit"])
        proc = subprocess.Popen(loop_argv(kind, root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        figures["started"] += 1
        figures["kinds"][kind] += 1
        time.sleep(rng.uniform(0.01, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            figures["killed"] += 1
        proc.wait()
        read_state(root)              # whole after every kill (the checksum is verified)
        if all(s in ("FINISHED", "FAILED") for s in states(root).values()):
            break
    figures["time"] = time.monotonic() - t0
    final = subprocess.run([tool("maestro"), "conductor", "--sleep", "0.2", root], capture_output=True,
                           text=True, timeout=300)
    figures["final"] = final.returncode
    figures["leftovers"] = len([n for n in os.listdir(root) if n.startswith(".tmp-")])
    figures["runs"] = len(runs(root))
    figures["root"] = root
    assert "Traceback" not in final.stderr, final.stderr
    return figures


def test_kill9_of_the_loop_then_resume_gives_the_same_study_as_no_crash(tmp_path):
    reference = make_study(tmp_path, spec(), name="reference")
    t0 = time.monotonic()
    ref = subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.2", reference], capture_output=True,
                         text=True, timeout=300)
    ref_time = time.monotonic() - t0
    assert ref.returncode == 2, ref.stderr           # a step failed: Maestro's FAILURE code
    assert sorted(runs(reference)) == expected_runs()
    ref_reasons = {sid: e["reason"] for sid, e in read_state(reference)["steps"].items()}

    seed = int(os.environ.get("MAESTRO_SEED", "9"))
    rng = random.Random(seed)
    totals = {"started": 0, "killed": 0, "leftovers": 0}
    for number in range(ROUNDS):
        fig = crash_round(tmp_path / f"round{number}", rng, reference)
        for key in totals:
            totals[key] += fig[key]
        print(f"\nloop kill -9 round {number} (seed {seed}): {fig['started']} loops/passes started "
              f"{fig['kinds']}, {fig['killed']} killed mid-run, {fig['time']:.1f} s (reference run "
              f"{ref_time:.1f} s); final resume exit {fig['final']}; {fig['runs']} step runs; "
              f"{fig['leftovers']} temporary files left by killed writes")
        root = fig["root"]
        assert fig["final"] == ref.returncode
        assert comparable(root) == comparable(reference)
        assert {sid: e["reason"] for sid, e in read_state(root)["steps"].items()} == ref_reasons
        assert sorted(runs(root)) == expected_runs(), "a step ran twice or never"
        jobs = job_records(root)
        assert {sid: len(p) for sid, p in jobs.items() if p} == {sid: 1 for sid in expected_runs()}, \
            "a step was submitted twice"
    print(f"loop kill -9 total: {ROUNDS} rounds, {totals['started']} started, {totals['killed']} killed, "
          f"{totals['leftovers']} leftover temporary files")
