"""`maestro` end to end: samples run to FINISHED, the wrapper and the hand pipeline agree."""

import os
import subprocess
import time

import pytest

from mruntime.schedulers.processes import descendants as _descendants
from mshared.statefile import read_state

from pipeline_helpers import run, tool

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "corpus", "maestro-samples")
# Samples that need no external software (no scheduler, no git clone, no compiler).
LOCAL_SAMPLES = [
    "hello_world/hello_bye_parameterized.yaml", "hello_world/hello_bye_world.yaml",
    "hello_world/hello_world.yaml", "hello_world/hello_world_multi.yaml",
    "hello_world/hello_world_multiparam.yaml", "hello_world/hello_world_single.yaml",
    "hello_world/hello_world_singleparam.yaml",
    "how_to_guide/batched_parameters/batched_parameters_demo.yaml",
]


def final_states(root):
    return {sid: e["state"] for sid, e in read_state(root)["steps"].items()}


@pytest.mark.parametrize("sample", LOCAL_SAMPLES)
def test_sample_runs_to_finished_in_the_foreground(sample, tmp_path):
    proc = run(["maestro", "run", "-fg", "-y", "-o", str(tmp_path / "study"), os.path.join(SAMPLES, sample)],
               tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Study completed with state 'FINISHED'." in proc.stderr
    assert set(final_states(tmp_path / "study").values()) == {"FINISHED"}


def test_batched_parameters_with_its_pgen(tmp_path):
    spec = os.path.join(SAMPLES, "how_to_guide", "batched_parameters", "batched_parameters_demo.yaml")
    pgen = os.path.join(os.path.dirname(__file__), "..", "corpus", "pgen", "csv_rows.py")
    proc = run(["maestro", "run", "-fg", "-y", "-o", str(tmp_path / "s"), "-p", pgen,
                "--pargs", "CSV:params.csv", "--pargs", "NROWS:5", spec], tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    states = final_states(tmp_path / "s")
    assert len(states) == 5 and set(states.values()) == {"FINISHED"}
    assert os.path.exists(tmp_path / "s" / "csv_rows.py")


def test_background_run_returns_at_once_and_the_study_finishes(tmp_path):
    started = time.monotonic()
    proc = run(["maestro", "run", "-o", str(tmp_path / "bg"), os.path.join(SAMPLES, LOCAL_SAMPLES[0])], tmp_path)
    assert time.monotonic() - started < 10
    assert "Study launched successfully." in proc.stderr and proc.stdout.strip() == str(tmp_path / "bg")
    for _ in range(200):
        if set(final_states(tmp_path / "bg").values()) == {"FINISHED"}:
            break
        time.sleep(0.1)
    assert set(final_states(tmp_path / "bg").values()) == {"FINISHED"}
    assert os.path.exists(tmp_path / "bg" / "conductor.pid")
    for _ in range(50):
        if "Study completed" in (tmp_path / "bg" / "logs" / "conductor.log").read_text():
            break
        time.sleep(0.1)
    assert "Study completed with state 'FINISHED'." in (tmp_path / "bg" / "logs" / "conductor.log").read_text()


def test_dry_run_marks_every_step_dryrun(tmp_path):
    proc = run(["maestro", "run", "--dry", "-fg", "-y", "-o", str(tmp_path / "d"),
                os.path.join(SAMPLES, LOCAL_SAMPLES[0])], tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert set(final_states(tmp_path / "d").values()) == {"DRYRUN"}
    assert not list((tmp_path / "d").rglob("*.out"))


def test_autono_renders_but_submits_nothing(tmp_path):
    run(["maestro", "run", "-n", "-o", str(tmp_path / "n"), os.path.join(SAMPLES, LOCAL_SAMPLES[0])], tmp_path)
    assert set(final_states(tmp_path / "n").values()) == {"INITIALIZED"}


def test_existing_output_is_refused_then_moved_aside_never_deleted(tmp_path):
    """A directory that is not a study moves aside only with an explicit --force: -y (which scripts
    give to skip the launch prompt) renamed any directory, the project's own (issue 15, F6)."""
    target = tmp_path / "taken"
    target.mkdir()
    (target / "precious.txt").write_text("keep me")
    for flags in ([], ["-y"]):
        proc = run(["maestro", "run", "-fg", *flags, "-o", str(target), os.path.join(SAMPLES, LOCAL_SAMPLES[2])],
                   tmp_path, check=False)
        assert proc.returncode == 65 and "exists and is not a study" in proc.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    proc = run(["maestro", "run", "-fg", "--force", "-o", str(target), os.path.join(SAMPLES, LOCAL_SAMPLES[2])],
               tmp_path, check=False)
    assert proc.returncode == 0
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("taken.old-")]
    assert len(aside) == 1 and (aside[0] / "precious.txt").read_text() == "keep me"


def test_update_accepts_zero_and_exits_0(tmp_path):
    run(["maestro", "run", "-n", "-o", str(tmp_path / "u"), os.path.join(SAMPLES, LOCAL_SAMPLES[2])], tmp_path)
    proc = run(["maestro", "update", "--throttle", "0", "--rlimit", "0", "--sleep", "0", str(tmp_path / "u")], tmp_path)
    settings = read_state(tmp_path / "u")["settings"]
    assert (settings["throttle"], settings["rlimit"], settings["poll_interval"]) == (0, 0, 0)
    assert "Updating restart limit from 1 to 0" in proc.stderr


def test_conductor_resumes_without_rerunning_finished_steps(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("""
description: {name: resume, description: d}
study:
  - {name: first, description: d, run: {cmd: 'echo run >> $(OUTPUT_PATH)/count.txt'}}
  - {name: second, description: d, run: {cmd: 'test -e $(OUTPUT_PATH)/go || sleep 30', depends: [first]}}
  - {name: third, description: d, run: {cmd: 'echo three', depends: [second]}}
""")
    root = tmp_path / "r"
    run(["maestro", "run", "-y", "-o", str(root), str(spec)], tmp_path)
    for _ in range(100):
        if final_states(root).get("second") in ("PENDING", "RUNNING"):
            break
        time.sleep(0.1)
    pid = int((root / "conductor.pid").read_text().split()[0])
    os.kill(pid, 9)     # the conductor dies (a reboot, a kill): the job goes on
    job = read_state(root)["steps"]["second"]["job_id"]
    for member in _descendants(int(job)):   # make the long step end quickly (as if it finished badly)
        os.kill(member, 15)
    proc = run(["maestro", "conductor", str(root)], tmp_path, check=False)
    assert proc.returncode == 2
    states = final_states(root)
    assert states["first"] == "FINISHED" and states["second"] == "FAILED" and states["third"] == "FAILED"
    assert (root / "count.txt").read_text() == "run\n"
    (root / "go").write_text("")
    proc = run(["maestro", "rerun", "-fg", str(root), "second", "--subtree"], tmp_path, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert set(final_states(root).values()) == {"FINISHED"}
    assert (root / "count.txt").read_text() == "run\n"     # 'first' was not run again


def test_cancel_one_step_and_its_descendants(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("""
description: {name: c, description: d}
study:
  - {name: slow, description: d, run: {cmd: 'sleep 30'}}
  - {name: after, description: d, run: {cmd: 'echo x', depends: [slow]}}
  - {name: other, description: d, run: {cmd: 'sleep 1'}}
""")
    root = tmp_path / "c"
    run(["maestro", "run", "-n", "-o", str(root), str(spec)], tmp_path)
    run(["msubmit", str(root)], tmp_path)
    run(["maestro", "cancel", "-y", "--step", "slow", str(root)], tmp_path)
    states = final_states(root)
    assert states["slow"] == "CANCELLED" and states["after"] == "CANCELLED"
    assert states["other"] in ("PENDING", "RUNNING", "FINISHED")
    proc = run(["mmonitor", "--loop", str(root)], tmp_path, check=False)
    assert final_states(root)["other"] == "FINISHED"
    assert proc.returncode == 3


def test_pipeline_by_hand_and_cron_style_passes_match_maestro_run(tmp_path):
    sample = os.path.join(SAMPLES, LOCAL_SAMPLES[0])
    run(["maestro", "run", "-fg", "-y", "-o", str(tmp_path / "w"), sample], tmp_path)
    dag = run(["mexpand", sample], tmp_path).stdout
    root = run(["mrender", "-o", str(tmp_path / "h")], tmp_path, input=dag).stdout.strip()
    run(["msubmit", root], tmp_path)
    for _ in range(300):              # what a crontab line does, once a tick
        subprocess.run([tool("mmonitor"), root], capture_output=True)
        if set(final_states(root).values()) == {"FINISHED"}:
            break
        time.sleep(0.05)
    check = subprocess.run([tool("mmonitor"), "--loop", root], capture_output=True)
    assert check.returncode == 0
    assert final_states(root) == final_states(tmp_path / "w")
    a = sorted(p.relative_to(tmp_path / "h").as_posix() for p in (tmp_path / "h").rglob("*.txt"))
    b = sorted(p.relative_to(tmp_path / "w").as_posix() for p in (tmp_path / "w").rglob("*.txt"))
    assert a == b and a


def test_status_shows_maestros_table_layouts_and_formats(tmp_path):
    root = tmp_path / "st"
    run(["maestro", "run", "-fg", "-y", "-o", str(root), os.path.join(SAMPLES, LOCAL_SAMPLES[0])], tmp_path)
    flat = run(["maestro", "status", str(root)], tmp_path).stdout
    assert f"Study: {root}" in flat and "hello_world_GREETING.Hello.NAME.Pam" in flat and "FINISHED" in flat
    legacy = run(["maestro", "status", "--layout", "legacy", "--disable-theme", "--disable-pager", str(root)],
                 tmp_path).stdout
    assert legacy.splitlines()[2].startswith("=====") or "=====" in legacy
    narrow = run(["maestro", "status", "--layout", "narrow", str(root)], tmp_path).stdout
    assert "STEP:" in narrow and "WORKSPACE:" in narrow
    csv_text = run(["maestro", "status", "--format", "csv", str(root)], tmp_path).stdout
    assert csv_text.splitlines()[0].startswith("Step Name,Job ID,Workspace,State")
    bad = run(["maestro", "status", str(tmp_path)], tmp_path, check=False)
    assert bad.returncode == 65 and len(bad.stderr.strip().splitlines()) == 1
