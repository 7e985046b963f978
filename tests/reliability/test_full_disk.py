"""A full disk while the state is written: the previous state stays whole, the error is clear.

Two ways: an injected ENOSPC inside mshared.jsonio (the file object's write raises, as a full
disk does at flush, for state.json; the append of a line to the state's journal, changes.jsonl,
raises), and, where `mount -t tmpfs` works (root), a tiny tmpfs filled to the brim.  Either way
msubmit/mmonitor print one `<tool>: error: .../<file>: No space left on device; ...` line (exit
1, no traceback), state.json and its journal are byte-for-byte what they were, no temporary file
is left behind, and once there is room again the study finishes with every step run exactly once.
"""

import errno
import os
import time
import subprocess
import types

import pytest
from click.testing import CliRunner

from mshared import jsonio
from mshared.statefile import read_state

from reliability_helpers import (chain_spec, job_records, make_study, one_line_error, runs, states, tool)

STEPS = 6


class FullDisk:
    """Stand-in for the ``os`` module inside mshared.jsonio: writes of the state (state.json
    replaced whole, or a line appended to its journal) raise ENOSPC.

    ``fail_on`` picks which writes of the state fail, counting from 1 (None: all of them).
    """

    def __init__(self, fail_on=None, suffix=("state.json", "changes.jsonl")):
        self.fail_on, self.suffix = fail_on, suffix
        self.writes = self.failed = 0
        self.appending: set[int] = set()

    def install(self, monkeypatch):
        proxy = types.SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
        proxy.fdopen = self.fdopen
        proxy.open = self.open
        proxy.write = self.write
        monkeypatch.setattr(jsonio, "os", proxy)

    def open(self, path, flags, *args):
        fd = os.open(path, flags, *args)
        if flags & os.O_APPEND and str(path).endswith(self.suffix):
            self.appending.add(fd)
        return fd

    def write(self, fd, data):
        if fd in self.appending:
            self.appending.discard(fd)
            self.writes += 1
            if self.fail_on is None or self.writes in self.fail_on:
                self.failed += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)

    def fdopen(self, fd, *args, **kwargs):
        handle = os.fdopen(fd, *args, **kwargs)
        target = os.readlink(f"/proc/self/fd/{fd}")
        if not target.endswith(self.suffix):
            return handle
        self.writes += 1
        if self.fail_on is not None and self.writes not in self.fail_on:
            return handle
        outer = self

        class Failing:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()
                return False

            def write(self, data):
                outer.failed += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            def __getattr__(self, name):
                return getattr(handle, name)

        return Failing()


def invoke(name: str, root: str):
    from mmonitor.cli import main as mmonitor_main
    from msubmit.cli import main as msubmit_main

    main = {"msubmit": msubmit_main, "mmonitor": mmonitor_main}[name]
    return CliRunner().invoke(main, [root], prog_name=name)


def finish(root: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.1", root], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("name", ["msubmit", "mmonitor"])
def test_enospc_on_the_intent_write_changes_nothing_and_says_so(tmp_path, monkeypatch, name):
    root = make_study(tmp_path, chain_spec("enospc", STEPS, fan=2))
    before = open(os.path.join(root, "state.json"), "rb").read()
    journal = os.path.join(root, "changes.jsonl")
    journal_before = open(journal, "rb").read() if os.path.exists(journal) else b""
    disk = FullDisk()
    disk.install(monkeypatch)
    result = invoke(name, root)
    monkeypatch.undo()
    print(f"\nfull disk ({name}, injected): exit {result.exit_code}, {disk.failed} failed write(s): "
          f"{result.stderr.strip()}")
    line = one_line_error(result.stderr, name)
    assert result.exit_code == 1
    assert "changes.jsonl: No space left on device" in line and "free some space" in line
    assert open(os.path.join(root, "state.json"), "rb").read() == before
    assert (open(journal, "rb").read() if os.path.exists(journal) else b"") == journal_before
    assert not [n for n in os.listdir(root) if n.startswith(".tmp-")]
    assert all(not pids for pids in job_records(root).values()), "a job started without its intent on disk"
    done = finish(root)
    assert done.returncode == 0, done.stderr
    assert sorted(runs(root)) == sorted(f"s{i}" for i in range(STEPS))


def test_enospc_after_jobs_were_submitted_loses_none_and_runs_none_twice(tmp_path, monkeypatch):
    """The intent write works, the jobs start, the write that records their ids fails: the state
    on disk still holds the intents, and the next pass adopts the running jobs."""
    root = make_study(tmp_path, chain_spec("enospc2", STEPS, fan=3, sleep="0.3"))
    disk = FullDisk(fail_on={2})
    disk.install(monkeypatch)
    result = invoke("msubmit", root)
    monkeypatch.undo()
    line = one_line_error(result.stderr, "msubmit")
    state = read_state(root)
    intents = sorted(sid for sid, e in state["steps"].items() if e["intent"])
    for _ in range(100):   # the detached runners write their records a moment after msubmit returns
        started = sorted(sid for sid, pids in job_records(root).items() if pids)
        if len(started) >= len(intents):
            break
        time.sleep(0.02)
    print(f"\nfull disk after submission: exit {result.exit_code}; {len(started)} job(s) running, "
          f"{len(intents)} intent(s) on disk; {line}")
    assert result.exit_code == 1
    assert intents and intents == started
    done = finish(root)
    assert done.returncode == 0, done.stderr
    assert sorted(runs(root)) == sorted(f"s{i}" for i in range(STEPS))
    assert {sid: len(p) for sid, p in job_records(root).items()} == {f"s{i}": 1 for i in range(STEPS)}


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}); "
                    "the injected-failure tests cover the same code")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_tmpfs_filled_to_the_brim(tmp_path, tiny_tmpfs):
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("brim", STEPS, fan=2))
    dag = subprocess.run([tool("mexpand"), str(spec)], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout
    root = str(tiny_tmpfs / "study")
    subprocess.run([tool("mrender"), "-o", root], input=dag, capture_output=True, text=True, check=True,
                   cwd=tmp_path)
    before = open(os.path.join(root, "state.json"), "rb").read()
    filler = tiny_tmpfs / "filler"
    with open(filler, "wb", buffering=0) as handle:   # fill it: write until the kernel says ENOSPC
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
    figures = []
    for name in ("msubmit", "mmonitor"):
        proc = subprocess.run([tool(name), root], capture_output=True, text=True, timeout=60)
        figures.append(f"{name} exit {proc.returncode}")
        line = one_line_error(proc.stderr, name)
        assert proc.returncode == 1 and "No space left on device" in line
        assert open(os.path.join(root, "state.json"), "rb").read() == before
        read_state(root)
    report = subprocess.run([tool("mreport"), root], capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr         # readers need no space at all
    leftovers = [n for n in os.listdir(root) if n.startswith(".tmp-")]
    print(f"\ntmpfs full: {', '.join(figures)}; state.json unchanged; mreport exit {report.returncode}; "
          f"{len(leftovers)} temporary files left")
    assert not leftovers
    os.unlink(filler)
    done = finish(root)
    assert done.returncode == 0, done.stderr
    assert set(states(root).values()) == {"FINISHED"}
    assert sorted(runs(root)) == sorted(f"s{i}" for i in range(STEPS))
