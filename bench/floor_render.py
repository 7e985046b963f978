#!/usr/bin/env python3
"""The floor for `mexpand | mrender` (and for `maestro run --dry`): expand, then write the files.

    python bench/floor_render.py SPEC OUTDIR

Expands SPEC as bench/floor_expand.py does, then creates OUTDIR, one workspace directory per
instance (Maestro's layout: <step>/<combo>) and in it the local script `<id>.sh`
(`#!/bin/bash\\n\\n<cmd>\\n`, as Maestro writes it), with `$(step.workspace)` resolved to the
absolute directory, plus `dag.json` with the instance list.  That is the file work a dry run
cannot avoid; nothing is checked, locked, fsynced or logged.
"""

import os
import re
import sys

from floor_expand import dumps, expand, load

_WS = re.compile(r"\$\(([^)]+)\.workspace\)")


def render(instances: list[dict], out: str) -> None:
    out = os.path.abspath(out)
    os.makedirs(out)
    with open(os.path.join(out, "dag.json"), "wb") as handle:
        handle.write(dumps({"steps": instances}))
    made = set()
    for inst in instances:
        workspace = os.path.join(out, inst["workspace"])
        parent = os.path.dirname(workspace)
        if parent not in made and parent != out:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        os.mkdir(workspace)
        cmd = inst["cmd"]
        if "$(" in cmd:
            cmd = _WS.sub(lambda m: os.path.join(out, m.group(1)), cmd)
        with open(os.path.join(workspace, inst["id"] + ".sh"), "w", encoding="utf-8") as handle:
            handle.write(f"#!/bin/bash\n\n{cmd}\n")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.stderr.write("usage: floor_render.py SPEC OUTDIR\n")
        return 2
    render(expand(load(argv[0])), argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
