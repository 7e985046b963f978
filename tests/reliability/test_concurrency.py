"""Cron overlapping a foreground run: many writers and readers on one running local study.

At the same time, on one study: `maestro conductor` (the background loop), `mmonitor --loop`,
several hammer threads each starting `mmonitor` / `msubmit` passes back to back, `mreport`
readers, and a reader process calling read_state in a tight loop.  The study must end with every
step FINISHED exactly once (each step appends its id to runs.txt; events.jsonl shows one move to
FINISHED per step), each step's workspace must hold exactly one local job record (no second
submission), and every read must see a whole state file.
"""

import collections
import json
import os
import subprocess
import threading
import time

import pytest

from mshared.statefile import read_state

from reliability_helpers import (PY, chain_spec, finished_events, job_records, make_study, runs, scaled,
                                 states, tool)

STEPS = scaled(60, 150)
HAMMERS = scaled(3, 6)

READER = r"""
import sys, time
from mshared.statefile import read_state
from mshared.errors import InvalidInput
root, stop = sys.argv[1], sys.argv[2]
import os
reads = bad = 0
first = None
while not os.path.exists(stop):
    try:
        doc = read_state(root)
        assert isinstance(doc["steps"], dict)
        reads += 1
    except Exception as err:            # InvalidInput = a partial or damaged file
        bad += 1
        first = first or f"{type(err).__name__}: {err}"
print(reads, bad, first or "")
"""


def test_many_passes_loops_and_readers_at_once_lose_nothing_and_submit_once(tmp_path):
    root = make_study(tmp_path, chain_spec("hammer", STEPS, fan=5, sleep="0.{i7}"), extra=["-t", "6"])
    stop = tmp_path / "stop"
    codes = collections.Counter()          # (tool, exit code) -> count
    errors: list[str] = []
    lock = threading.Lock()

    def hammer(seed: int):
        i = seed
        while not stop.exists():
            name = ("mmonitor", "msubmit", "mmonitor")[i % 3]
            i += 1
            proc = subprocess.run([tool(name), root], capture_output=True, text=True, timeout=60)
            with lock:
                codes[(name, proc.returncode)] += 1
                if proc.returncode not in (0, 75) or "Traceback" in proc.stderr:
                    errors.append(f"{name} exited {proc.returncode}: {proc.stderr.strip()}")

    updates = []

    def updater():
        """`maestro update` from another terminal, again and again: the last value must stay."""
        value = 4
        while not stop.exists():
            proc = subprocess.run([tool("maestro"), "update", "--throttle", str(value), root],
                                  capture_output=True, text=True, timeout=60)
            with lock:
                codes[("maestro update", proc.returncode)] += 1
                if proc.returncode == 0:
                    updates.append(value)
                else:
                    errors.append(f"maestro update exited {proc.returncode}: {proc.stderr.strip()}")
            value = 4 + (value - 3) % 5

    def reporter():
        while not stop.exists():
            proc = subprocess.run([tool("mreport"), "-f", "json", root], capture_output=True, text=True,
                                  timeout=60)
            with lock:
                codes[("mreport", proc.returncode)] += 1
                if proc.returncode != 0:
                    errors.append(f"mreport exited {proc.returncode}: {proc.stderr.strip()}")
                else:
                    json.loads(proc.stdout)

    reader = subprocess.Popen([PY, "-c", READER, root, str(stop)], stdout=subprocess.PIPE, text=True)
    conductor = subprocess.Popen([tool("maestro"), "conductor", "--sleep", "0.2", root],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    monitor_loop = subprocess.Popen([tool("mmonitor"), "--loop", "--interval", "0.1", root],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(HAMMERS)]
    threads += [threading.Thread(target=reporter) for _ in range(2)] + [threading.Thread(target=updater)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        c_out, c_err = conductor.communicate(timeout=300)
        m_out, m_err = monitor_loop.communicate(timeout=120)
    finally:
        stop.touch()
        for thread in threads:
            thread.join(timeout=120)
        r_out, _ = reader.communicate(timeout=60)
    elapsed = time.monotonic() - started
    reads, bad, first_bad = (r_out.split(" ", 2) + [""])[:3]

    passes = sum(n for (name, _), n in codes.items() if name in ("mmonitor", "msubmit"))
    busy = sum(n for (name, code), n in codes.items() if name in ("mmonitor", "msubmit") and code == 75)
    reports = sum(n for (name, _), n in codes.items() if name == "mreport")
    print(f"\nconcurrency: {STEPS} steps in {elapsed:.1f} s; {passes} mmonitor/msubmit passes "
          f"({busy} found the lock held: exit 75) from {HAMMERS} threads, plus a conductor and an "
          f"mmonitor --loop; {reports} mreport runs; {len(updates)} maestro updates; {reads} read_state "
          f"calls ({bad} bad)")
    print(f"concurrency: exit codes {dict(sorted(codes.items()))}")

    assert not errors, errors[:5]
    assert int(bad) == 0, first_bad
    assert conductor.returncode == 0, c_err
    assert monitor_loop.returncode == 0, m_err
    assert "Traceback" not in c_err + m_err
    ids = [f"s{i}" for i in range(STEPS)]
    assert sorted(runs(root)) == sorted(ids), "a step ran twice or never"
    assert set(states(root).values()) == {"FINISHED"}
    assert finished_events(root) == collections.Counter({sid: 1 for sid in ids})
    records = job_records(root)
    assert {sid: len(paths) for sid, paths in records.items()} == {sid: 1 for sid in ids}, \
        "a step was submitted more than once"
    assert passes > 0 and reports > 0 and int(reads) > 0 and updates
    assert read_state(root)["settings"]["throttle"] == updates[-1], "a settings update was lost"


# ---------------------------------------------------------------- a loop's remembered state
@pytest.fixture
def coarse_fs(tmp_path):
    """An ext3 file system with 128-byte inodes on a loop device: timestamps in whole seconds and
    inode numbers reused at once, as on many older or network file systems.  Needs root."""
    image, mount = tmp_path / "ext3.img", tmp_path / "ext3"
    mount.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(16 * 1024 * 1024)
    made = subprocess.run(["mkfs.ext3", "-q", "-F", "-I", "128", str(image)], capture_output=True, text=True)
    mounted = made.returncode == 0 and subprocess.run(
        ["mount", "-o", "loop", str(image), str(mount)], capture_output=True, text=True).returncode == 0
    if not mounted:
        pytest.skip("cannot make and loop-mount an ext3 image here (needs root, mkfs.ext3 and /dev/loop*)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)   # lazily: a job may still run there


def test_a_loop_never_reuses_a_state_that_another_process_replaced(tmp_path, coarse_fs):
    """A loop keeps the state it wrote and skips re-reading state.json while the file's
    (inode, size, mtime) is unchanged.  With 1-second timestamps and inode reuse, two writes by
    other processes (here two `maestro update`s of the same length) within the second give the
    same key: the loop must still see them, not write its older state over them."""
    from maestro_cli import control
    from mruntime.engine.passes import run_pass
    from mruntime.engine.records import LoopMemory

    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("coarse", 2, fan=1, sleep="2"))
    dag = subprocess.run([tool("mexpand"), str(spec)], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    tries = 0
    for attempt in range(5):               # the two writes must fall in the loop's second
        root = str(coarse_fs / f"s{attempt}")
        subprocess.run([tool("mrender"), "-o", root], input=dag, capture_output=True, text=True,
                       check=True, cwd=tmp_path)
        memory = LoopMemory()
        run_pass(root, poll_jobs=True, submit=True, memory=memory)   # the loop submits s0 (PENDING)
        control.update_settings(root, {"throttle": 4})               # folds the loop's journal lines in
        key_before = os.stat(os.path.join(root, "state.json"))
        control.update_settings(root, {"throttle": 5})               # another process: 4 -> 5
        control.update_settings(root, {"sleep": 61})                 # and again: 60 -> 61
        key_after = os.stat(os.path.join(root, "state.json"))
        tries += 1
        same = (key_before.st_ino, key_before.st_size, key_before.st_mtime_ns) == \
            (key_after.st_ino, key_after.st_size, key_after.st_mtime_ns)
        if same:
            break
    else:
        pytest.skip("could not get the two writes into the same second")
    run_pass(root, poll_jobs=True, submit=True, memory=memory)         # the loop's next pass: PENDING -> RUNNING
    settings = read_state(root)["settings"]
    print(f"\ncoarse timestamps: same (inode, size, mtime) after two other writes on try {tries}; "
          f"settings after the loop's next pass: throttle {settings['throttle']}, "
          f"poll_interval {settings['poll_interval']}")
    assert (settings["throttle"], settings["poll_interval"]) == (5, 61), \
        "the loop wrote its remembered state over two newer writes (lost update)"
