"""SlurmAdapter against the real local SLURM (.ci/slurm/start-slurm.sh; `make slurm-up`).

Skipped when SLURM is down, failed instead when MAESTRO_REQUIRE_SLURM=1 (conftest's slurm_cluster).
The long TIMEOUT/restart case is not here: one shared case runs through mmonitor.  What every
scheduler must do (find, unknown ids, refusals, an unreachable controller) is checked for SLURM
by tests/unit/test_scheduler_contract.py, with the harness in tests/sched_contract/slurm.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mshared import states as S
from mruntime.schedulers.base import JobRef, run_command
from mruntime.schedulers.slurm import SlurmAdapter

pytestmark = pytest.mark.slurm


class CountingRunner:
    """run_command, counting the scheduler calls per program."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, argv, **kw):
        self.calls.append(list(argv))
        return run_command(argv, **kw)

    def since(self, mark: int) -> list[list[str]]:
        return self.calls[mark:]


@pytest.fixture
def slurm(slurm_cluster):
    runner = CountingRunner()
    SlurmAdapter._accounting = None
    return SlurmAdapter({"queue": "debug"}, runner=runner, timeout=30), runner


def make_step(root: Path, name: str, body: str, header: str = "") -> tuple[str, str]:
    ws = root / name
    ws.mkdir(parents=True, exist_ok=True)
    script = ws / f"{name}.slurm.sh"
    script.write_text(
        "#!/bin/bash\n"
        f'#SBATCH --job-name="{name}"\n#SBATCH --output="{name}.out"\n#SBATCH --error="{name}.err"\n'
        f"{header}\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script), str(ws)


def wait_for(adapter, refs, done, timeout=90.0, interval=0.3):
    """Poll status until done(statuses) is true; returns the last statuses."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = adapter.status(refs)
        if done(statuses):
            return statuses
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting; last states: "
                        f"{sorted({s.state for s in statuses.values()})} e.g. "
                        f"{next(iter(statuses.values()))}")
        time.sleep(interval)


def all_terminal(statuses):
    return all(s.state in S.TERMINAL for s in statuses.values())


def test_unreachable_controller_is_unavailable(slurm_cluster, tmp_path, monkeypatch):
    """A client configured for a port nobody listens on: what a dead slurmctld looks like."""
    from mshared.errors import SchedulerUnavailable
    conf = Path(slurm_cluster.conf).read_text(encoding="utf-8")
    lines = [ln for ln in conf.splitlines() if not ln.startswith("SlurmctldPort")]
    bad = tmp_path / "slurm.conf"
    bad.write_text("\n".join(lines + ["SlurmctldPort=1"]) + "\n", encoding="utf-8")
    monkeypatch.setenv("SLURM_CONF", str(bad))
    with pytest.raises(SchedulerUnavailable) as exc:
        SlurmAdapter({}).status([JobRef("1", str(tmp_path), "s")])
    assert exc.value.exit_code == 69 and "Unable to contact slurm controller" in str(exc.value)


def test_finished_and_failed_with_exit_code(slurm, tmp_path):
    adapter, runner = slurm
    ok_script, ok_ws = make_step(tmp_path, "ok", "echo hello")
    bad_script, bad_ws = make_step(tmp_path, "bad", "echo failing >&2\nexit 3")
    refs = [JobRef(adapter.submit(ok_script, ok_ws, "ok"), ok_ws, "ok"),
            JobRef(adapter.submit(bad_script, bad_ws, "bad"), bad_ws, "bad")]
    assert all(r.job_id.isdigit() for r in refs)
    mark = len(runner.calls)
    out = wait_for(adapter, refs, all_terminal)
    polls = runner.since(mark)
    assert all(c[:3] == ["scontrol", "show", "job"] for c in polls)   # one call per pass
    ok, bad = out[refs[0].job_id], out[refs[1].job_id]
    assert (ok.state, ok.exit_code) == (S.FINISHED, 0)
    assert ok.started and ok.ended and ok.ended.endswith("Z") and ok.started <= ok.ended
    assert (bad.state, bad.exit_code) == (S.FAILED, 3)
    assert bad.reason == "NonZeroExitCode"
    assert (Path(ok_ws) / "ok.out").read_text().strip() == "hello"    # ran in its workspace


def test_cancelled(slurm, tmp_path):
    adapter, _ = slurm
    script, ws = make_step(tmp_path, "long", "sleep 300")
    ref = JobRef(adapter.submit(script, ws, "long"), ws, "long")
    wait_for(adapter, [ref], lambda st: st[ref.job_id].state == S.RUNNING, timeout=60)
    adapter.cancel([ref])
    out = wait_for(adapter, [ref], all_terminal, timeout=30)
    assert out[ref.job_id].state == S.CANCELLED
    assert out[ref.job_id].exit_code is None
    adapter.cancel([ref])                        # already ended: not an error


def test_find_by_workspace(slurm, tmp_path):
    adapter, _ = slurm
    script, ws = make_step(tmp_path, "held", "true", header="#SBATCH --hold")
    other_script, other_ws = make_step(tmp_path, "held2", "true", header="#SBATCH --hold")
    jid = adapter.submit(script, ws, "held")
    jid2 = adapter.submit(other_script, other_ws, "held2")
    try:
        found = adapter.find([ws, str(tmp_path / "nothing-here")])
        assert [(f.job_id, f.workspace, f.name) for f in found] == [(jid, ws, "held")]
        st = adapter.status([JobRef(jid, ws, "held")])[jid]
        assert st.state == S.PENDING and st.reason == "JobHeldUser"
    finally:
        adapter.cancel([JobRef(jid, ws, "held"), JobRef(jid2, other_ws, "held2")])


def test_200_jobs_one_status_call_per_pass(slurm, tmp_path):
    adapter, runner = slurm
    refs = []
    for i in range(200):
        script, ws = make_step(tmp_path, f"s{i:03d}", f"echo {i}")
        refs.append(JobRef(adapter.submit(script, ws, f"s{i:03d}"), ws, f"s{i:03d}"))
    assert len({r.job_id for r in refs}) == 200
    mark = len(runner.calls)
    passes = 0

    def done(statuses):
        nonlocal passes
        passes += 1
        return all_terminal(statuses)

    out = wait_for(adapter, refs, done, timeout=180, interval=1.0)
    assert len(runner.since(mark)) == passes          # exactly one scheduler call per pass
    assert {(s.state, s.exit_code) for s in out.values()} == {(S.FINISHED, 0)}


# Descriptions that once broke the #SBATCH --comment line, or could (campaign 2, F8): each reaches
# the real sbatch and comes back from squeue as written (line breaks as spaces, " as ').
HOSTILE_DESCRIPTIONS = ["ends with a backslash\\", 'has \\" inside', "a # hash", "%j and %x and %%",
                        "single ' quote", 'double " quote', "unicode é💥", "\\\\two\\\\",
                        "--time=99:00:00 --job-name=x", "$(id) `id`", "two\nlines", "\\"]


def test_hostile_descriptions_reach_sbatch_intact(slurm, tmp_path):
    import yaml

    from mexpand.core import expand
    from mexpand.specload import load_yaml
    from mruntime.scripts import step_scripts

    doc = {"description": {"name": "hostile", "description": "descriptions"},
           "batch": {"type": "slurm", "queue": "debug"},
           "study": [{"name": f"s{i}", "description": text, "run": {"cmd": "true", "procs": 1}}
                     for i, text in enumerate(HOSTILE_DESCRIPTIONS)]}
    text = yaml.safe_dump(doc, allow_unicode=True)
    dag, _ = expand(load_yaml(text, "spec.yaml"), source="spec.yaml", spec_text=text,
                    spec_path=str(tmp_path / "spec.yaml"), specroot=str(tmp_path), cwd=str(tmp_path))
    jobs = {}
    try:
        for step in dag["steps"]:
            ws = tmp_path / step["stem"]
            ws.mkdir()
            (name, body), = step_scripts(step, dag["study"]["batch"], step["cmd"], None)
            (ws / name).write_text(body, encoding="utf-8")
            res = run_command(["sbatch", "--parsable", "--hold", "-D", str(ws), str(ws / name)], cwd=str(ws))
            assert res.returncode == 0, (step["description"], res.stderr)       # F8: "Unmatched '\"'"
            jobs[res.stdout.strip().split(";")[0]] = step["description"]
        for jid, description in jobs.items():
            res = run_command(["squeue", "-h", "-j", jid, "-o", "%k"])
            expected = " ".join(description.splitlines()).replace('"', "'")
            assert res.stdout.rstrip("\n") == expected, (description, res.stdout)
    finally:
        if jobs:
            run_command(["scancel", *jobs])
