"""What a killed mrender leaves behind is swept by the next render in the same place, and nothing
else ever is (issue 15, F17).

`kill -9` of mrender left `.NAME.XXXXXXXX.mrender-tmp` (239 MB after 4 s of a 100,000-step render)
for ever.  A render holds a flock on its hidden directory while it runs; a later render in the
same parent removes the hidden directories that match the pattern, belong to the user, are older
than mrender.writer.SWEEP_AGE and whose lock is free.
"""

import fcntl
import os
import signal
import subprocess
import time

import pytest

from mrender import writer

from reliability_helpers import STRESS, scaled, tool, wait_for

SPEC = "description: {name: big, description: d}\nstudy:\n  - {name: s, description: d, run: {cmd: 'echo $(P)'}}\n"


def _big_dag(tmp_path, values: int) -> bytes:
    spec = tmp_path / "big.yaml"
    spec.write_text(SPEC + "global.parameters:\n  P: {values: [" + ",".join(map(str, range(values)))
                    + "], label: P.%%}\n")
    return subprocess.run([tool("mexpand"), str(spec)], capture_output=True, check=True).stdout


def _leftovers(parent) -> list[str]:
    return sorted(n for n in os.listdir(parent) if n.endswith(writer.TEMP_SUFFIX))


def _age(path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_a_killed_render_leaves_a_leftover_that_the_next_render_sweeps(tmp_path):
    dag = _big_dag(tmp_path, scaled(20_000, 60_000))
    parent = tmp_path / "out"
    parent.mkdir()
    for round_ in range(scaled(1, 5)):
        proc = subprocess.Popen([tool("mrender"), "-o", str(parent / f"killed{round_}")], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc.stdin.write(dag)
        proc.stdin.close()
        wait_for(lambda: [n for n in _leftovers(parent) if n.startswith(f".killed{round_}.")], 60, 0.005,
                 "mrender to start writing its hidden directory")
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = _leftovers(parent)
    print(f"\nleftovers: {len(left)} left by {scaled(1, 5)} render(s) killed mid-write")
    assert len(left) == scaled(1, 5) and not any(n.startswith("killed") for n in os.listdir(parent))
    fresh = subprocess.run([tool("mrender"), "-o", str(parent / "fresh")], input=dag, capture_output=True)
    assert fresh.returncode == 0 and _leftovers(parent) == left     # too young to be swept
    for name in left:
        _age(parent / name, writer.SWEEP_AGE + 60)
    again = subprocess.run([tool("mrender"), "-o", str(parent / "again")], input=dag, capture_output=True)
    assert again.returncode == 0, again.stderr
    assert _leftovers(parent) == [] and sorted(os.listdir(parent)) == ["again", "fresh"]


def test_only_dead_renders_leftovers_are_swept(tmp_path):
    parent = tmp_path
    names = {"dead": ".study.abcd_123.mrender-tmp", "held": ".other.zzzz9999.mrender-tmp",
             "young": ".young.qqqqqqqq.mrender-tmp", "user dir": ".study.mine.mrender-tmp",
             "user file": ".x.abcdefgh.mrender-tmp-notes", "user file too": ".x.abcdefgh.mrender-tmp.txt"}
    for what, name in names.items():
        if "file" in what:
            (parent / name).write_text("mine")
        else:
            (parent / name).mkdir()
            (parent / name / "inside").write_text("x")
        if what != "young":
            _age(parent / name, writer.SWEEP_AGE + 60)
    symlink = parent / ".link.abcdefgh.mrender-tmp"
    symlink.symlink_to(parent / names["held"])
    held = os.open(parent / names["held"], os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)          # a render that runs (here: this test) holds it
    try:
        swept = writer.sweep_leftovers(str(parent))
    finally:
        os.close(held)
    assert swept == [str(parent / names["dead"])]
    assert sorted(os.listdir(parent)) == sorted([*(n for w, n in names.items() if w != "dead"), symlink.name])


@pytest.mark.skipif(not STRESS, reason="make stress: two renders of the same parent at once, many times")
def test_concurrent_renders_never_sweep_each_other(tmp_path):
    dag = _big_dag(tmp_path, 5_000)
    for round_ in range(20):
        procs = [subprocess.Popen([tool("mrender"), "-o", str(tmp_path / f"r{round_}_{k}")], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for k in range(3)]
        for proc in procs:
            proc.stdin.write(dag)
            proc.stdin.close()
        assert [p.wait() for p in procs] == [0, 0, 0]
    assert _leftovers(tmp_path) == []
