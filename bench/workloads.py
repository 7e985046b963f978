"""The benchmark workloads.  Add one with a function returning Cases, decorated with @workload.

Every command runs in a fresh temporary directory (its cwd), which is removed after each repeat;
the study spec comes from bench/gen_study.py (prep -> sim (P combinations) -> post (funnel)).
Planned (later issues): local run to completion (P = 200, 1,000), status/report (10k, 100k), one
monitoring pass (100k steps), start-up of every command, submission to a running SLURM.
"""

from __future__ import annotations

from harness import Case, Context, Run, Side, Target, full_only, workload

K = 1000
EXPAND_P = (1 * K, 10 * K, 100 * K)
RENDER_P = (1 * K, 10 * K, 100 * K)
RENDER_P_QUICK = (1 * K, 10 * K)
MAESTRO_DRY_P = (1 * K, 10 * K)       # Maestro's dry run takes minutes beyond 10,000
MAESTRO_DRY_FLAGS = ["--dry", "-fg", "-y", "-s", "1"]
STARTUP_COMMANDS = ("mexpand", "mrender", "msubmit", "mmonitor", "mreport", "maestro")


def maestro_dry(ctx: Context, p: int) -> Side | None:
    """`maestro run --dry -fg -y -s 1 -o DIR/out SPEC` (maestrowf 1.2.1, its own venv): expand + render."""
    if p not in MAESTRO_DRY_P:
        return None
    spec = ctx.spec(p)
    return Side(
        key=f"maestro-dry/{p}",
        command=lambda d: Run([[ctx.maestro(), "run", *MAESTRO_DRY_FLAGS, "-o", str(d / "out"), str(spec)]]),
        repeats=ctx.repeats(3, 1),
        needs_maestro=True,
        writes=True,
        describe=f"maestro run {' '.join(MAESTRO_DRY_FLAGS)} -o DIR/out bench_p{p}.yaml",
    )


@workload("expand")
def expand(ctx: Context) -> list[Case]:
    if not ctx.available("mexpand"):
        ctx.notes.append("skipped expand: mexpand not available (make install)")
        return []
    cases = []
    for p in EXPAND_P:
        spec = ctx.spec(p)
        slow = p >= 100 * K
        cases.append(Case(
            workload="expand",
            p=p,
            ours=Side(f"mexpand/{p}", lambda d, s=spec: Run([[ctx.ours("mexpand"), str(s)]]),
                      repeats=ctx.repeats(3 if slow else 5, 1 if slow else 3),
                      describe=f"mexpand bench_p{p}.yaml > /dev/null"),
            maestro=maestro_dry(ctx, p),
            floor=Side(f"floor-expand/{p}",
                       lambda d, s=spec: Run([[ctx.python(), ctx.bench_script("floor_expand.py"), str(s)]]),
                       repeats=ctx.repeats(3 if slow else 5, 1 if slow else 3),
                       describe=f"python bench/floor_expand.py bench_p{p}.yaml > /dev/null"),
            targets=[Target("issue 2: time < 5 s", "ours_s", 5.0),
                     Target("issue 2: peak < 1 GB", "ours_mb", 1024.0)] if p == 100 * K else [],
        ))
    return cases


@workload("startup")
def startup(ctx: Context) -> list[Case]:
    cases = []
    for command in STARTUP_COMMANDS:
        if not ctx.available(command):
            ctx.notes.append(f"skipped startup of {command}: not available")
            continue
        cases.append(Case(
            workload=f"startup {command}",
            p=None,
            ours=Side(f"startup-ours/{command}", lambda d, c=command: Run([[ctx.ours(c), "--help"]]),
                      repeats=ctx.repeats(10, 5), warmup=True, describe=f"{command} --help"),
            maestro=Side("startup/maestro", lambda d: Run([[ctx.maestro(), "--help"]]),
                         repeats=ctx.repeats(10, 5), warmup=True, needs_maestro=True,
                         describe="maestro --help (maestrowf 1.2.1)"),
            floor=Side("startup/python", lambda d: Run([[ctx.python(), "-c", "pass"]]),
                       repeats=ctx.repeats(10, 5), warmup=True, describe="python -c pass"),
            targets=[Target("issue 2: start-up < 0.2 s", "ours_s", 0.2)] if command == "mexpand" else [],
        ))
    return cases


@workload("render")
def expand_render(ctx: Context) -> list[Case]:
    """expand+render against Maestro's dry run and floor_render.

    Without a working mrender the rows still show Maestro and the floor (the headroom), ours '-'.
    """
    have_ours = ctx.available("mexpand") and ctx.available("mrender")
    if not have_ours:
        ctx.notes.append("skipped: mrender not available (`mrender --help` must exit 0); "
                         "expand+render rows show only Maestro and the floor")
    cases = []
    for p in (RENDER_P_QUICK if ctx.quick else RENDER_P):
        spec = ctx.spec(p)
        slow = p >= 100 * K
        targets = []
        if p == 10 * K:
            targets.append(Target("issue 3: within 3x floor", "ours/floor", 3.0))
        if p == 100 * K:
            targets.append(Target("issue 3: time < 15 s", "ours_s", 15.0))
        ours = Side(f"mexpand|mrender/{p}",
                    lambda d, s=spec: Run([[ctx.ours("mexpand"), str(s)], [ctx.ours("mrender"), "-o", str(d / "out")]]),
                    repeats=ctx.repeats(3 if slow else 5, 1 if slow else 3), writes=True,
                    describe=f"mexpand bench_p{p}.yaml | mrender -o DIR/out")
        cases.append(Case(
            workload="expand+render",
            p=p,
            ours=ours if have_ours else None,
            maestro=maestro_dry(ctx, p),
            floor=Side(f"floor-render/{p}",
                       lambda d, s=spec: Run([[ctx.python(), ctx.bench_script("floor_render.py"), str(s), str(d / "out")]]),
                       repeats=ctx.repeats(3 if slow else 5, 1 if slow else 3), writes=True,
                       describe=f"python bench/floor_render.py bench_p{p}.yaml DIR/out"),
            targets=targets if have_ours else [],
        ))
    return cases


# Workloads kept in their own modules register themselves on import (after the ones above).
import bench_report  # noqa: E402,F401  (issue 6: mreport at 100k, and against `maestro status`)

full_only("report")  # builds (and afterwards deletes) a rendered 100k-step study: minutes on a busy disk
import workloads_run  # noqa: E402,F401  (issues 4.7, 5.7, 7.6: local runs, maestro run -fg, one pass, SLURM)
import workloads_scale  # noqa: E402,F401  (issue 16: 2,000 to 1,000,000 instances)
import workloads_reuse  # noqa: E402,F401  (issue 19: planning a reuse at 100k, a re-run of one changed value)
import bench_extend  # noqa: E402,F401  (issue 18: mextend into a running loop, a 100-round loop in one study)
import workloads_bundle  # noqa: E402,F401  (issue 17: bundles against one job per step, xargs in one allocation, 100k)
