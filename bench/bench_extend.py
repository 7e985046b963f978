"""Studies that grow (issue 18; bench/README.md, `extend`).  Imported at the end of workloads.py.

  extend latency   a running `maestro run -fg` of an open study; `bench/extend_latency.py` adds
                   one combination at a time with `mextend` and measures from mextend's return to
                   the new job's start (its script's first line): while the loop waits with
                   nothing to run ("idle"), and while a job of its own runs ("busy").
                   Target: idle under 1 s.
  extend loop      `maestro run -fg` of a 100-round loop inside one study (a one-step `sim` and a
                   `decide` step that asks for the next point until there are 100), against a
                   bare shell loop running the same commands 100 times.  Counted: each round's
                   gap from the decide step's exit to the next `sim` job's start.  Target: under
                   1 s.  Maestro has no loop in a study; its conductor sleeps one poll (-s, 60 s by
                   default) per DAG level, so 100 rounds cost it at least 100 x 60 s (printed).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from harness import Case, Context, Run, Side, Target, workload

ROUNDS = 100
LATENCY_EXTENSIONS = 10          # 5 idle, 5 busy
MAESTRO_POLL = 60                # maestro run's default -s

LOOP_SPEC = """\
description: {name: loop100, description: a one-step loop of ROUNDS rounds inside one study}
extend:
  parameters: {X: {label: X.%%}}
  decide: decide
  max_rounds: 1000
study:
  - name: sim
    description: one evaluation at $(X)
    run: {cmd: 'date +%s.%N > started; echo $(X) > result.json'}
  - name: decide
    description: round $(STUDY_ITER) asks for the next point
    run:
      cmd: |
        n=$(ls -d $(sim.workspace)/*/ 2>/dev/null | wc -l)
        if [ "$n" -lt ROUNDS ]; then echo "{\\"X\\": $n}" > next.jsonl; fi
        date +%s.%N > decided
      depends: [sim_*]
""".replace("ROUNDS", str(ROUNDS))

# the same commands, one after the other, with no tool in between
FLOOR_LOOP = (f"mkdir -p sim decide; i=0; while [ $i -lt {ROUNDS} ]; do "
              "mkdir -p sim/X.$i && (cd sim/X.$i && date +%s.%N > started && echo $i > result.json) && "
              "(cd decide && n=$(ls -d ../sim/*/ | wc -l) && "
              f"if [ \"$n\" -lt {ROUNDS} ]; then echo \"{{\\\"X\\\": $n}}\" > next.jsonl; fi && "
              "date +%s.%N > decided) || exit 1; i=$((i + 1)); done")


def _loop_spec(ctx: Context) -> Path:
    path = ctx.work / "specs" / "loop100.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(LOOP_SPEC)
    return path


def _gaps(study: Path) -> dict:
    """Each round's gap from its decide step's exit (the time it wrote last) to the next round's
    sim job's start (the time its script wrote first)."""
    dag = json.loads((study / "dag.json").read_text())
    decided, starts = {}, {}
    for step in dag["steps"]:
        stamp = study / step["workspace"] / ("decided" if step["step"] == "decide" else "started")
        if stamp.exists():
            (decided if step["step"] == "decide" else starts)[step.get("round", 1)] = float(stamp.read_text())
    gaps = [starts[r + 1] - decided[r] for r in sorted(decided) if r + 1 in starts]
    if len(gaps) != ROUNDS:
        raise RuntimeError(f"{len(gaps)} rounds measured, {ROUNDS} expected")
    return {"rounds": len(gaps), "gap_median_s": statistics.median(gaps), "gap_max_s": max(gaps),
            "maestro_floor_s": ROUNDS * MAESTRO_POLL}


def _latencies(out: Path) -> dict:
    found = json.loads(out.read_text())
    return {"idle_median_s": statistics.median(found["idle"]), "idle_max_s": max(found["idle"]),
            "busy_median_s": statistics.median(found["busy"]), "busy_max_s": max(found["busy"])}


@workload("extend")
def extend(ctx: Context) -> list[Case]:
    missing = [c for c in ("maestro", "mextend", "mreport") if not ctx.available(c)]
    if missing:
        ctx.notes.append(f"skipped extend: {', '.join(missing)} not available (make install)")
        return []
    spec = _loop_spec(ctx)
    ctx.notes.append(f"extend loop: Maestro 1.2.1 has no loop inside a study; its conductor sleeps one poll "
                     f"(-s, {MAESTRO_POLL} s by default) per DAG level, so {ROUNDS} rounds cost it at least "
                     f"{ROUNDS} x {MAESTRO_POLL} s = {ROUNDS * MAESTRO_POLL:,} s (not run)")
    latency = Side(
        "extend-latency",
        lambda d: Run([[ctx.python(), ctx.bench_script("extend_latency.py"), str(d / "latency.yaml"),
                        str(d / "study"), str(LATENCY_EXTENSIONS), str(d / "latency.json")]]),
        repeats=ctx.repeats(2, 1), writes=True,
        after=lambda d: _latencies(d / "latency.json"),
        describe=f"python bench/extend_latency.py: {LATENCY_EXTENSIONS} x mextend into a running "
                 "`maestro run -fg` of an open study (half while a job of its own runs)")
    loop = Side(
        "extend-loop/ours",
        lambda d: Run([[ctx.ours("maestro"), "run", "-fg", "-y", "-o", str(d / "out"), str(spec)]]),
        repeats=ctx.repeats(3, 1), writes=True,
        after=lambda d: _gaps(d / "out"),
        describe=f"maestro run -fg -y -o DIR/out loop100.yaml ({ROUNDS} rounds of sim + decide in one study)")
    floor = Side(
        "extend-loop/shell",
        lambda d: Run([["sh", "-c", FLOOR_LOOP]]),
        repeats=ctx.repeats(3, 1), writes=True,
        describe=f"the same commands {ROUNDS} times in a bare shell loop")
    return [
        Case(workload="extend latency", p=None, ours=latency,
             targets=[Target("issue 18: mextend -> first new job < 1 s (loop waiting)", "ours_idle_max_s", 1.0)],
             reserve=ctx.repeats(60, 30)),
        Case(workload="extend loop", p=ROUNDS, ours=loop, floor=floor,
             targets=[Target("issue 18: decide step's exit -> next job < 1 s", "ours_gap_max_s", 1.0)],
             reserve=ctx.repeats(40, 15)),
    ]
