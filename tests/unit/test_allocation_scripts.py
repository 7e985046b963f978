"""Bundle allocation scripts (``Scheduler.allocation``): one batch job of N nodes whose script
starts one worker per node.

* goldens: tests/golden/allocations/<case>.<extension>, byte for byte; `pytest --update-goldens`
  rewrites them (review the diff before committing it);
* no batch value can add a directive (a line break, a space), and the worker's argv is quoted;
* each script run here with stand-in launchers (srun, jsrun, blaunch, flux, pbsdsh written by the
  test, each doing what its documentation says: one task per node, and for pbsdsh a task that gets
  the job's environment, not the script's, in the home directory): every worker runs in the work
  directory with MAESTRO_BUNDLE_END set, and the script exits with the launcher's status;
* against the scheduler stand-ins of tests/standins (LSF, Flux, PBS): the submit command accepts
  the script, the scheduler holds the worker launch line, and ``find`` finds the job by its work
  directory after a crash.  SLURM does both for real in tests/slurm/test_slurm_allocation.py.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mruntime.schedulers import registry
from mruntime.schedulers.base import JobRef
from mshared import bundlesettings
from mshared import states as S
from mshared.errors import InvalidInput
from sched_contract import harness_class
from standins import engine

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "allocations"
BATCH = ("slurm", "lsf", "flux", "pbs")
WORKDIR = "/study/meta/bundles/a1"
WORKER = ["/venv/bin/python", "-m", "mruntime.bundle.worker", "/study", "a1"]

FULL_BATCH = {"type": "x", "host": "quartz", "bank": "baasic", "queue": "pbatch", "reservation": "myres",
              "qos": "high", "allocation_args": {"setattr": {"system.bank": "x"}, "setopt": {"fastload": None}}}
FULL = bundlesettings.normalize({"nodes": 4, "walltime": "01:30:45", "allocations": 2, "cores": 36, "gpus": 4})
PLAIN = bundlesettings.normalize({"nodes": 1, "walltime": 30, "allocations": 1})

# case -> (scheduler, batch block, settings)
CASES = {
    **{f"{key}-full": (key, FULL_BATCH, FULL) for key in BATCH},
    **{f"{key}-plain": (key, {}, PLAIN) for key in BATCH},
    "lsf-blaunch-full": ("lsf", {**FULL_BATCH, "bundle_launcher": "blaunch"}, FULL),
    "lsf-blaunch-plain": ("lsf", {"bundle_launcher": "blaunch"}, PLAIN),
}


def render(key, batch=None, settings=PLAIN, name="demo.bundle.a1", workdir=WORKDIR, worker=WORKER,
           shell="/bin/bash") -> str:
    return registry.unit(key).allocation(batch or {}, settings, name, workdir, worker, shell)


def launch_line(text: str) -> str:
    """The worker's launch: everything after the last ``export`` line (a quoted argument may hold
    a line break)."""
    lines = text.rstrip("\n").split("\n")
    last_export = max(i for i, line in enumerate(lines) if line.startswith("export "))
    return "\n".join(lines[last_export + 1:])


# ---------------------------------------------------------------------- the unit
def test_every_batch_scheduler_has_an_allocation_and_local_none():
    for key in registry.keys():
        unit = registry.unit(key)
        assert (unit.allocation is not None) == (key in BATCH), key
    assert registry.unit("local").allocation is None       # bundles need a batch scheduler


# ---------------------------------------------------------------------- goldens
@pytest.mark.parametrize("case", sorted(CASES))
def test_allocation_scripts_match_goldens(case, update_goldens):
    key, batch, settings = CASES[case]
    got = render(key, batch, settings)
    path = GOLDEN / f"{case}{registry.unit(key).script_suffix}"
    if update_goldens or os.environ.get("UPDATE_GOLDENS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.is_file(), f"no golden for {case}: run pytest --update-goldens"
    assert got == path.read_text(encoding="utf-8")


def test_every_batch_scheduler_has_allocation_goldens():
    assert {CASES[case][0] for case in CASES} == set(BATCH)


@pytest.mark.parametrize("key", BATCH)
def test_the_shared_body(key):
    """Header, then: into the work directory, MAESTRO_BUNDLE_END, the launch as the last command."""
    text = render(key, settings=FULL)
    assert text.startswith("#!/bin/bash\n")
    head, _, body = text.partition("\n\n")
    assert all(line.startswith("#") for line in head.splitlines())
    lines = body.splitlines()
    assert lines[0] == f"cd {WORKDIR} || exit 1"
    assert lines[1] == "export MAESTRO_BUNDLE_END=$(( $(date +%s) + 5445 ))"
    assert shlex.split(lines[-1])[0] == {"slurm": "srun", "lsf": "jsrun", "flux": "flux", "pbs": "pbsdsh"}[key]


def test_the_launch_lines():
    assert launch_line(render("slurm", settings=FULL)).startswith(
        "srun --nodes=4 --ntasks=4 --ntasks-per-node=1 --overlap --kill-on-bad-exit=0 /venv/bin/python ")
    assert "\nexport SLURM_OVERLAP=1\nsrun " in render("slurm")
    assert launch_line(render("lsf", settings=FULL)).startswith(
        "jsrun --nrs 4 --rs_per_host 1 --tasks_per_rs 1 --cpu_per_rs 1 --gpu_per_rs 0 --bind none /venv/")
    assert launch_line(render("lsf", {"bundle_launcher": "blaunch"}, FULL)).startswith("blaunch /venv/bin/python ")
    assert launch_line(render("flux", settings=FULL)).startswith("flux run -N 4 -n 4 /venv/bin/python ")
    assert launch_line(render("pbs", settings=FULL)).startswith(
        'pbsdsh -- /usr/bin/env "MAESTRO_BUNDLE_END=$MAESTRO_BUNDLE_END" /bin/sh -c ')


def test_walltimes_in_each_schedulers_unit():
    s = bundlesettings.normalize({"nodes": 1, "walltime": "00:00:61", "allocations": 1})   # 61 s
    assert "#SBATCH --time=00:01:01" in render("slurm", settings=s)
    assert "#BSUB -W 00:02" in render("lsf", settings=s)         # whole minutes, rounded up
    assert "#flux: -t 61s" in render("flux", settings=s)
    assert "#PBS -l walltime=00:01:01" in render("pbs", settings=s)
    day = bundlesettings.normalize({"nodes": 1, "walltime": "1-12:00:00", "allocations": 1})
    assert "#BSUB -W 36:00" in render("lsf", settings=day)
    assert "#SBATCH --time=36:00:00" in render("slurm", settings=day)


def test_lsf_refuses_an_unknown_bundle_launcher():
    with pytest.raises(InvalidInput, match="bundle_launcher 'mpirun'"):
        render("lsf", {"bundle_launcher": "mpirun"})


def test_pbs_job_names_start_with_a_letter_or_digit():
    assert "#PBS -N m_demo.a1\n" in render("pbs", name="_demo.a1")


# ---------------------------------------------------------------------- nothing injects a directive
HOSTILE = {
    "a line break": "pbatch\n#SBATCH --account=stolen",
    "a carriage return": "pbatch\r#PBS -A stolen",
    "a space": "pbatch --account=stolen",
    "a tab": "pbatch\t-G stolen",
}


@pytest.mark.parametrize("key", BATCH)
@pytest.mark.parametrize("field", ["queue", "bank"])
@pytest.mark.parametrize("how", sorted(HOSTILE))
def test_a_hostile_batch_value_is_refused(key, field, how):
    with pytest.raises(InvalidInput, match=rf"bundle allocation 'demo.bundle.a1': batch.{field} .*contains"):
        render(key, {field: HOSTILE[how]})


@pytest.mark.parametrize("key, value", [
    ("slurm", "r\n#SBATCH -A x"), ("slurm", 'r" --account="x'), ("slurm", "r\\"),   # quoted there
    ("lsf", "r\n#BSUB -G x"), ("lsf", "r -G x"),
])
def test_a_hostile_reservation_is_refused(key, value):
    with pytest.raises(InvalidInput, match="batch.reservation"):
        render(key, {"reservation": value})


@pytest.mark.parametrize("key", BATCH)
def test_a_hostile_job_name_or_shell_is_refused(key):
    with pytest.raises(InvalidInput, match="the job name"):
        render(key, name="a\n#X -q stolen")
    with pytest.raises(InvalidInput, match="batch.shell"):
        render(key, shell="/bin/bash\n#X -q stolen")


def test_flux_allocation_args_cannot_add_a_line():
    with pytest.raises(InvalidInput, match="batch.allocation_args"):
        render("flux", {"allocation_args": {"setattr": {"a": "x\n#flux: -q stolen"}}})


@pytest.mark.parametrize("key", BATCH)
def test_a_relative_work_directory_or_no_worker_is_a_programming_error(key):
    with pytest.raises(ValueError, match="absolute"):
        render(key, workdir="meta/bundles/a1")
    with pytest.raises(ValueError, match="worker command is empty"):
        render(key, worker=[])


# ---------------------------------------------------------------------- the worker's argv is quoted
NASTY_WORKER = ["/opt/my python/bin/python3", "-m", "mruntime.bundle.worker", "/st'udy; rm -rf ~",
                "$(id)", "`id`", "a b\tc", "semi;colon", "*", "", "new\nline", "dollar$HOME"]


@pytest.mark.parametrize("key", BATCH)
def test_the_worker_argv_is_quoted(key):
    words = shlex.split(launch_line(render(key, worker=NASTY_WORKER)))
    assert words[-len(NASTY_WORKER):] == NASTY_WORKER
    if key == "pbs":                      # cd into the work directory first, which is quoted as well
        odd = "/tmp/it's a dir"
        words = shlex.split(launch_line(render(key, workdir=odd, worker=NASTY_WORKER)))
        assert words[-len(NASTY_WORKER) - 1:] == [odd, *NASTY_WORKER]


@pytest.mark.parametrize("key", BATCH)
def test_the_work_directory_is_quoted(key):
    text = render(key, workdir="/tmp/it's $(here)")
    assert shlex.split(text.split("\n\n", 1)[1].splitlines()[0]) == ["cd", "/tmp/it's $(here)", "||", "exit", "1"]


# ---------------------------------------------------------------------- run with stand-in launchers
LAUNCHERS = r'''#!{python}
"""Stand-in launcher {name}: starts the command once per node as its documentation says."""
import os, subprocess, sys

name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
nodes = int(os.environ["FAKE_NODES"])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join([name, *args]) + "\n")
env, cwd = dict(os.environ), None
if name == "srun":                         # --opt=value ... command
    while args[0].startswith("--"):
        args = args[1:]
    assert env.get("SLURM_OVERLAP") == "1", "SLURM_OVERLAP is not exported"
elif name == "jsrun":                      # --opt value ... command
    while args[0].startswith("--"):
        args = args[2:]
elif name == "flux":                       # run -N n -n n command
    assert args[:5] == ["run", "-N", str(nodes), "-n", str(nodes)], args
    args = args[5:]
elif name == "pbsdsh":                     # -- program: a TM task gets the job's environment
    assert args[0] == "--" and os.path.isabs(args[1]), args      # and starts in the home directory
    args = args[1:]
    env = {{"HOME": os.environ["HOME"], "PATH": os.environ["PATH"], "PBS_JOBID": "7.pbssrv"}}
    cwd = os.environ["HOME"]
codes = [subprocess.call(args, env=env, cwd=cwd) for _ in range(nodes)]
if name == "pbsdsh":                       # pbsdsh prints non-zero task statuses and exits 0
    for c in codes:
        if c:
            print(f"pbsdsh: task exit status {{c}}")
    sys.exit(0)
sys.exit(max(codes))
'''


@pytest.fixture
def launchers(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("srun", "jsrun", "blaunch", "flux", "pbsdsh"):
        path = bin_dir / name
        path.write_text(LAUNCHERS.format(python=sys.executable, name=name), encoding="utf-8")
        path.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "launched.log"))
    monkeypatch.delenv("MAESTRO_BUNDLE_END", raising=False)
    return tmp_path


@pytest.mark.parametrize("key, batch", [("slurm", {}), ("lsf", {}), ("lsf", {"bundle_launcher": "blaunch"}),
                                        ("flux", {}), ("pbs", {})])
@pytest.mark.parametrize("status", [0, 3])
def test_each_worker_runs_in_the_work_directory_with_the_end_time(launchers, monkeypatch, key, batch, status):
    nodes = 3
    monkeypatch.setenv("FAKE_NODES", str(nodes))
    workdir = launchers / "study dir" / "it's a1"
    workdir.mkdir(parents=True)
    settings = bundlesettings.normalize({"nodes": nodes, "walltime": "00:10:00", "allocations": 1})
    worker = ["/bin/sh", "-c", 'printf "%s|%s\\n" "$MAESTRO_BUNDLE_END" "$(pwd)" >> ran.txt; exit "$1"',
              "worker", str(status)]
    script = workdir / f"allocation{registry.unit(key).script_suffix}"
    script.write_text(render(key, batch, settings, workdir=str(workdir), worker=worker), encoding="utf-8")
    before = int(time.time())
    proc = subprocess.run(["/bin/bash", str(script)], cwd=launchers, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    after = int(time.time())
    rows = [line.split("|") for line in (workdir / "ran.txt").read_text().splitlines()]
    assert len(rows) == nodes, proc.stderr
    for end, cwd in rows:
        assert before + 600 <= int(end) <= after + 600
        assert Path(cwd).resolve() == workdir.resolve()
    # the script's exit status is the launcher's: the workers' for srun, jsrun, blaunch, flux run
    # (as these stand-ins do), 0 for pbsdsh whatever its tasks did
    assert proc.returncode == (0 if key == "pbs" else status), proc.stderr
    assert (launchers / "launched.log").read_text().count("\n") == 1      # one launch, N tasks


# ---------------------------------------------------------------------- the scheduler stand-ins
@pytest.fixture
def standin(request, tmp_path, monkeypatch):
    made = harness_class(request.param)(tmp_path, monkeypatch)
    yield made
    made.close()


def submitted(harness, batch=None, settings=FULL):
    """An allocation script written as the engine writes it (``allocation.<extension>`` in its
    work directory), submitted with the adapter: (adapter, JobRef, script text)."""
    workdir = harness.workspace("bundles/a1")
    unit = registry.unit(harness.key)
    text = unit.allocation({"queue": harness.queue, **(batch or {})}, settings, "demo.bundle.a1",
                           str(workdir), WORKER, "/bin/bash")
    script = workdir / f"allocation{unit.script_suffix}"
    script.write_text(text, encoding="utf-8")
    script.chmod(0o755)
    adapter = harness.adapter()
    job_id = adapter.submit(str(script), str(workdir), "demo.bundle.a1")
    return adapter, JobRef(job_id, str(workdir), "demo.bundle.a1"), text


@pytest.mark.parametrize("standin", ["lsf"], indirect=True)
@pytest.mark.parametrize("batch", [{}, {"bundle_launcher": "blaunch"}])
def test_bsub_takes_the_allocation_script(standin, batch):
    adapter, ref, text = submitted(standin, batch)
    job = standin.jobs()[ref.job_id]
    assert job["script"] == text                          # what LSF runs: the script, launch line last
    assert launch_line(job["script"]).split()[0] == ("blaunch" if batch else "jsrun")
    assert (job["queue"], job["job_name"], job["exec_cwd"]) == ("normal", "demo.bundle.a1", ref.workspace)
    calls = engine.calls(standin.state, "bsub")
    assert calls[-1]["argv"] == ["-cwd", ref.workspace]


@pytest.mark.parametrize("standin", ["flux"], indirect=True)
def test_flux_batch_takes_the_allocation_script(standin):
    adapter, ref, text = submitted(standin)
    job = next(iter(standin.jobs().values()))
    assert job["mode"] == "batch"                         # a Flux instance of its own, not flux submit
    assert job["cwd"] == ref.workspace and job["name"] == "demo.bundle.a1" and job["queue"] == "batch"
    assert job["options"] == [f"--cwd={ref.workspace}"]   # no -n 1 added: the script asks for its nodes
    for directive in (["-N", "4"], ["-n", "4"], ["-t", "5445s"], ["--exclusive"]):
        assert directive[0] in job["directives"]
        at = job["directives"].index(directive[0])
        assert job["directives"][at:at + len(directive)] == directive
    script = engine.calls(standin.state, "flux-batch")[-1]["argv"][-1]
    assert Path(script).read_text(encoding="utf-8") == text      # flux batch runs this file
    assert launch_line(text).startswith("flux run -N 4 -n 4 ")


@pytest.mark.parametrize("standin", ["pbs"], indirect=True)
def test_qsub_takes_the_allocation_script(standin):
    adapter, ref, text = submitted(standin)
    job = next(iter(standin.jobs().values()))
    assert job["Variable_List"]["PBS_O_WORKDIR"] == ref.workspace   # qsub ran in the work directory
    assert (job["queue"], job["Job_Name"], job["Resource_List"]["walltime"]) == ("workq", "demo.bundle.a1",
                                                                                 "01:30:45")
    script = engine.calls(standin.state, "qsub")[-1]["argv"][-1]
    assert Path(script).read_text(encoding="utf-8") == text
    assert launch_line(text).startswith("pbsdsh -- ")


@pytest.mark.parametrize("standin", ["lsf", "flux", "pbs"], indirect=True)
def test_find_finds_an_allocation_by_its_work_directory(standin):
    """A crash after the scheduler took the allocation, before the state said so: the next pass
    finds the job by its work directory, and only that one."""
    adapter, ref, _ = submitted(standin)
    other, _ = standin.job("a-step")                       # a step's job elsewhere
    adapter.submit(other, str(Path(other).parent), "a-step")
    found = standin.adapter().find([ref.workspace])
    assert [(f.job_id, f.workspace) for f in found] == [(ref.job_id, ref.workspace)]
    assert found[0].name == "demo.bundle.a1"
    assert standin.adapter().status([ref])[ref.job_id].state in (S.PENDING, S.QUEUED)


@pytest.mark.parametrize("standin", ["lsf", "flux", "pbs"], indirect=True)
def test_a_refused_allocation_is_a_refusal(standin):
    from mruntime.schedulers.base import SubmitRefused
    with pytest.raises(SubmitRefused):
        submitted(standin, {"queue": "nosuch"} if standin.key != "flux" else {"queue": "pdebug"})

