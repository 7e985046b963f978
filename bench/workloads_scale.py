"""Scale (issue 16): what a study costs as it grows from 2,000 to 1,000,000 instances.

    scale-loop   a loop over a flat study of trivial local steps (`true $(X)`), until 10,000 steps
                 have finished (a whole study below that): seconds per finished step and KB the
                 loop wrote per step (bench/scale_loop.py), beside the whole 2,000-step study.
    scale-pass   one monitoring pass with nothing to do (`mmonitor --no-submit`; the pass summary
                 of an earlier pass in place), beside the same pass made to read the whole state
                 (the summary removed first).
    scale-report `mreport --check -q` (the exit code alone) and `mreport --summary`.
    scale-expand `mexpand` of the 1,000,000-instance spec (full run only).

Sizes: 10k and 100k, and 1,000,000 in the full run.  One rendered study per size serves the
pass and report rows, then the loop row (which consumes it), so the largest study is rendered
once (about 8 GB and a minute at 10^6).  The "before" figures are those measured on 64018b1
(issue 16), printed beside the table.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from harness import Case, Context, Run, Side, Target, workload
from workloads_run import render

K = 1000
BASE_P = 2 * K
LOOP_STEPS = 10 * K
CMD = "true $(X)"
BEFORE = ("scale before (64018b1, issue 16): a loop ran ~660 steps/s at 1k and 167 steps/s at 100k, writing "
          "69 MB/s (~410 KB per step); at 10^6: 0.5 steps/s, a pass 18-24 s, mreport --check 22 s, "
          "mexpand 27 s and 1.9 GB")


def _sizes(ctx: Context) -> tuple[int, ...]:
    return (10 * K, 100 * K) if ctx.quick else (10 * K, 100 * K, 1000 * K)


def _shared(ctx: Context, p: int) -> Path:
    """The rendered study of size ``p`` that the pass, report and loop rows share."""
    root = ctx.work / "scale" / f"flat{p}"
    if not root.exists():
        render(ctx, ctx.spec(p, flat=True, cmd=CMD), root)
    return root


def _figures(d: Path) -> dict:
    try:
        with open(d / "figures.json") as handle:
            figures = json.load(handle)
    except (OSError, ValueError):
        return {}
    return {"steps_per_s": figures["steps_per_s"], "s_per_step": figures["s_per_step"],
            "kb_per_step": figures["kb_per_step"]}


def _loop(ctx: Context, p: int, shared: bool) -> Side:
    steps = min(p, LOOP_STEPS)

    def command(d: Path) -> Run:
        root = _shared(ctx, p) if shared else render(ctx, ctx.spec(p, flat=True, cmd=CMD), d / "study")
        return Run([[ctx.python(), ctx.bench_script("scale_loop.py"), str(root), str(steps), str(d / "figures.json")]])

    return Side(f"scale-loop/{p}", command, repeats=1 if shared else ctx.repeats(3, 1), writes=True,
                after=_figures, describe=f"bench/scale_loop.py STUDY {steps} (flat study of {p:,} `{CMD}` steps)")


def _pass(ctx: Context, p: int, quiet: bool) -> Side:
    def command(d: Path) -> Run:
        root = _shared(ctx, p)
        summary = root / "meta" / "pass-summary.json"
        if not summary.exists():    # an untimed first pass writes the pass view and the summary
            subprocess.run([ctx.ours("mmonitor"), "--no-submit", str(root)], check=True, stdout=subprocess.DEVNULL)
        if not quiet:
            os.unlink(summary)      # the timed pass must read the state (and writes the summary again)
        return Run([[ctx.ours("mmonitor"), "--no-submit", str(root)]])

    what = "the pass summary in place" if quiet else "the summary removed: it reads the state"
    return Side(f"scale-pass-{'quiet' if quiet else 'full'}/{p}", command, repeats=ctx.repeats(3, 2),
                describe=f"mmonitor --no-submit STUDY ({what})")


def _report(ctx: Context, p: int, flag: str) -> Side:
    # --check answers 3 while the study runs: that is its answer, not a failure of the command
    script = f'"$0" {flag} "$1" > /dev/null; test $? -le 4'
    return Side(f"scale-report{flag.replace(' ', '')}/{p}",
                lambda d: Run([["sh", "-c", script, ctx.ours("mreport"), str(_shared(ctx, p))]]),
                repeats=ctx.repeats(3, 2), describe=f"mreport {flag} STUDY")


@workload("scale")
def scale(ctx: Context) -> list[Case]:
    if not all(ctx.available(c) for c in ("mexpand", "mrender", "mmonitor", "mreport")):
        ctx.notes.append("skipped scale: the tools are not available (make install)")
        return []
    ctx.notes.append(BEFORE)
    cases = []
    if not ctx.quick:
        million = 1000 * K
        spec = ctx.spec(million, flat=True, cmd=CMD)
        cases.append(Case(
            workload="scale-expand", p=million,
            ours=Side(f"scale-expand/{million}", lambda d: Run([[ctx.ours("mexpand"), str(spec)]]),
                      repeats=1, describe=f"mexpand bench_flat_p{million}.yaml > /dev/null"),
            targets=[Target("issue 16.3: mexpand < 15 s", "ours_s", 15.0),
                     Target("issue 16.3: mexpand < 2 GB", "ours_mb", 2048.0)]))
    for p in _sizes(ctx):
        big = p >= 1000 * K
        cases.append(Case(
            workload="scale-pass", p=p, ours=_pass(ctx, p, quiet=True), floor=_pass(ctx, p, quiet=False),
            targets=[Target("issue 16.3: a pass with nothing to do < 3 s", "ours_s", 3.0)] if big else []))
        cases.append(Case(
            workload="scale-report", p=p, ours=_report(ctx, p, "--check -q"), floor=_report(ctx, p, "--summary"),
            targets=[Target("issue 16.3: mreport --check -q < 3 s", "ours_s", 3.0),
                     Target("issue 16.3: mreport --summary < 3 s", "floor_s", 3.0)] if big else []))
        targets = []
        if p == 100 * K:
            targets = [Target("issue 16.2: >= 60% of the 2k study's steps/s", "ours/floor_s_per_step", 1 / 0.6, "<="),
                       Target("issue 16.2: <= 20 KB written per finished step", "ours_kb_per_step", 20.0, "<=")]
        cases.append(Case(
            workload="scale-loop", p=p, ours=_loop(ctx, p, shared=p >= 100 * K),
            floor=_loop(ctx, BASE_P, shared=False), targets=targets,
            reserve=ctx.repeats(90 if big else 40, 30)))
    return cases
