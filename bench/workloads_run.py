"""Running studies: local runs to completion, the `maestro run -fg` wrapper, one monitoring pass,
and submission to the real SLURM (issues 4.7, 5.7, 7.6).  Imported at the end of workloads.py.

Every study is rendered by `mexpand SPEC | mrender -o DIR` before the timed command, untimed (in
the Side's command builder, so it counts as set-up overhead), and the baselines run exactly the
scripts mrender wrote:

  local-run       P=200, 1,000 (quick: 1,000) independent trivial steps (gen_study --flat):
                  `mmonitor --loop STUDY` (submits, then polls until all FINISHED) against
                  `xargs -P 2` running the rendered scripts, and Maestro 1.2.1's
                  `maestro run -fg -y -s 0` (P=200; P=1,000 once, full mode only).
                  Target (issue 4.7): ours <= 2x xargs at P=1,000.
  maestro-run-fg  `maestro run -fg -y -o DIR SPEC` (ours, default settings: expand, render, submit,
                  monitor) on the 200-step study (gen_study P=198: prep + 198 sims + post) against a
                  bare shell loop over its rendered scripts in dependency order, and Maestro 1.2.1
                  at -s 1.  Target (issue 7.6): ours <= 1.5x the loop.
  monitor-pass    one `mmonitor --no-submit STUDY` pass over a 100,000-step SLURM study with 1,000
                  jobs RUNNING, a stand-in `scontrol` first on PATH; every SLURM command it runs
                  is counted.  Targets (issue 5.7): under 1 s, exactly 1 scheduler call.
  slurm-submit    `msubmit -t 0 STUDY` of 500 independent SLURM steps to the real local SLURM
                  against a shell loop of `sbatch --parsable -D WS SCRIPT`; our jobs are cancelled
                  and drained after each repeat (untimed).  Target (issue 4.7): ours <= 1.2x the
                  loop.  Skipped with a note when `scontrol ping` does not say UP.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from harness import Case, Context, Run, Side, Target, workload

K = 1000
LOCAL_P = (200, 1 * K)
LOCAL_P_QUICK = (1 * K,)
MAESTRO_LOCAL_FLAGS = ["-fg", "-y", "-s", "0"]
RUN_FG_P = 198                 # gen_study: prep + 198 sims + post = 200 steps
MAESTRO_FG_FLAGS = ["-fg", "-y", "-s", "1"]
MONITOR_P = 100 * K
IN_FLIGHT = 1 * K
ENDED = 10                     # the second monitor-pass row: 10 of the jobs have COMPLETED
FIRST_JOB = 500_000
SUBMIT_P = 500
SLURM_COMMANDS = ("scontrol", "sacct", "squeue", "sbatch", "scancel", "sinfo", "srun")

# xargs -P 2 over the rendered scripts, each in its workspace (as our local runner runs them)
XARGS = ("find run -name '*.sh' -print0 | "
         "xargs -0 -P 2 -n 1 sh -c 'cd \"${0%/*}\" && exec ./\"${0##*/}\" > /dev/null'")
# the same scripts one after another, in dependency order (prep, every sim, post)
SHELL_LOOP = ("for s in prep/*.sh sim/*/*.sh post/*.sh; do "
              "(cd \"${s%/*}\" && exec ./\"${s##*/}\" > /dev/null) || exit 1; done")
# one sbatch per rendered script, as msubmit calls it (-D workspace, absolute script path)
SBATCH_LOOP = ("for s in run/*/*.slurm.sh; do "
               "sbatch --parsable -D \"$PWD/${s%/*}\" \"$PWD/$s\" || exit 1; done")


def render(ctx: Context, spec: Path, root: Path) -> Path:
    """`mexpand SPEC | mrender -o ROOT` (untimed set-up); returns ROOT."""
    root.parent.mkdir(parents=True, exist_ok=True)
    expand = subprocess.Popen([ctx.ours("mexpand"), str(spec)], stdout=subprocess.PIPE, cwd=root.parent)
    done = subprocess.run([ctx.ours("mrender"), "-o", str(root)], stdin=expand.stdout,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=root.parent)
    expand.stdout.close()
    if expand.wait() != 0 or done.returncode != 0:
        raise RuntimeError(f"mexpand {spec.name} | mrender failed: {done.stderr.decode(errors='replace')[-500:]}")
    return root


def _have(ctx: Context, *commands: str) -> bool:
    missing = [c for c in commands if not ctx.available(c)]
    if missing:
        ctx.notes.append(f"skipped: {', '.join(missing)} not available (make install)")
    return not missing


# ---------------------------------------------------------------------------------------------
# local-run (issue 4.7)

@workload("local-run")
def local_run(ctx: Context) -> list[Case]:
    if not _have(ctx, "mexpand", "mrender", "mmonitor"):
        return []
    cases = []
    for p in (LOCAL_P_QUICK if ctx.quick else LOCAL_P):
        spec = ctx.spec(p, flat=True)
        reps = ctx.repeats(5 if p < K else 3, 1)
        maestro = None
        if p == 200 or not ctx.quick:
            maestro = Side(
                f"maestro-run-local/{p}",
                lambda d, s=spec: Run([[ctx.maestro(), "run", *MAESTRO_LOCAL_FLAGS, "-o", str(d / "out"), str(s)]]),
                repeats=ctx.repeats(3 if p < K else 1, 1), needs_maestro=True, writes=True,
                describe=f"maestro run {' '.join(MAESTRO_LOCAL_FLAGS)} -o DIR/out bench_flat_p{p}.yaml "
                         "(maestrowf 1.2.1: expand, render, run one at a time)")
        cases.append(Case(
            workload="local-run", p=p,
            ours=Side(f"mmonitor-loop/{p}",
                      lambda d, s=spec: Run([[ctx.ours("mmonitor"), "--loop", str(render(ctx, s, d / "study"))]]),
                      repeats=reps, writes=True,
                      describe=f"mmonitor --loop STUDY (rendered beforehand: mexpand bench_flat_p{p}.yaml | "
                               "mrender -o STUDY)"),
            maestro=maestro,
            floor=Side(f"xargs-P2/{p}",
                       lambda d, s=spec: Run([["sh", "-c", XARGS]], cwd=render(ctx, s, d / "study")),
                       repeats=reps, writes=True,
                       describe=f"in STUDY: {XARGS}"),
            targets=[Target("issue 4.7: ours <= 2x xargs -P 2", "ours/floor", 2.0, "<=")] if p == K else [],
            reserve=ctx.repeats(8, 0) if p < K else ctx.repeats(25, 12),
        ))
    return cases


# ---------------------------------------------------------------------------------------------
# maestro-run-fg (issue 7.6)

@workload("maestro-run-fg")
def maestro_run_fg(ctx: Context) -> list[Case]:
    if not _have(ctx, "maestro", "mexpand", "mrender"):
        return []
    spec = ctx.spec(RUN_FG_P)
    ctx.notes.append("maestro-run-fg: Maestro 1.2.1 with its default -s 60 is not run (about 120 s for the "
                     "200 steps); its row uses -s 1")
    return [Case(
        workload="maestro-run-fg", p=RUN_FG_P + 2,
        ours=Side("maestro-run-fg/ours",
                  lambda d: Run([[ctx.ours("maestro"), "run", "-fg", "-y", "-o", str(d / "out"), str(spec)]]),
                  repeats=ctx.repeats(5, 3), writes=True,
                  describe=f"maestro run -fg -y -o DIR/out bench_p{RUN_FG_P}.yaml (ours, default settings)"),
        maestro=Side("maestro-run-fg/maestro",
                     lambda d: Run([[ctx.maestro(), "run", *MAESTRO_FG_FLAGS, "-o", str(d / "out"), str(spec)]]),
                     repeats=ctx.repeats(3, 1), needs_maestro=True, writes=True,
                     describe=f"maestro run {' '.join(MAESTRO_FG_FLAGS)} -o DIR/out bench_p{RUN_FG_P}.yaml "
                              "(maestrowf 1.2.1)"),
        floor=Side("shell-loop/200",
                   lambda d: Run([["sh", "-c", SHELL_LOOP]], cwd=render(ctx, spec, d / "study")),
                   repeats=ctx.repeats(5, 3), writes=True,
                   describe=f"in STUDY (rendered beforehand): {SHELL_LOOP}"),
        targets=[Target("issue 7.6: ours <= 1.5x the shell loop", "ours/floor", 1.5, "<=")],
        reserve=ctx.repeats(12, 6),
    )]


# ---------------------------------------------------------------------------------------------
# monitor-pass (issue 5.7)

STANDIN = """#!/bin/sh
# stand-in for {name}: counts the call ({log}), answers as SLURM 22.05 would
printf '%s\\n' "{name} $*" >> '{log}'
{body}
"""
SCONTROL_BODY = """case "$*" in
  "show job -o"*) exec cat '{answer}' ;;
  ping) echo 'Slurmctld(primary) at localhost is UP' ;;
  *) echo "stand-in scontrol: unexpected call: $*" >&2; exit 1 ;;
esac"""
OTHER_BODY = """echo "stand-in {name}: unexpected call: $*" >&2
exit 1"""
# `scontrol show job -o` of SLURM 22.05.8, one line per job (a RUNNING batch job on one node)
SCONTROL_LINE = (
    "JobId={id} JobName={name} UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294900634 Nice=0 "
    "Account=(null) QOS=(null) JobState=RUNNING Reason=None Dependency=(null) Requeue=1 Restarts=0 "
    "BatchFlag=1 Reboot=0 ExitCode=0:0 RunTime=00:05:00 TimeLimit=UNLIMITED TimeMin=N/A "
    "SubmitTime=2026-11-20T08:01:00 EligibleTime=2026-11-20T08:01:00 AccrueTime=2026-11-20T08:01:00 "
    "StartTime=2026-11-20T08:02:00 EndTime=Unknown Deadline=N/A SuspendTime=None SecsPreSuspend=0 "
    "LastSchedEval=2026-11-20T08:02:00 Scheduler=Main Partition=debug AllocNode:Sid=localhost:13827 "
    "ReqNodeList=(null) ExcNodeList=(null) NodeList=localhost BatchHost=localhost NumNodes=1 NumCPUs=1 "
    "NumTasks=1 CPUs/Task=1 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 Socks/Node=* "
    "NtasksPerN:B:S:C=0:0:*:* CoreSpec=* MinCPUsNode=1 MinMemoryNode=0 MinTmpDiskNode=0 Features=(null) "
    "DelayBoot=00:00:00 OverSubscribe=YES Contiguous=0 Licenses=(null) Network=(null) Command={script} "
    "WorkDir={ws} StdErr={ws}/{name}.{id}.err StdIn=/dev/null StdOut={ws}/{name}.{id}.out Power= "
)


def build_monitor_study(ctx: Context) -> Path:
    """A 100,000-step SLURM study (gen_study --slurm), built once per run: dag.json and the
    initial state.json exactly as mrender makes them (through its core), without the 100,000
    workspaces (a pass reads neither), then prep FINISHED and 1,000 sims RUNNING (job ids
    500000..500999).  Also writes the stand-in's answer and a pristine copy of state.json."""
    root = ctx.work / "monitor-study" / "study"
    if (root / "state.orig.json").exists():
        return root
    from datetime import datetime, timezone

    from mrender import core as render_core
    from mshared.contracts import parse_dag
    from mruntime.engine.graph import Graph
    from mshared.statefile import LOCK_FILE, write_state

    spec = ctx.spec(MONITOR_P, slurm=True)
    data = subprocess.run([ctx.ours("mexpand"), str(spec)], stdout=subprocess.PIPE, check=True,
                          cwd=ctx.work).stdout
    dag = parse_dag(data, spec.name)
    plan = render_core.render(dag, root=str(root), settings={}, now=datetime.now(timezone.utc))
    root.mkdir(parents=True)
    files = dict(plan.files)
    (root / "dag.json").write_bytes(files["dag.json"])
    (root / LOCK_FILE).write_bytes(b"")
    state = plan.state
    graph = Graph.from_dag(dag)
    sims = [sid for sid in graph.order if graph.steps[sid]["step"] == "sim"][:IN_FLIGHT]
    if len(sims) != IN_FLIGHT or any(graph.adapter_key(s) != "slurm" for s in sims):
        raise RuntimeError("monitor-pass: the study's sims are not SLURM steps")
    steps = state["steps"]
    steps["prep"].update(state="FINISHED", job_id="4242", jobs=["4242"], attempts=1, exit_code=0,
                         submitted="2026-11-20T08:00:00Z", started="2026-11-20T08:00:00Z",
                         ended="2026-11-20T08:00:01Z")
    lines = []
    for index, sid in enumerate(sims):
        job = str(FIRST_JOB + index)
        steps[sid].update(state="RUNNING", job_id=job, jobs=[job], attempts=1,
                          submitted="2026-11-20T08:01:00Z", started="2026-11-20T08:02:00Z")
        ws = graph.workspace(sid, str(root))
        lines.append(SCONTROL_LINE.format(id=job, name=graph.steps[sid]["stem"], ws=ws,
                                          script=graph.script(sid, str(root), None, False)))
    write_state(root, state, durable=False)
    # the status.csv the previous pass left (a cron pass is rarely a study's first)
    from mshared.statusrows import status_csv
    (root / "status.orig.csv").write_text(status_csv(dag["steps"], state["steps"], datetime.now(timezone.utc)),
                                          encoding="utf-8")
    (root.parent / "scontrol.answer").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ended = [line.replace("JobState=RUNNING", "JobState=COMPLETED").replace(
        "EndTime=Unknown", "EndTime=2026-11-20T08:09:00") for line in lines[:ENDED]]
    (root.parent / f"scontrol.answer-{ENDED}").write_text("\n".join(ended + lines[ENDED:]) + "\n",
                                                          encoding="utf-8")
    shutil.copyfile(root / "state.json", root / "state.orig.json")
    return root


def monitor_fresh(ctx: Context, d: Path, ended: int = 0) -> Path:
    """Before each run (untimed): the pristine state and the status.csv its pass left, no events, stand-ins in d/bin
    (``ended``: the first that many jobs are COMPLETED in the stand-in's answer)."""
    root = build_monitor_study(ctx)
    shutil.copyfile(root / "state.orig.json", root / "state.json")
    shutil.copyfile(root / "status.orig.csv", root / "status.csv")
    (root / "events.jsonl").unlink(missing_ok=True)
    # the state is state.json with its journal applied: the previous repeat's pass appended the ends
    # it applied there, so without this every repeat after the first would find them applied already
    # (emptied, not removed: no deletion between timed runs).  The pass summary it left stays: with
    # nothing ended it describes this very state, and the pass is the quiet pass a cron pass makes.
    journal = root / "changes.jsonl"
    if journal.exists():
        journal.write_bytes(b"")
    bindir = d / "bin"
    bindir.mkdir()
    log = d / "calls.log"
    log.write_text("")
    answer = root.parent / ("scontrol.answer" + (f"-{ended}" if ended else ""))
    for name in SLURM_COMMANDS:
        body = (SCONTROL_BODY.format(answer=answer) if name == "scontrol" else OTHER_BODY.format(name=name))
        path = bindir / name
        path.write_text(STANDIN.format(name=name, log=log, body=body), encoding="utf-8")
        path.chmod(0o755)
    return root


def count_calls(ctx: Context, d: Path) -> dict:
    """Every SLURM command the pass ran (the stand-ins' log), and the events it appended."""
    lines = [ln for ln in (d / "calls.log").read_text().splitlines() if ln.strip()]
    events = build_monitor_study(ctx) / "events.jsonl"
    return {"calls": len(lines), "status_calls": sum(ln.startswith("scontrol show job") for ln in lines),
            "events": len(events.read_bytes().splitlines()) if events.exists() else 0}


@workload("monitor-pass")
def monitor_pass(ctx: Context) -> list[Case]:
    if not _have(ctx, "mexpand", "mmonitor"):
        return []

    def ours(ended: int):
        def command(d: Path) -> Run:
            root = monitor_fresh(ctx, d, ended)
            return Run([[ctx.ours("mmonitor"), "--no-submit", str(root)]],
                       env={"PATH": f"{d / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"})
        return command

    def floor(d: Path) -> Run:
        root = monitor_fresh(ctx, d)
        return Run([[ctx.python(), ctx.bench_script("floor_pass.py"), str(root)]])

    reps = ctx.repeats(5, 2)
    floor_side = Side(f"floor-pass/{MONITOR_P}", floor, repeats=reps,
                      describe="python bench/floor_pass.py STUDY (orjson: read state.json and dag.json, "
                               "write state.json back)")
    cases = []
    for ended in ((0,) if ctx.quick else (0, ENDED)):   # quick: the case only
        what = f"{IN_FLIGHT:,} RUNNING" if not ended else f"{ended} of {IN_FLIGHT:,} COMPLETED"
        cases.append(Case(
            workload="monitor-pass" + (f" {ended} ended" if ended else ""), p=MONITOR_P,
            ours=Side(f"mmonitor-pass/{MONITOR_P}/{ended}", ours(ended), repeats=reps,
                      after=lambda d: count_calls(ctx, d),
                      describe=f"mmonitor --no-submit STUDY (100,000 SLURM steps, {what}; "
                               "stand-in scontrol on PATH)"),
            floor=floor_side,
            targets=[Target("issue 5.7: one pass < 1 s" + (" (a pass that writes)" if ended else ""),
                            "ours_s", 1.0),
                     Target("issue 5.7: exactly 1 scheduler call", "ours_calls", 1, "==")],
            reserve=(ctx.repeats(15, 10) if not ended else 8),   # the first builds the study
        ))
    return cases


# ---------------------------------------------------------------------------------------------
# slurm-submit (issue 4.7)

def slurm_up() -> str | None:
    """None when `scontrol ping` says UP, else why not."""
    try:
        done = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as err:
        return f"scontrol ping: {err}"
    return None if " is UP" in done.stdout else f"scontrol ping: {(done.stdout + done.stderr).strip()[:120]}"


def drain(ids: list[str], timeout: float = 300.0) -> None:
    """Cancel exactly these jobs (never other users' or other tests' jobs) and wait until squeue
    lists none of them (untimed)."""
    if not ids:
        return
    for chunk in range(0, len(ids), 200):
        subprocess.run(["scancel", "--quiet", *ids[chunk:chunk + 200]], capture_output=True, timeout=120)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids)], capture_output=True,
                              text=True, timeout=60)
        if done.returncode == 0 and not done.stdout.strip():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{len(ids)} jobs still in squeue after {timeout:.0f} s")


def _ours_ids(d: Path) -> list[str]:
    """The job ids msubmit recorded: state.json with its journal applied (a pass records its
    submissions as journal lines, not by rewriting state.json)."""
    from mshared.statefile import read_state

    if not (d / "study" / "state.json").exists():
        return []
    steps = read_state(str(d / "study"))["steps"]
    return [e["job_id"] for e in steps.values() if e.get("job_id")]


def _loop_ids(d: Path) -> list[str]:
    path = d / "ids.txt"
    if not path.exists():
        return []
    return [ln.split(";")[0].strip() for ln in path.read_text().splitlines() if ln.strip()]


def submitted(ids_of):
    """After each run: cancel and drain the jobs it submitted; it must have submitted all of them."""
    def after(d: Path) -> dict:
        ids = ids_of(d)
        drain(ids)
        if len(ids) != SUBMIT_P:
            raise RuntimeError(f"{len(ids)} jobs submitted, expected {SUBMIT_P}")
        return {"jobs": len(ids)}
    return after


@workload("slurm-submit")
def slurm_submit(ctx: Context) -> list[Case]:
    if not _have(ctx, "mexpand", "mrender", "msubmit"):
        return []
    problem = slurm_up()
    if problem:
        ctx.notes.append(f"skipped slurm-submit: SLURM is not running ({problem}); `make slurm-up` starts it")
        return []
    spec = ctx.spec(SUBMIT_P, flat=True, slurm=True, cmd="true $(X)")
    reps = ctx.repeats(3, 1)
    return [Case(
        workload="slurm-submit", p=SUBMIT_P,
        ours=Side(f"msubmit-slurm/{SUBMIT_P}",
                  lambda d: Run([[ctx.ours("msubmit"), "-t", "0", str(render(ctx, spec, d / "study"))]]),
                  repeats=reps, writes=True, after=submitted(_ours_ids),
                  describe=f"msubmit -t 0 STUDY ({SUBMIT_P} steps, batch slurm, procs: 1, `true $(X)`)"),
        floor=Side(f"sbatch-loop/{SUBMIT_P}",
                   lambda d: Run([["sh", "-c", SBATCH_LOOP]], cwd=render(ctx, spec, d / "study"),
                                 stdout=str(d / "ids.txt")),
                   repeats=reps, writes=True, after=submitted(_loop_ids),
                   describe=f"in STUDY: {SBATCH_LOOP}"),
        targets=[Target("issue 4.7: ours <= 1.2x the sbatch loop", "ours/floor", 1.2, "<=")],
        reserve=ctx.repeats(15, 10),
    )]
