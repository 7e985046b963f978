#!/usr/bin/env python3
"""A large bundled study on the real SLURM: single monitoring passes and mreport while it runs.

    python bench/bundle_scale.py STUDY [--rounds 8] [--gap 1.0] [--json FILE]

Run by `bench/workloads_bundle.py` (`bundle-scale`) on a study rendered beforehand (a flat study
of trivial SLURM steps with a bundle block: 1 allocation of 1 node).  No monitor loop runs: this
script is the study's only driver, as cron would be.

  1. `msubmit STUDY`: the first pass hands every step to the bundle (one file of tickets) and
     submits the allocation (timed: `submit_s`, a figure only).
  2. Waits until the allocation's worker has finished a first step (untimed).
  3. ROUNDS times, GAP seconds apart (steps finish in between): one `mmonitor STUDY` pass, one
     more that rewrites status.csv (its modification time set back: ``csv_due``), `mreport STUDY`
     (table) and `mreport --format json STUDY`, each timed on its own (wall time and peak memory,
     bench/_measure.py), with the done records counted before each pass.
  4. `maestro cancel STUDY -y` (its pass writes the stop file and cancels the allocation), then
     waits until squeue no longer lists the study's allocation; only if it is still there after
     CANCEL_WAIT seconds is it scancelled (by its job id, never anything else).

Writes FILE (default STUDY/../scale.json): every measurement, and the median and largest of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure  # noqa: E402

VENV_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"
START_WAIT = 300.0       # seconds to wait for the allocation to finish its first step
CANCEL_WAIT = 60.0       # seconds to wait for the allocation to end after the cancel
PASS_TARGET = 1.0
OUR_CODE = ("/runtime/", "/shared/", "/tools/")


def tool(name: str) -> str:
    return str(VENV_BIN / name)


def done_count(study: Path) -> int:
    try:
        return sum(1 for name in os.listdir(study / "meta" / "bundle" / "done") if not name.startswith("."))
    except FileNotFoundError:
        return 0


def allocation_jobs(study: Path) -> list[str]:
    path = study / "meta" / "bundle" / "allocations.json"
    if not path.exists():
        return []
    doc = json.loads(path.read_bytes())
    return [r["job_id"] for r in doc.get("allocations", []) if r.get("job_id")]


def in_squeue(jobs: list[str]) -> list[str]:
    if not jobs:
        return []
    done = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(jobs)], capture_output=True, text=True,
                          timeout=60)
    return done.stdout.split() if done.returncode == 0 else []


def timed(argv: list[str], out: Path) -> dict:
    m = measure([argv], stdout=str(out), timeout=600)
    if not m.ok:
        raise RuntimeError(f"{' '.join(argv)} failed ({m.returncodes}): {m.stderr[-400:]}")
    lines = sum(1 for _ in open(out, "rb"))
    return {"s": round(m.wall_s, 4), "cpu_s": round(m.cpu_s, 4), "mb": round(m.peak_mb, 1), "lines": lines}


def loop_passes(study: Path, rounds: int, gap: float) -> dict:
    """Passes as a monitoring loop makes them (`maestro run`'s conductor, `mmonitor --loop`): in
    this process, one LoopMemory, GAP seconds apart while steps finish; the first (it reads the
    study) is reported apart from the others."""
    import gc

    from mruntime.engine.passes import run_pass
    from mruntime.engine.records import LoopMemory

    gc.disable()                       # as the tools run (mshared.clitools.without_cyclic_gc)
    memory, adapters, times = LoopMemory(), {}, []
    try:
        for number in range(rounds + 1):
            started = time.monotonic()
            run_pass(str(study), poll_jobs=True, submit=True, adapters=adapters, memory=memory, csv_every=1.0)
            times.append(time.monotonic() - started)
            time.sleep(gap)
    finally:
        memory.lock.close()
        gc.enable()
    print(f"loop passes: first {times[0]:.3f} s, then " + ", ".join(f"{t:.3f}" for t in times[1:]),
          file=sys.stderr, flush=True)
    return {"first_s": round(times[0], 3), **summary(times[1:])}


def csv_due(study: Path) -> None:
    """Make the next single pass rewrite status.csv: its modification time an hour back.  A cron
    pass of a large study does so once its file is older than its size at CSV_RATE_SINGLE (a
    100,000-step study's: every minute or two), so the timed rounds must include such passes."""
    path = study / "status.csv"
    if path.exists():
        stamp = time.time() - 3600
        os.utime(path, (stamp, stamp))


def summary(values: list[float]) -> dict:
    return {"median_s": statistics.median(values), "max_s": max(values), "min_s": min(values)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between rounds")
    parser.add_argument("--json")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                        help="one more pass (rewriting status.csv) under cProfile after the rounds (auto: when "
                             "a pass took over 1 s)")
    args = parser.parse_args(argv)
    study = Path(args.study).resolve()
    work = study.parent
    out = Path(args.json) if args.json else work / "scale.json"
    doc: dict = {"study": str(study), "rounds": []}
    try:
        doc["submit"] = timed([tool("msubmit"), str(study)], work / "submit.out")
        doc["allocations"] = allocation_jobs(study)
        waited = time.monotonic()
        while done_count(study) == 0:
            if time.monotonic() - waited > START_WAIT:
                raise RuntimeError(f"the allocation {doc['allocations']} finished no step in {START_WAIT:.0f} s")
            time.sleep(0.5)
        doc["start_wait_s"] = round(time.monotonic() - waited, 2)
        for number in range(args.rounds):
            time.sleep(args.gap)
            row = {"done_before": done_count(study)}
            row["pass"] = timed([tool("mmonitor"), str(study)], work / f"pass{number}.out")
            csv_due(study)
            row["csv_pass"] = timed([tool("mmonitor"), str(study)], work / f"csvpass{number}.out")
            row["report"] = timed([tool("mreport"), str(study)], work / f"report{number}.out")
            row["json"] = timed([tool("mreport"), "--format", "json", str(study)], work / f"json{number}.out")
            doc["rounds"].append(row)
            print(f"round {number}: {row['done_before']} done; pass {row['pass']['s']:.3f} s "
                  f"({row['pass']['lines']} events), rewriting status.csv {row['csv_pass']['s']:.3f} s "
                  f"({row['csv_pass']['lines']} events), mreport {row['report']['s']:.3f} s, "
                  f"--format json {row['json']['s']:.3f} s", file=sys.stderr, flush=True)
        doc["loop"] = loop_passes(study, args.rounds, args.gap)
        doc["done_at_end"] = done_count(study)
        worst = max(max(r["pass"]["s"], r["csv_pass"]["s"]) for r in doc["rounds"]) if doc["rounds"] else 0
        if args.profile == "always" or (args.profile == "auto" and worst > PASS_TARGET):
            doc["profile"] = profile_pass(study, work)
    finally:
        doc["cancel"] = cancel(study)
        for key in ("pass", "csv_pass", "report", "json"):
            values = [r[key]["s"] for r in doc["rounds"] if key in r]
            if values:
                doc[key] = summary(values)
                doc[key]["peak_mb"] = max(r[key]["mb"] for r in doc["rounds"] if key in r)
        out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def profile_pass(study: Path, work: Path) -> dict:
    """One more `mmonitor STUDY` pass under cProfile (not one of the timed ones), one that rewrites
    status.csv (the costlier kind): where its time goes.
    The full listing goes to WORK/profile-pass.txt; the JSON keeps our functions by cumulative time
    (leaving out the wrappers that hold the whole pass) and the largest own times."""
    import io
    import pstats

    prof = work / "pass.prof"
    csv_due(study)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), tool("mmonitor"), str(study)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600, check=True)
    wall = time.perf_counter() - began
    stats = pstats.Stats(str(prof))
    buffer = io.StringIO()
    listing = pstats.Stats(str(prof), stream=buffer)
    listing.sort_stats("cumulative").print_stats(60)
    listing.sort_stats("tottime").print_stats(30)
    (work / "profile-pass.txt").write_text(f"one mmonitor pass under cProfile: {wall:.2f} s\n\n" + buffer.getvalue())
    entries = [(v[3], v[2], v[1], k) for k, v in stats.stats.items()]
    total = max(e[0] for e in entries)

    def name(key) -> str:
        path, line, func = key
        for part in OUR_CODE:
            if part in path:
                path = part.strip("/") + "/" + path.split(part, 1)[1]
                break
        return f"{path}:{line}({func})"

    ours = sorted((e for e in entries if any(p in e[3][0] for p in OUR_CODE) and e[0] < 0.8 * total),
                  key=lambda e: e[0], reverse=True)[:15]
    own = sorted(entries, key=lambda e: e[1], reverse=True)[:10]
    return {"s": round(wall, 3), "file": str(work / "profile-pass.txt"),
            "cumulative": [{"function": name(k), "cumtime_s": round(ct, 3), "calls": n} for ct, _, n, k in ours],
            "tottime": [{"function": name(k), "tottime_s": round(tt, 3), "calls": n} for _, tt, n, k in own]}


def cancel(study: Path) -> dict:
    """`maestro cancel STUDY -y`, then the allocation must leave squeue (scancel by its id if not)."""
    began = time.monotonic()
    result = {"scancelled": []}
    done = subprocess.run([tool("maestro"), "cancel", str(study), "-y"], capture_output=True, text=True,
                          timeout=600)
    result["exit"] = done.returncode
    result["cancel_s"] = round(time.monotonic() - began, 2)
    jobs = allocation_jobs(study)
    deadline = time.monotonic() + CANCEL_WAIT
    while in_squeue(jobs) and time.monotonic() < deadline:
        time.sleep(1)
    left = in_squeue(jobs)
    if left:                      # only this study's allocation, by its job id
        subprocess.run(["scancel", *left], capture_output=True, timeout=60)
        result["scancelled"] = left
        deadline = time.monotonic() + CANCEL_WAIT
        while in_squeue(left) and time.monotonic() < deadline:
            time.sleep(1)
    result["left"] = in_squeue(jobs)
    result["ended_after_s"] = round(time.monotonic() - began, 2)
    return result


if __name__ == "__main__":
    sys.exit(main())
