#!/usr/bin/env python3
"""Write the benchmark study: prep -> sim (P combinations) -> post (funnel).

    python bench/gen_study.py P [-o FILE]      (stdout when no -o)

prep has no parameters; sim depends on prep and uses two zipped parameters X and Y with P values
each (so P instances: sim_X.0.Y.0 ... ); post depends on sim_* (a funnel: one instance that
waits for all P sims).  OUTPUT_PATH is relative, so the study lands under the working directory.
Only the standard library is used, so any Python can run it.
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


def study_text(p: int) -> str:
    if p < 1:
        raise ValueError("P must be at least 1")
    xs = ", ".join(str(i) for i in range(p))
    ys = ", ".join(str((i * 7) % 1000 / 10) for i in range(p))  # floats, not unique: X keeps rows apart
    return TEMPLATE.format(p=p, xs=xs, ys=ys)


def write_study(p: int, path: str) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(study_text(p))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("p", type=int, metavar="P", help="number of sim combinations")
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    if args.output:
        write_study(args.p, args.output)
    else:
        sys.stdout.write(study_text(args.p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
