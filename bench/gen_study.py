#!/usr/bin/env python3
"""Write the benchmark study: prep -> sim (P combinations) -> post (funnel).

    python bench/gen_study.py P [-o FILE] [--slurm] [--flat [--cmd CMD]] [--sleep S]   (stdout when no -o)

prep has no parameters; sim depends on prep and uses two zipped parameters X and Y with P values
each (so P instances: sim_X.0.Y.0 ... ); post depends on sim_* (a funnel: one instance that
waits for all P sims).  OUTPUT_PATH is relative, so the study lands under the working directory.
Only the standard library is used, so any Python can run it.

--slurm adds `batch: {type: slurm, queue: debug}` and `procs: 1` on the scheduled step (sim; with
--flat, run), so those steps go to SLURM (prep and post still run locally, as in Maestro).
--flat writes P independent steps instead: one step `run` with one parameter X of P values and
`cmd: echo $(X) > out.txt` (or CMD), no dependencies (local runs to completion, submission).
--sleep S makes prep, sim and post each take S seconds first (`sleep S; ...`): steps that do some
work, where a benchmark must not be all start-up costs (the reuse runs).
"""

import argparse
import sys

TEMPLATE = """\
description:
  name: bench_p{p}
  description: Benchmark study, prep -> sim ({p} combinations) -> post (funnel).

env:
  variables:
    OUTPUT_PATH: ./bench_output
    OUT_FILE: out.txt

study:
  - name: prep
    description: Prepare the inputs.
    run:
      cmd: |
        echo prep > prep.txt

  - name: sim
    description: One simulation per (X, Y) combination.
    run:
      cmd: |
        echo $(X) $(Y) > $(OUT_FILE)
      depends: [prep]

  - name: post
    description: Collect every simulation.
    run:
      cmd: |
        cat $(sim.workspace)/*/$(OUT_FILE) | wc -l > count.txt
      depends: [sim_*]

global.parameters:
  X:
    values: [{xs}]
    label: X.%%
  Y:
    values: [{ys}]
    label: Y.%%
"""


FLAT_TEMPLATE = """\
description:
  name: {name}
  description: Benchmark study, {p} independent trivial steps.

env:
  variables:
    OUTPUT_PATH: ./bench_output

study:
  - name: run
    description: One trivial step per X.
    run:
      cmd: |
        {cmd}
global.parameters:
  X:
    values: [{xs}]
    label: X.%%
"""

BATCH = """\
batch:
  type: slurm
  queue: debug

"""
FLAT_CMD = "echo $(X) > out.txt"


def study_text(p: int, *, slurm: bool = False, flat: bool = False, cmd: str = FLAT_CMD, sleep: float = 0) -> str:
    if p < 1:
        raise ValueError("P must be at least 1")
    xs = ", ".join(str(i) for i in range(p))
    if flat:
        text = FLAT_TEMPLATE.format(p=p, xs=xs, cmd=cmd, name=f"flat{'_slurm' if slurm else ''}_p{p}")
        anchor = "    run:\n      cmd: |\n"
    else:
        ys = ", ".join(str((i * 7) % 1000 / 10) for i in range(p))  # floats, not unique: X keeps rows apart
        text = TEMPLATE.format(p=p, xs=xs, ys=ys)
        anchor = "    run:\n      cmd: |\n        echo $(X) $(Y)"
    if slurm:
        head, sep, tail = text.partition(anchor)
        assert sep, "template changed"
        text = BATCH + head + "    run:\n      procs: 1\n" + sep[len("    run:\n"):] + tail
        text = text.replace("name: bench_p", "name: bench_slurm_p", 1)
    if sleep and not flat:
        text = text.replace("      cmd: |\n        ", f"      cmd: |\n        sleep {sleep:g}; ")
    return text


def write_study(p: int, path: str, **shape) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(study_text(p, **shape))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("p", type=int, metavar="P", help="number of sim combinations")
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    parser.add_argument("--slurm", action="store_true", help="batch type slurm; procs: 1 on the scheduled step")
    parser.add_argument("--flat", action="store_true", help="P independent steps (no prep, no post)")
    parser.add_argument("--cmd", default=FLAT_CMD, help=f"command of the --flat step (default: {FLAT_CMD})")
    parser.add_argument("--sleep", type=float, default=0, help="seconds each step of prep -> sim -> post sleeps first")
    args = parser.parse_args(argv)
    shape = {"slurm": args.slurm, "flat": args.flat, "cmd": args.cmd, "sleep": args.sleep}
    if args.output:
        write_study(args.p, args.output, **shape)
    else:
        sys.stdout.write(study_text(args.p, **shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
