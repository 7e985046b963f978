"""Bundles on the real SLURM (issue 17, item 6).  Imported at the end of workloads.py.

  bundle-e2e       1,000 (quick: 200) trivial SLURM steps (gen_study --flat --slurm) with a bundle
                   block (1 node, 10 min, 2 allocations, linger 5, margin 5): `maestro run -fg -y
                   -s 1` end to end, against the same spec with `--no-bundle` (one sbatch per
                   step).  Best of 3 bundled; the job-per-step side runs once (minutes).  Target:
                   bundles at least 20x faster (ours/floor <= 0.05).  Steps/s printed beside the
                   published anchors.
  bundle-dispatch  inside ONE allocation (one sbatch job running bench/bundle_dispatch.py), the
                   same 1,000 (quick: 300) trivial step scripts run by `xargs -P <cores>` and by the
                   real bundle worker on tickets, interleaved, best of 3 each, fresh directories.
                   Target: worker <= 1.25x xargs.  A worker that misses it is profiled (cProfile)
                   in the same allocation.
  bundle-scale     a 100,000-step (quick: 20,000) bundled study (1 allocation of 1 node), started
                   by msubmit; while steps finish, single `mmonitor STUDY` passes, `mreport STUDY`
                   and `mreport --format json STUDY` are timed (bench/bundle_scale.py), then the
                   study is cancelled and its allocation made to end.  Targets: every pass under
                   1 s (those that rewrite status.csv too), every mreport under 1.5 s.

Each is skipped with a note unless `scontrol ping` says UP.  Jobs are cancelled only by the ids
the repeat itself submitted (never `scancel -u`: other tests share this SLURM).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from harness import Case, Context, Run, Side, Target, workload
from workloads_run import _have, render, slurm_up

K = 1000
E2E_P, E2E_P_QUICK = 1 * K, 200
DISPATCH_P, DISPATCH_P_QUICK = 1 * K, 300
SCALE_P, SCALE_P_QUICK = 100 * K, 20 * K
FG = ["-fg", "-y", "-s", "1"]
# issue 17: published dispatch rates of trivial tasks (clusters, not this VM)
ANCHORS = "Parsl HTEX 1,181 tasks/s, RADICAL-Pilot+Flux 930 tasks/s, one srun per step ~152 tasks/s"
E2E_BUNDLE = {"nodes": 1, "walltime": '"00:10:00"', "allocations": 2, "linger": 5, "margin": 5}
# cores 1: the VM's other core is the monitor's, as a login node is apart from the compute nodes
SCALE_BUNDLE = {"nodes": 1, "walltime": '"00:30:00"', "allocations": 1, "cores": 1, "linger": 5, "margin": 5}


def bundled_spec(ctx: Context, p: int, bundle: dict, name: str) -> Path:
    """gen_study's flat SLURM study of P trivial steps with a bundle block on top (once per run)."""
    from gen_study import study_text

    path = ctx.work / "specs" / f"{name}_p{p}.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        block = "bundle:\n" + "".join(f"  {key}: {value}\n" for key, value in bundle.items()) + "\n"
        path.write_text(block + study_text(p, flat=True, slurm=True), encoding="utf-8")
    return path


def in_squeue(ids: list[str]) -> list[str]:
    if not ids:
        return []
    out = []
    for chunk in range(0, len(ids), 200):
        done = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids[chunk:chunk + 200])],
                              capture_output=True, text=True, timeout=60)
        out += done.stdout.split() if done.returncode == 0 else []
    return out


def end_jobs(ids: list[str], grace: float) -> int:
    """Wait up to ``grace`` s for these jobs (ours) to leave squeue, then scancel those left, by id,
    and wait for them; returns how many had to be cancelled."""
    deadline = time.monotonic() + grace
    left = in_squeue(ids)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = in_squeue(left)
    if left:
        for chunk in range(0, len(left), 200):
            subprocess.run(["scancel", "--quiet", *left[chunk:chunk + 200]], capture_output=True, timeout=120)
        deadline = time.monotonic() + 120
        while in_squeue(left) and time.monotonic() < deadline:
            time.sleep(0.5)
    return len(left)


def allocation_ids(study: Path) -> list[str]:
    path = study / "meta" / "bundle" / "allocations.json"
    if not path.exists():
        return []
    return [r["job_id"] for r in json.loads(path.read_bytes()).get("allocations", []) if r.get("job_id")]


def step_job_ids(study: Path) -> list[str]:
    if not (study / "state.json").exists():
        return []
    from mshared.statefile import read_state

    return [j for e in read_state(study)["steps"].values() for j in (e.get("jobs") or [e.get("job_id")]) if j
            and not str(j).startswith("b-")]


def timeline(study: Path, epoch: float, wall: float) -> str:
    """When a bundled run got where, in seconds from its start (file modification times): the
    study rendered, the first tickets and allocations, the first step claimed, the last one done."""
    bundle = study / "meta" / "bundle"

    def times(directory: Path, pattern: str = "*") -> list[float]:
        return [p.stat().st_mtime - epoch for p in directory.glob(pattern)] if directory.is_dir() else []

    marks = [("rendered", times(study, "dag.json"), min), ("tickets", times(bundle / "tickets"), min),
             ("allocations submitted", times(bundle / "alloc", "*/allocation.*"), min),
             ("first step claimed", times(bundle / "claims"), min), ("last step done", times(bundle / "done"), max)]
    done = [f"{name} {pick(values):.2f} s" for name, values, pick in marks if values]
    return ", ".join(done + [f"returned {wall:.2f} s"])


class LiveNote:
    """A line of the report's notes that a workload rewrites as its runs come in."""

    def __init__(self, ctx: Context, text: str):
        self.ctx, self.index = ctx, len(ctx.notes)
        ctx.notes.append(text)

    def set(self, text: str) -> None:
        self.ctx.notes[self.index] = text


def _skip(ctx: Context, name: str, *commands: str) -> bool:
    if not _have(ctx, *commands):
        return True
    problem = slurm_up()
    if problem:
        ctx.notes.append(f"skipped {name}: SLURM is not running ({problem}); `make slurm-up` starts it")
        return True
    return False


# ---------------------------------------------------------------------------------------------
# bundle-e2e

@workload("bundle-e2e", quick=False)
def bundle_e2e(ctx: Context) -> list[Case]:
    if _skip(ctx, "bundle-e2e", "maestro", "mexpand", "mrender"):
        return []
    p = E2E_P_QUICK if ctx.quick else E2E_P
    spec = bundled_spec(ctx, p, E2E_BUNDLE, "bundle_e2e")
    runs = {"ours": [], "floor": []}
    started = {}
    timelines = []
    note = LiveNote(ctx, f"bundle-e2e P={p:,}: not run")

    def command(side: str, extra: list[str]):
        def build(d: Path) -> Run:
            os.sync()     # (as Side.writes would, but before the mark) the last run's writes stay out of this one
            started[side] = time.perf_counter()       # the harness starts timing right after
            started[side + "-epoch"] = time.time()    # (file times below are on this clock)
            return Run([[ctx.ours("maestro"), "run", *FG, *extra, "-o", str(d / "out"), str(spec)]], timeout=1500)
        return build

    def after(side: str):
        def clean(d: Path) -> dict:
            wall = time.perf_counter() - started.pop(side, time.perf_counter())
            study = d / "out"
            ids = allocation_ids(study) if side == "ours" else step_job_ids(study)
            cancelled = end_jobs(ids, grace=30 if side == "ours" else 5)
            finished = 0
            if (study / "state.json").exists():
                from mshared.statefile import read_state

                finished = sum(e["state"] == "FINISHED" for e in read_state(study)["steps"].values())
            if finished != p:
                raise RuntimeError(f"{finished} of {p} steps FINISHED")
            runs[side].append(wall)
            if side == "ours":
                timelines.append((wall, timeline(study, started.pop("ours-epoch"), wall)))
            update()
            return {"steps_per_s": round(p / wall, 1), "jobs": len(ids), "cancelled_after": cancelled}
        return clean

    def update() -> None:
        parts = [f"bundle-e2e P={p:,} (maestro run {' '.join(FG)}, wall time end to end):"]
        if runs["ours"]:
            best = min(runs["ours"])
            parts.append(f"bundled best {best:.2f} s = {p / best:.0f} steps/s (n={len(runs['ours'])}; its "
                         f"timeline: {min(timelines)[1]});")
        if runs["floor"]:
            best = min(runs["floor"])
            parts.append(f"one job per step (--no-bundle) {best:.1f} s = {p / best:.1f} steps/s "
                         f"(n={len(runs['floor'])}: it takes minutes, so it runs once);")
        if runs["ours"] and runs["floor"]:
            parts.append(f"bundles {min(runs['floor']) / min(runs['ours']):.1f}x faster (target >= 20x);")
        parts.append(f"published anchors: {ANCHORS}")
        note.set(" ".join(parts))

    return [Case(
        workload="bundle-e2e", p=p,
        ours=Side(f"bundle-e2e/{p}", command("ours", []), repeats=3, after=after("ours"),
                  describe=f"maestro run {' '.join(FG)} -o DIR/out bundle_e2e_p{p}.yaml (flat, procs: 1, batch "
                           "slurm; bundle: nodes 1, walltime 10 min, allocations 2, linger 5, margin 5)"),
        floor=Side(f"no-bundle-e2e/{p}", command("floor", ["--no-bundle"]), repeats=1,
                   after=after("floor"),
                   describe=f"maestro run {' '.join(FG)} --no-bundle -o DIR/out bundle_e2e_p{p}.yaml "
                            "(one sbatch per step)"),
        targets=[Target("issue 17.6: bundles >= 20x faster than one job per step (ours/floor <= 0.05)",
                        "ours/floor", 0.05, "<=")],
        best=True,
        reserve=ctx.repeats(150, 45), extra_budget=ctx.repeats(150, 45),   # the job-per-step side: ~2 min
    )]


# ---------------------------------------------------------------------------------------------
# bundle-dispatch

DISPATCH_SCRIPT = """#!/bin/bash
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --exclusive
#SBATCH --partition=debug
#SBATCH --time=00:20:00
#SBATCH --job-name=bench-bundle-dispatch
#SBATCH --output={d}/allocation.out
#SBATCH --error={d}/allocation.err
cd {d} || exit 1
exec {python} {script} {d}/runs --steps {steps} --rounds 3
"""


# submit, then wait until squeue no longer lists the job (its id on stdout)
WAIT_FOR_JOB = ('id=$(sbatch --parsable "$1") || exit 1; echo "$id"; '
                'while [ -n "$(squeue -h -o %i -j "${id%;*}" 2>/dev/null)" ]; do sleep 0.5; done')


@workload("bundle-dispatch", quick=False)
def bundle_dispatch(ctx: Context) -> list[Case]:
    if _skip(ctx, "bundle-dispatch"):
        return []
    p = DISPATCH_P_QUICK if ctx.quick else DISPATCH_P
    note = LiveNote(ctx, f"bundle-dispatch P={p:,}: not run")

    def command(d: Path) -> Run:
        script = d / "dispatch.sbatch"
        script.write_text(DISPATCH_SCRIPT.format(d=d, python=ctx.python(), steps=p,
                                                 script=ctx.bench_script("bundle_dispatch.py")))
        # (not sbatch --wait: it polls the job at growing intervals, tens of seconds)
        return Run([["sh", "-c", WAIT_FOR_JOB, "sh", str(script)]], stdout=str(d / "job.txt"), timeout=1200)

    def after(d: Path) -> dict:
        job = (d / "job.txt").read_text().split(";")[0].strip() if (d / "job.txt").exists() else ""
        end_jobs([job] if job else [], grace=5)
        path = d / "runs" / "dispatch.json"
        if not path.exists():
            err = (d / "allocation.err").read_text()[-600:] if (d / "allocation.err").exists() else ""
            raise RuntimeError(f"no {path.name} from allocation {job}: {err}")
        doc = json.loads(path.read_text())
        text = (f"bundle-dispatch P={p:,}, inside one allocation (job {doc['job']}, {doc['cores']} cores), best of "
                f"{doc['rounds']} each, interleaved: worker {doc['worker_s']:.3f} s = {doc['worker_steps_per_s']:.0f} "
                f"steps/s (to its last done record; medians {doc['worker_median_s']:.3f}), xargs -P {doc['cores']} "
                f"{doc['xargs_s']:.3f} s = {doc['xargs_steps_per_s']:.0f} steps/s "
                f"(median {doc['xargs_median_s']:.3f}); worker/xargs {doc['worker/xargs']:.2f} (target <= 1.25); "
                f"published anchors: {ANCHORS}; every run (s): "
                f"worker {[round(r['s'], 3) for r in doc['runs']['worker']]}, "
                f"xargs {[round(r['s'], 3) for r in doc['runs']['xargs']]}")
        if doc.get("profile"):
            top = ", ".join(f"{e['function']} {e['tottime_s']:.3f} s" for e in doc["profile"]["top_tottime"][:6])
            text += (f"\n  worker profiled (cProfile, one more run in the allocation, {doc['profile']['s']:.3f} s to "
                     f"its last done record): top own time: {top}; full listing: runs/profile.txt in the "
                     "run's directory (kept with --keep, under set-aside/)")
        note.set(text)
        return {"worker_s": round(doc["worker_s"], 4), "xargs_s": round(doc["xargs_s"], 4),
                "worker/xargs": round(doc["worker/xargs"], 3),
                "worker_steps_per_s": round(doc["worker_steps_per_s"], 1),
                "xargs_steps_per_s": round(doc["xargs_steps_per_s"], 1)}

    return [Case(
        workload="bundle-dispatch", p=p,
        ours=Side(f"bundle-dispatch/{p}", command, repeats=1, after=after,
                  describe=f"sbatch, wait until squeue drops it: one allocation running bench/bundle_dispatch.py "
                           f"DIR --steps {p} "
                           "(xargs -P CORES and the bundle worker, 3 rounds each, interleaved; the row's time is "
                           "the whole allocation's, the figures are under 'Counted')"),
        targets=[Target("issue 17.6: worker <= 1.25x xargs -P <cores> in one allocation", "ours_worker/xargs",
                        1.25, "<=")],
        reserve=ctx.repeats(40, 20), extra_budget=ctx.repeats(40, 20),
    )]


# ---------------------------------------------------------------------------------------------
# bundle-scale

@workload("bundle-scale", quick=False)
def bundle_scale(ctx: Context) -> list[Case]:
    if _skip(ctx, "bundle-scale", "mexpand", "mrender", "msubmit", "mmonitor", "mreport", "maestro"):
        return []
    p = SCALE_P_QUICK if ctx.quick else SCALE_P
    rounds = ctx.repeats(6, 4)
    spec = bundled_spec(ctx, p, SCALE_BUNDLE, "bundle_scale")
    note = LiveNote(ctx, f"bundle-scale P={p:,}: not run")

    def command(d: Path) -> Run:
        study = render(ctx, spec, d / "study")
        return Run([[ctx.python(), ctx.bench_script("bundle_scale.py"), str(study), "--rounds", str(rounds),
                     "--json", str(d / "scale.json")]], timeout=1800)

    def after(d: Path) -> dict:
        path = d / "scale.json"
        left = end_jobs(allocation_ids(d / "study"), grace=5)     # normally ended by the driver already
        if not path.exists():
            raise RuntimeError("no scale.json")
        doc = json.loads(path.read_text())
        if "pass" not in doc:
            raise RuntimeError(f"no pass measured: {json.dumps(doc)[:400]}")
        figures = {"pass_max_s": doc["pass"]["max_s"], "pass_median_s": doc["pass"]["median_s"],
                   "csv_pass_max_s": doc["csv_pass"]["max_s"], "csv_pass_median_s": doc["csv_pass"]["median_s"],
                   "report_max_s": doc["report"]["max_s"], "report_median_s": doc["report"]["median_s"],
                   "json_max_s": doc["json"]["max_s"], "json_median_s": doc["json"]["median_s"],
                   "submit_s": doc["submit"]["s"], "done_at_end": doc.get("done_at_end", 0),
                   "loop_pass_max_s": doc["loop"]["max_s"], "loop_pass_median_s": doc["loop"]["median_s"],
                   "allocation_left": len(doc["cancel"].get("left", [])) + left}
        rows = doc["rounds"]

        def cpu(key: str) -> float:
            return statistics.median(r[key]["cpu_s"] for r in rows)

        note.set(
            f"bundle-scale P={p:,}, {len(rows)} rounds while steps finished ({rows[0]['done_before']:,} -> "
            f"{doc.get('done_at_end', 0):,} done): one pass (mmonitor STUDY) median {doc['pass']['median_s']:.2f} s, "
            f"max {doc['pass']['max_s']:.2f} s, one that rewrites status.csv median "
            f"{doc['csv_pass']['median_s']:.2f} s, max {doc['csv_pass']['max_s']:.2f} s (target < 1 s); a loop's passes (as maestro run's conductor) "
            f"median {doc['loop']['median_s']:.3f} s, max {doc['loop']['max_s']:.3f} s (its first, reading the "
            f"study, {doc['loop']['first_s']:.2f} s); mreport median {doc['report']['median_s']:.2f} s, "
            f"max {doc['report']['max_s']:.2f} s; mreport --format json median {doc['json']['median_s']:.2f} s, "
            f"max {doc['json']['max_s']:.2f} s (target < 1.5 s); the first pass (msubmit: {p:,} tickets and the "
            f"allocation) {doc['submit']['s']:.2f} s; cancelled by maestro cancel in "
            f"{doc['cancel']['cancel_s']:.1f} s, "
            f"allocation gone after {doc['cancel']['ended_after_s']:.1f} s"
            + (f" (scancelled {doc['cancel']['scancelled']})" if doc["cancel"].get("scancelled") else "")
            + f"; CPU time (user+sys) medians: pass {cpu('pass'):.2f} s, mreport {cpu('report'):.2f} s, "
              f"--format json {cpu('json'):.2f} s"
            + (f"\n  a pass profiled (cProfile, one more pass after the rounds, {doc['profile']['s']:.2f} s): "
               + ", ".join(f"{e['function']} {e['cumtime_s']:.2f} s" for e in doc["profile"]["cumulative"][:10])
               + "; full listing: profile-pass.txt in the run's directory (kept with --keep, under set-aside/)"
               if doc.get("profile") else ""))
        return figures

    return [Case(
        workload="bundle-scale", p=p,
        ours=Side(f"bundle-scale/{p}", command, repeats=1, writes=True, after=after,
                  describe=f"python bench/bundle_scale.py STUDY --rounds {rounds} (STUDY: bundle_scale_p{p}.yaml "
                           "rendered beforehand; msubmit, then per round one mmonitor pass, one that rewrites "
                           "status.csv, mreport, mreport "
                           "--format json, each timed; then maestro cancel; the row's time is the whole "
                           "scenario's, the figures are under 'Counted')"),
        targets=[Target("issue 17.6: each monitoring pass < 1 s while it runs (single passes, cron)", "ours_pass_max_s", 1.0),
                 Target("issue 17.6: each monitoring pass < 1 s while it runs (single passes rewriting status.csv)",
                        "ours_csv_pass_max_s", 1.0),
                 Target("issue 17.6: each monitoring pass < 1 s while it runs (a loop's, after its first)",
                        "ours_loop_pass_max_s", 1.0),
                 Target("issue 17.6: mreport < 1.5 s while it runs", "ours_report_max_s", 1.5),
                 Target("issue 17.6: mreport --format json < 1.5 s while it runs", "ours_json_max_s", 1.5)],
        # rendering 100,000 workspaces, the first pass, the rounds, and a cancel of 80,000 tickets
        reserve=ctx.repeats(240, 60), extra_budget=ctx.repeats(240, 60),
    )]
