#!/usr/bin/env python3
"""The floor of planning a reuse: the least work any planner must do (no checks, no messages).

    python bench/floor_plan.py NEW_DAG OLD_STUDY

Reads NEW_DAG (a maestro.dag), OLD_STUDY/state.json and OLD_STUDY/meta/keys.json with orjson,
gives every new instance a key (sha256 of its command, its parameters and its parents' keys,
in DAG order) and looks it up among the old FINISHED instances' keys, then prints how many
match.  Its keys are not ours (no script rendering), so nothing matches here: only the cost counts.
"""

import hashlib
import os
import sys

import orjson


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.stderr.write("usage: floor_plan.py NEW_DAG OLD_STUDY\n")
        return 2
    with open(argv[0], "rb") as handle:
        dag = orjson.loads(handle.read())
    with open(os.path.join(argv[1], "state.json"), "rb") as handle:
        state = orjson.loads(handle.read())["steps"]
    with open(os.path.join(argv[1], "meta", "keys.json"), "rb") as handle:
        old = orjson.loads(handle.read())["steps"]
    finished = {r["key"] for sid, r in old.items() if state[sid]["state"] == "FINISHED"}
    keys, reused = {}, 0
    for step in dag["steps"]:
        text = "\n".join([step["cmd"], orjson.dumps(step["params"], option=orjson.OPT_SORT_KEYS).decode(),
                          *sorted(keys[p] for p in step["depends"])])
        key = keys[step["id"]] = hashlib.sha256(text.encode()).hexdigest()
        reused += key in finished
    sys.stdout.write(f"{reused} of {len(keys)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
