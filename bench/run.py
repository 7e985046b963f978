#!/usr/bin/env python3
"""Run the benchmarks (bench/README.md) and print one table; results also go to bench/results.json.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...] [--plot | --no-plot]

Progress goes to stderr, the report to stdout.  Exit status: 0, or 1 when a measured command
failed (or, with --strict, when a target was missed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import workloads  # noqa: E402,F401  (registers the workloads)
from figures import check_targets, fmt_s, row_figures, scaling, scaling_text, table  # noqa: E402
from harness import (BENCH, PARITY_VENV, ROOT, Context, SideResult, ensure_bench_venv,  # noqa: E402
                     ensure_parity_venv)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv):
    names = [name for name, _ in harness.WORKLOADS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (under 2 minutes)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=names,
                        help=f"run only these workloads ({', '.join(names)})")
    parser.add_argument("--plot", dest="plot", action="store_true", default=None,
                        help="save bench/scaling.png (default: on unless --quick); installs matplotlib "
                             "into .bench-venv when needed")
    parser.add_argument("--no-plot", dest="plot", action="store_false")
    parser.add_argument("--json", default=str(BENCH / "results.json"), help="where to write the results")
    parser.add_argument("--workdir", help="scratch directory (default: a new temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (the specs)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--list", action="store_true", help="list the cases and their commands, run nothing")
    parser.add_argument("--budget", type=float, metavar="SECONDS",
                        help="stop repeating once this much time has passed (default 660, quick 90, plus "
                             "what the SLURM bundle rows add); every side still runs at least once")
    args = parser.parse_args(argv)
    if args.plot is None:
        args.plot = not args.quick
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    work = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="maestro-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    budget = args.budget if args.budget is not None else (90.0 if args.quick else 660.0)
    ctx = Context(quick=args.quick, work=work, deadline=started + budget)
    try:
        return run(args, ctx, started)
    finally:
        if args.keep:
            log(f"scratch directory kept: {work}")
        else:
            log("removing the scratch directory...")
            shutil.rmtree(work, ignore_errors=True)


def run(args, ctx: Context, started: float) -> int:
    cases = []
    for name, func in harness.WORKLOADS:
        if args.only and name not in args.only:
            continue
        if ctx.quick and not args.only and name in harness.FULL_ONLY:
            ctx.notes.append(f"skipped {name} in quick mode (too slow for it; run --only {name} --quick)")
            continue
        cases.extend(func(ctx))
    if args.budget is None and ctx.deadline is not None:   # rows that wait on a real scheduler bring their time
        ctx.deadline += sum(case.extra_budget for case in cases)
    if args.list:
        for case in cases:
            for side_name, side in case.sides():
                print(f"{case.label:28} {side_name:8} x{side.repeats:<3} {side.describe}")
        for note in ctx.notes:
            print(note)
        return 0

    maestro_problem = None
    if any(side.needs_maestro for case in cases for _, side in case.sides()):
        maestro_problem = ensure_parity_venv(log)
        if maestro_problem:
            ctx.notes.append(f"skipped Maestro baselines: {maestro_problem}")

    results: dict[str, SideResult] = {}
    loads = [os.getloadavg()[0]]
    creation = [creation_cost(ctx)]
    budget_end = ctx.deadline
    for index, case in enumerate(cases):
        if budget_end is not None:  # leave the later cases the time they reserve
            ctx.deadline = budget_end - sum(later.reserve for later in cases[index + 1:])
        log(f"{case.label}")
        loads.append(os.getloadavg()[0])
        todo = []
        for side_name, side in case.sides():
            if side.key in results or side in todo:
                continue
            if side.needs_maestro and maestro_problem:
                results[side.key] = SideResult(side.key, side.describe, skipped=maestro_problem)
                continue
            todo.append(side)
        for key, res in harness.measure_sides(todo, ctx, log).items():   # interleaved repeats
            results[key] = res
            if res.error:
                log(f"    {key}: ERROR: {res.error}")

    rows = [(case, row_figures(case, results)) for case in cases]
    checks = [c for case, fig in rows for c in check_targets(case, fig)]
    growth = scaling(rows)
    elapsed = time.perf_counter() - started
    loads.append(os.getloadavg()[0])
    creation.append(creation_cost(ctx))
    meta = metadata(ctx, args, elapsed)
    meta["load_average_1min"] = {"start": loads[0], "max": max(loads), "end": loads[-1]}
    meta["file_creation_us"] = {"start": creation[0], "end": creation[-1]}

    print(report(rows, checks, growth, results, ctx, meta))
    write_json(args.json, meta, rows, checks, growth, results)
    if args.plot:
        plot(args.json)

    failed = [r for r in results.values() if r.error]
    missed = [c for c in checks if c["status"] == "FAIL"]
    return 1 if failed or (args.strict and missed) else 0


def report(rows, checks, growth, results, ctx, meta) -> str:
    out = [f"Benchmarks ({'quick' if ctx.quick else 'full'} mode), {meta['cpus']} CPUs, "
           f"{meta['date']}, commit {meta['commit'] or '?'}; medians of n runs "
           "(n = ours/Maestro/floor); time in seconds, peak resident memory in MB", ""]
    out.append(table(rows))
    vs = [(case, fig) for case, fig in rows if fig.get("ours_s") is not None and fig.get("maestro_s") is not None]
    if vs:
        out += ["", "Against maestrowf 1.2.1:"]
        for case, fig in vs:
            ratio = fig["ours/maestro"]
            verdict = (f"ours/Maestro {ratio:.3f} ({1 / ratio:.{0 if ratio < 0.1 else 1}f}x faster)" if ratio < 0.95
                       else f"ours/Maestro {ratio:.2f}")
            out.append(f"  {case.label}: {fmt_s(fig['ours_s'])} s vs {fmt_s(fig['maestro_s'])} s "
                       f"({case.maestro.describe}): {verdict}")
    counted = [(case, name, res) for case, _ in rows for name, side in case.sides()
               for res in [results.get(side.key)] if res and res.extras]
    if counted:
        out += ["", "Counted after each run (largest over the runs):"]
        for case, name, res in counted:
            keys = sorted({k for e in res.extras for k in e})
            out.append(f"  {case.label} [{name}]: " + ", ".join(f"{k} {res.extra(k):g}" for k in keys
                                                              if res.extra(k) is not None))
    if checks:
        out += ["", "Targets:"]
        for c in checks:
            value = "-" if c["value"] is None else (f"{c['value']:.3g}")
            out.append(f"  {c['status']:4}  {c['case']}: {c['target']} (measured {value})")
    if growth:
        out += ["", "Scaling (median time; ratio per step of P; flagged when above x15 per 10x of P):",
                scaling_text(growth)]
    short = [r for r in results.values() if r.cut_short]
    if short:
        out += ["", "Cut short by the time budget (--budget): " + ", ".join(f"{r.key} (n={r.n})" for r in short)]
    errors = [r for r in results.values() if r.error]
    if errors:
        out += ["", "Errors:"] + [f"  {r.key}: {r.error}" for r in errors]
    if ctx.notes:
        out += [""] + ctx.notes
    load = meta["load_average_1min"]
    if load["max"] > 0.5 * (meta["cpus"] or 1):
        out += ["", f"WARNING: the machine was busy (1-minute load average up to {load['max']:.1f} on "
                    f"{meta['cpus']} CPUs): other work skews these figures, the file-heavy rows most; "
                    "rerun on a quiet machine for figures to quote."]
    creation = meta["file_creation_us"]
    if max(creation.values()) > SLOW_CREATION_US:
        out += ["", f"WARNING: creating a file took {creation['start']:.0f} us at the start and "
                    f"{creation['end']:.0f} us at the end (a settled disk here: 10-30 us). A large "
                    "deletion in the minutes before (a previous run's clean-up, a test run) does this on "
                    "ext4 without a journal; the rows that create many files (expand+render, local-run, "
                    "maestro-run-fg) then read high against floors that create few."]
    timed = sum(m.wall_s for r in results.values() for m in r.runs)
    overhead = sum(r.overhead_s for r in results.values())
    out += ["", f"Finished in {meta['elapsed_s']:.0f} s ({timed:.0f} s timed, {overhead:.0f} s creating, "
                "syncing and removing scratch directories)."]
    return "\n".join(out)


SLOW_CREATION_US = 60.0


def creation_cost(ctx: Context, count: int = 400) -> float:
    """Microseconds to create one empty file in the scratch directory (its median over batches).

    On ext4 without a journal the kernel skips every inode freed in the last minute (six while
    its table block is unwritten) when it allocates one, so right after a large deletion a file
    costs several times more to create; the report says so when it does.
    """
    probe = ctx.work / "creation-probe"   # set aside after use, like a run's directory
    probe.mkdir()
    os.sync()
    batches = []
    for batch in range(4):
        began = time.perf_counter()
        for index in range(count // 4):
            os.close(os.open(probe / f"{batch}-{index}", os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
        batches.append((time.perf_counter() - began) / (count // 4) * 1e6)
    harness.set_aside(probe, ctx)
    return sorted(batches)[len(batches) // 2]


def metadata(ctx: Context, args, elapsed: float) -> dict:
    def capture(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=ROOT).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            return None

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": ctx.quick,
        "only": args.only,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "commit": capture(["git", "rev-parse", "--short", "HEAD"]),
        "maestrowf": capture([str(PARITY_VENV / "bin" / "python"), "-c",
                              "import maestrowf; print(maestrowf.__version__)"]),
        "elapsed_s": round(elapsed, 1),
    }


def write_json(path, meta, rows, checks, growth, results) -> None:
    doc = {
        "meta": meta,
        "cases": [{"workload": case.workload, "p": case.p, "label": case.label,
                   "sides": {name: results[side.key].to_json() for name, side in case.sides()
                             if side.key in results},
                   "ratios": {k: fig[k] for k in ("ours/maestro", "ours/floor", "maestro/floor")}}
                  for case, fig in rows],
        "targets": checks,
        "scaling": growth,
    }
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=2)
        handle.write("\n")
    log(f"results written to {os.path.relpath(path)}")


def plot(results_path: str) -> None:
    """Never fails the run: the plot is a convenience."""
    try:
        python = ensure_bench_venv(log)
        if not python:
            return
        target = BENCH / "scaling.png"
        done = subprocess.run([python, str(BENCH / "plot.py"), results_path, str(target)], timeout=300)
        if done.returncode == 0:
            log(f"plot written to {os.path.relpath(target)}")
        else:
            log("plot skipped: bench/plot.py failed")
    except Exception as err:  # noqa: BLE001 - optional output
        log(f"plot skipped: {err}")


if __name__ == "__main__":
    sys.exit(main())
