#!/usr/bin/env python3
"""mreport benchmark: build a P-step study without running it, then time mreport on it.

The study is bench/gen_study.py's (prep -> P sims -> post), expanded by mexpand and rendered by
mrender (built once per run; in quick mode only dag.json and mrender's initial state.json are
written, without the P workspaces that take mrender a minute); then state.json gets a fixed, realistic mix of states and times (70% FINISHED, some
FAILED/TIMEDOUT/CANCELLED, RUNNING, PENDING, the rest INITIALIZED) through mshared.statefile, and
status.csv is written as mmonitor writes it.  Cases (issue 6):

  report table / json / summary, P=100,000   target: each under 1.5 s
  report table P=10,000 against `maestro status DIR --disable-pager --disable-theme` of
  maestrowf 1.2.1, which only reads DIR/status.csv (here a directory holding a copy of the
  study's status.csv): with COLUMNS=200 (neither table folds) and, in full mode, COLUMNS=80
  (Maestro's width into a pipe; both fold).

In bench/run.py: `import bench_report` in bench/workloads.py registers the "report" workload.
Standalone (same measurements and table, plus the CPU time of each side):

    .venv/bin/python bench/bench_report.py [--quick] [--no-maestro] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Case, Context, Run, Side, Target, workload  # noqa: E402

K = 1000
REPORT_P = 100 * K
MAESTRO_P = 10 * K
CREATED = "2026-11-20T08:00:00Z"
TARGET_S = 1.5
MIX = (("FINISHED", 0.70), ("FAILED", 0.72), ("TIMEDOUT", 0.725), ("CANCELLED", 0.73),
       ("RUNNING", 0.80), ("PENDING", 0.85), ("INITIALIZED", 1.0))


def _stamp(seconds: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def fill_states(root: Path, seed: int = 6) -> dict:
    """Give every step of the rendered study at ``root`` a state, times and a job; returns the counts."""
    from mshared.jsonio import loads
    from mshared.statefile import read_state, write_state
    from mshared.statusrows import iso_seconds, status_csv

    state = read_state(root)
    dag = loads((root / "dag.json").read_bytes())
    rng = random.Random(seed)
    t0 = int(iso_seconds(CREATED))
    state["study"]["created"] = CREATED
    counts: dict[str, int] = {}
    for index, step in enumerate(dag["steps"]):
        entry = state["steps"][step["id"]]
        if step["step"] == "prep":
            name = "FINISHED"
        elif step["step"] == "post":
            name = "INITIALIZED"
        else:
            roll = rng.random()
            name = next(s for s, limit in MIX if roll < limit)
        counts[name] = counts.get(name, 0) + 1
        if name == "INITIALIZED":
            continue
        submitted = t0 + 60 + index // 20
        started = submitted + rng.randint(0, 300)
        ended = started + rng.randint(60, 7200)
        job = str(1_000_000 + index)
        entry.update(state=name, job_id=job, jobs=[job], attempts=1, submitted=_stamp(submitted),
                     restarts=rng.choice((0, 0, 0, 0, 1)))
        if name != "PENDING":
            entry["started"] = _stamp(started)
        if name in ("FINISHED", "FAILED", "TIMEDOUT", "CANCELLED"):
            entry["ended"] = _stamp(ended)
            entry["exit_code"] = {"FINISHED": 0, "FAILED": rng.choice((1, 2, 137))}.get(name)
            entry["reason"] = {"FAILED": "failed", "TIMEDOUT": "timed out and has no restart command",
                               "CANCELLED": "cancelled by request"}.get(name)
    state["updated"] = _stamp(t0 + 60 + len(dag["steps"]) // 20 + 600)
    write_state(root, state)
    now = _parse(state["updated"])
    (root / "status.csv").write_text(status_csv(dag["steps"], state["steps"], now), encoding="utf-8")
    return counts


def _parse(text: str):
    from datetime import datetime, timezone

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def build_study(ctx: Context, p: int) -> Path:
    """The benchmark study for P in ctx.work, states filled (built once per P): mexpand | mrender;
    in quick mode mexpand, then only the two files mreport reads (dag.json as mrender copies it,
    and mrender's initial state.json), skipping the P workspaces that take mrender a minute."""
    root = ctx.work / "report-studies" / f"p{p}"
    if (root / "state.json").exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    spec = ctx.spec(p)
    if ctx.quick:
        _write_unrendered(ctx, spec, root)
    else:
        expand = subprocess.Popen([ctx.ours("mexpand"), str(spec)], stdout=subprocess.PIPE, cwd=root.parent)
        subprocess.run([ctx.ours("mrender"), "-o", str(root)], stdin=expand.stdout, check=True,
                       stdout=subprocess.DEVNULL, cwd=root.parent)
        expand.stdout.close()
        if expand.wait() != 0:
            raise RuntimeError(f"mexpand {spec} failed")
    fill_states(root)
    return root


def _write_unrendered(ctx: Context, spec: Path, root: Path) -> None:
    import hashlib
    from datetime import datetime, timezone

    from mshared.jsonio import loads
    from mshared.statefile import new_state, write_state

    data = subprocess.run([ctx.ours("mexpand"), str(spec)], stdout=subprocess.PIPE, check=True,
                          cwd=root.parent).stdout
    dag = loads(data)
    root.mkdir()
    (root / "dag.json").write_bytes(data)
    study = {"name": dag["study"]["name"], "root": str(root), "dag_sha256": hashlib.sha256(data).hexdigest(),
             "scheduler": "local", "scripts_dir": None}
    write_state(root, new_state(study, {}, (s["id"] for s in dag["steps"]), datetime.now(timezone.utc)))


def maestro_dir(ctx: Context, p: int) -> Path:
    """A directory with only the study's status.csv: all that `maestro status` reads."""
    target = ctx.work / "report-studies" / f"maestro-p{p}"
    if not (target / "status.csv").exists():
        target.mkdir(parents=True, exist_ok=True)
        (target / "status.csv").write_bytes((build_study(ctx, p) / "status.csv").read_bytes())
    return target


@workload("report")
def report(ctx: Context) -> list[Case]:
    if not (ctx.available("mexpand") and ctx.available("mrender") and ctx.available("mreport")):
        ctx.notes.append("skipped report: mexpand, mrender or mreport not available (make install)")
        return []
    reps = ctx.repeats(5, 2)
    cases = []
    for label, args in (("table", []), ("json", ["--format", "json"]), ("summary", ["--summary"])):
        cases.append(Case(
            workload=f"report {label}", p=REPORT_P,
            ours=Side(f"mreport-{label}/{REPORT_P}",
                      lambda d, a=args: Run([[ctx.ours("mreport"), *a, str(build_study(ctx, REPORT_P))]]),
                      repeats=reps, describe=f"mreport {' '.join(args + ['STUDY'])} > /dev/null"),
            targets=[Target(f"issue 6: {label} < {TARGET_S} s", "ours_s", TARGET_S)]))
    for columns in ((200,) if ctx.quick else (200, 80)):
        env = ["env", f"COLUMNS={columns}"]
        cases.append(Case(
            workload=f"report table {columns} cols", p=MAESTRO_P,
            ours=Side(f"mreport-table-{columns}/{MAESTRO_P}",
                      lambda d, e=env: Run([[*e, ctx.ours("mreport"), str(build_study(ctx, MAESTRO_P))]]),
                      repeats=reps, describe=f"COLUMNS={columns} mreport STUDY > /dev/null"),
            maestro=Side(f"maestro-status-{columns}/{MAESTRO_P}",
                         lambda d, e=env: Run([[*e, ctx.maestro(), "status", str(maestro_dir(ctx, MAESTRO_P)),
                                                "--disable-pager", "--disable-theme"]]),
                         repeats=ctx.repeats(3, 1), needs_maestro=True,
                         describe=f"COLUMNS={columns} maestro status DIR --disable-pager --disable-theme")))
    return cases


def main(argv=None) -> int:
    import figures
    import harness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--workdir", help="scratch directory, kept (default: a temporary one, removed)")
    parser.add_argument("--no-maestro", action="store_true", help="skip maestrowf's status")
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="maestro-bench-report-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(quick=args.quick, work=work)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    problem = "--no-maestro" if args.no_maestro else harness.ensure_parity_venv(log)
    rows, checks, results = [], [], {}
    for case in report(ctx):
        for name, side in case.sides():
            if side.needs_maestro and problem:
                log(f"  {side.key}: skipped ({problem})")
                continue
            log(f"{case.label} [{name}]")
            results[side.key] = harness.measure_side(side, ctx, log)
        fig = figures.row_figures(case, results)
        rows.append((case, fig))
        checks += figures.check_targets(case, fig)
    print(figures.table(rows))
    print("\nCPU seconds (user+system, median; less sensitive to other work on the machine):")
    for case, fig in rows:
        for name, side in case.sides():
            res = results.get(side.key)
            if res and res.runs:
                cpu = sorted(r.cpu_s for r in res.runs)[len(res.runs) // 2]
                print(f"  {case.label} [{name}]: {cpu:.3f}")
    for case, fig in rows:
        if fig.get("ours/maestro") is not None:
            print(f"\n{case.label}: mreport {fig['ours_s']:.3f} s, maestro status {fig['maestro_s']:.2f} s: "
                  f"ours/Maestro = {fig['ours/maestro']:.4f} ({1 / fig['ours/maestro']:.0f}x faster)")
    for c in checks:
        print(f"{c['status']:4}  {c['case']}: {c['target']} (measured {c['value'] or 0:.3f})")
    if not args.workdir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(c["status"] == "FAIL" for c in checks) else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
