"""The study's files and directories follow the user's umask and none is world-writable.

The whole life of a study runs under umask 002, 022 and 077: `mexpand | mrender` then `msubmit`
and `mmonitor --loop`, and `maestro run` in the background (its conductor, its log, its pid
file), with `--usetmp` for the scripts directory outside the study.  Every path the tools or the
local jobs create (state.json, its lock, events, status.csv, scripts, job records and outputs,
meta/, logs/) must have no permission bit the umask removes, and no world-write bit.
"""

import os
import stat
import subprocess
import time

import pytest

from mshared.statefile import read_state

from reliability_helpers import chain_spec, tool, wait_for


def modes_under(root):
    out = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            out[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
        out[os.path.relpath(base, root)] = stat.S_IMODE(os.lstat(base).st_mode)
    return out


def bad_modes(modes: dict, umask: int) -> list[str]:
    return sorted(f"{path}: {mode:04o}" for path, mode in modes.items()
                  if mode & umask or mode & stat.S_IWOTH)


def run_under(umask, argv, cwd, input=None, timeout=120):
    return subprocess.run(argv, cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout,
                          umask=umask)


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077], ids=lambda u: f"umask{u:03o}")
def test_a_study_respects_the_umask_and_is_never_world_writable(tmp_path, umask):
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("umask", 4, fan=2, sleep="0"))
    # by hand: mexpand | mrender --usetmp, msubmit, mmonitor --loop
    dag = run_under(umask, [tool("mexpand"), str(spec)], tmp_path).stdout
    rendered = run_under(umask, [tool("mrender"), "--usetmp", "-o", str(tmp_path / "byhand")], tmp_path, input=dag)
    assert rendered.returncode == 0, rendered.stderr
    root = rendered.stdout.strip()
    assert run_under(umask, [tool("msubmit"), root], tmp_path).returncode == 0
    loop = run_under(umask, [tool("mmonitor"), "--loop", "--interval", "0.1", root], tmp_path)
    assert loop.returncode == 0, loop.stderr
    scripts = read_state(root)["study"]["scripts_dir"]
    # with the wrapper, the conductor in the background
    launched = run_under(umask, [tool("maestro"), "run", "-y", "-s", "1", "-o", str(tmp_path / "wrapped"),
                                 str(spec)], tmp_path)
    assert launched.returncode == 0, launched.stderr
    wrapped = str(tmp_path / "wrapped")
    wait_for(lambda: all(e["state"] == "FINISHED" for e in read_state(wrapped)["steps"].values()), 60,
             what="the background conductor to finish the study")
    time.sleep(0.3)   # the conductor writes its last status.csv and exits

    modes = {**{f"byhand/{k}": v for k, v in modes_under(root).items()},
             **{f"wrapped/{k}": v for k, v in modes_under(wrapped).items()},
             **{f"scripts/{k}": v for k, v in modes_under(scripts).items()}}
    bad = bad_modes(modes, umask)
    kinds = sorted({p.rsplit("/", 1)[-1].split(".")[-1] for p in modes})
    print(f"\numask {umask:03o}: {len(modes)} paths checked ({len(kinds)} kinds of file), {len(bad)} with a "
          f"bit the umask removes or world-writable; e.g. state.json {modes['byhand/state.json']:04o}, "
          f"a workspace {modes['byhand/s0']:04o}, scripts dir {modes['scripts/.']:04o}")
    assert not bad, bad[:10]
    for required in ("byhand/state.json", "byhand/state.json.lock", "byhand/events.jsonl", "byhand/status.csv",
                     "wrapped/conductor.pid", "wrapped/logs/conductor.log"):
        assert required in modes, required


# Files the engine (runtime/engine) and the local scheduler's runner (runtime/schedulers) create
# with the umask alone: under umask 000 they are world-writable (issue 15, F17; not fixed here).
RUNTIME_WRITTEN = (".err", ".out", ".exit.json", ".job.json", "events.jsonl")
JOBS_WRITTEN = ("runs.txt",)     # the steps' own output: the user's umask is theirs to choose


def _world_writable(umask: int, tmp_path) -> list[str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("umask0", 4, fan=2, sleep="0"))
    dag = run_under(umask, [tool("mexpand"), str(spec)], tmp_path).stdout
    rendered = run_under(umask, [tool("mrender"), "--usetmp", "-o", str(tmp_path / "byhand")], tmp_path, input=dag)
    root = rendered.stdout.strip()
    assert run_under(umask, [tool("mmonitor"), "--loop", "--interval", "0.1", root], tmp_path).returncode == 0
    launched = run_under(umask, [tool("maestro"), "run", "-y", "-s", "1", "-o", str(tmp_path / "wrapped"),
                                 str(spec)], tmp_path)
    assert launched.returncode == 0, launched.stderr
    wrapped = str(tmp_path / "wrapped")
    wait_for(lambda: "finished with state" in open(os.path.join(wrapped, "logs", "conductor.log")).read(), 60,
             what="the background conductor to finish the study")
    modes = {**{f"byhand/{k}": v for k, v in modes_under(root).items()},
             **{f"wrapped/{k}": v for k, v in modes_under(wrapped).items()},
             **{f"scripts/{k}": v for k, v in modes_under(read_state(root)["study"]["scripts_dir"]).items()}}
    return sorted(p for p, mode in modes.items() if mode & stat.S_IWOTH and not p.endswith(JOBS_WRITTEN))


def test_under_umask_000_nothing_the_tools_write_is_world_writable(tmp_path):
    """conductor.pid and intents.jsonl were world-writable under umask 000: anyone could write a
    pid that keeps `maestro conductor` from starting, or forge an intent."""
    bad = _world_writable(0o000, tmp_path)
    ours = [p for p in bad if not p.endswith(RUNTIME_WRITTEN)]
    print(f"\numask 000: {len(bad)} world-writable paths, all written by runtime/: "
          f"{sorted({p.rsplit('/', 1)[-1].split('.', 2)[-1] for p in bad})}")
    assert ours == []


def test_under_umask_000_the_runtimes_files_are_not_world_writable(tmp_path):
    assert _world_writable(0o000, tmp_path) == []
