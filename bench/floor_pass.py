#!/usr/bin/env python3
"""The floor of one monitoring pass: the minimal file work of `mmonitor STUDY` (no scheduler).

    python bench/floor_pass.py STUDY_DIR

Reads STUDY_DIR/state.json and STUDY_DIR/dag.json with orjson and writes state.json back
atomically (temporary file, fsync, rename), as a pass that changed something must.  No lock,
checksum, validation, scheduler query or transitions.
"""

import os
import sys

import orjson


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("usage: floor_pass.py STUDY_DIR\n")
        return 2
    root = argv[0]
    with open(os.path.join(root, "state.json"), "rb") as handle:
        state = orjson.loads(handle.read())
    with open(os.path.join(root, "dag.json"), "rb") as handle:
        dag = orjson.loads(handle.read())
    if len(dag["steps"]) != len(state["steps"]):
        sys.stderr.write("floor_pass.py: dag.json and state.json disagree\n")
        return 1
    tmp = os.path.join(root, ".tmp-floor-state.json")
    with open(tmp, "wb") as handle:
        handle.write(orjson.dumps(state, option=orjson.OPT_SORT_KEYS))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, os.path.join(root, "state.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
