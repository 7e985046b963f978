#!/usr/bin/env python3
"""How long a running `maestro run` takes to start what `mextend` adds (bench/README.md, `extend`).

    extend_latency.py SPEC STUDY N OUT.json      (SPEC is written when it does not exist)

Starts `maestro run -fg -y -o STUDY SPEC` (an open study: it waits for mextend), then N times:
adds one combination with `mextend` and measures from mextend's return to the moment the new
instance's job started (its script writes `date +%s.%N` first: an upper bound of "submitted").
Odd rounds are added while the loop waits with nothing to run ("idle"); even rounds while a job
of the loop's own has run for 2.5 s ("busy": the loop waits on its children then).  Writes the
latencies to OUT.json; exits non-zero when the loop does not end 0 after `mextend --done`.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
LONG = 4          # seconds a "busy" round's long job runs
BUSY_WAIT = 2.5   # seconds into that job the extension comes: the loop waits its longest by then
SPEC = """\
description: {name: latency, description: how long mextend takes to reach a running loop}
extend:
  parameters: {X: {label: X.%%}, SLEEP: {label: S.%%}}
  open: true
study:
  - name: sim
    description: note the start of $(X), sleep, write a result
    run: {cmd: 'date +%s.%N > started; sleep $(SLEEP); echo done > result.json'}
"""


def wait_for(path: Path, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > end:
            raise SystemExit(f"extend_latency: {path} did not appear")
        time.sleep(0.0005)


def extend(study: Path, combination: dict) -> float:
    subprocess.run([BIN / "mextend", study], input=json.dumps(combination) + "\n", text=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time()


def workspace(study: Path, x: str, sleep: int) -> Path:
    return study / "sim" / f"S.{sleep}.X.{x}"


def started(study: Path, x: str, sleep: int = 0) -> float:
    path = workspace(study, x, sleep) / "started"
    wait_for(path)
    while True:     # the job may be writing it this very moment
        text = path.read_text().strip()
        if text:
            return float(text)
        time.sleep(0.0005)


def main(spec: str, study: str, count: int, out: str) -> int:
    study = Path(study)
    if not os.path.exists(spec):
        Path(spec).write_text(SPEC)
    loop = subprocess.Popen([BIN / "maestro", "run", "-fg", "-y", "-o", study, spec], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(study / "conductor.pid")
        time.sleep(0.5)                                   # the loop has found nothing to run: it waits
        idle, busy = [], []
        for i in range(count):
            if i % 2:                                      # a job of the loop's own runs meanwhile
                extend(study, {"X": f"{i}-long", "SLEEP": LONG})
                started(study, f"{i}-long", LONG)
                time.sleep(BUSY_WAIT)
                returned = extend(study, {"X": str(i), "SLEEP": 0})
                busy.append(started(study, str(i)) - returned)
                wait_for(workspace(study, f"{i}-long", LONG) / "result.json")
            else:
                returned = extend(study, {"X": str(i), "SLEEP": 0})
                idle.append(started(study, str(i)) - returned)
            wait_for(workspace(study, str(i), 0) / "result.json")
            time.sleep(0.3)                                # let the loop go back to waiting
        subprocess.run([BIN / "mextend", study, "--done"], check=True, stderr=subprocess.DEVNULL)
        code = loop.wait(timeout=60)
    finally:
        if loop.poll() is None:
            loop.terminate()
            loop.wait()
    Path(out).write_text(json.dumps({"idle": idle, "busy": busy}))
    return code


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
