#!/usr/bin/env python3
"""Run the monitor loop over one rendered study until STEPS steps have finished (or it ends), and
write what it cost as JSON: steps, seconds, steps/s and what the loop's own process wrote.

    python bench/scale_loop.py STUDY STEPS FIGURES.json

The bytes are the loop process's `wchar` (/proc/self/io: every byte it handed to write(2): the
state's journal and compactions, events.jsonl, status.csv, the requests to the local launcher);
the jobs' own files (their exit records, empty .out and .err) are the runner's, not counted.
"""

import gc
import json
import sys
import time


def wchar() -> int:
    with open("/proc/self/io") as handle:
        return int(dict(line.split(": ") for line in handle.read().splitlines())["wchar"])


class Enough(Exception):
    pass


def main(root: str, steps: int, out: str) -> int:
    from mmonitor.core import monitor_loop

    gc.disable()                      # as the command does
    finished = [0]
    written, start = wchar(), time.perf_counter()

    def on_pass(_root, events, status):
        finished[0] += sum(1 for e in events if e["to"] == "FINISHED")
        if finished[0] >= steps:
            raise Enough

    try:
        monitor_loop([root], on_pass=on_pass)
    except Enough:
        pass
    seconds = time.perf_counter() - start
    bytes_written = wchar() - written
    done = max(finished[0], 1)
    with open(out, "w") as handle:
        json.dump({"steps": finished[0], "seconds": seconds, "steps_per_s": finished[0] / seconds,
                   "s_per_step": seconds / done, "kb_per_step": bytes_written / done / 1024}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
