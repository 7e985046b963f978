#!/usr/bin/env python3
"""Inside ONE allocation: the bundle worker's dispatch of trivial steps against `xargs -P <cores>`.

    python bench/bundle_dispatch.py OUTDIR --steps N [--rounds 3] [--profile auto|always|never]

Run by `bench/workloads_bundle.py` (`bundle-dispatch`) as the body of one sbatch job, with the
project's venv python (the worker's own).  Each round runs both sides once, in alternating order
(xargs first in even rounds, the worker first in odd ones), each in a fresh directory
``OUTDIR/r<round>-<side>`` made beforehand (untimed; nothing is deleted between runs):

  xargs   N workspaces, each with one step script shaped as mrender writes a SLURM step's
          (`#!/bin/bash`, the #SBATCH lines, `echo I > out.txt`), and a NUL-separated list of
          them; timed: `xargs -0 -P CORES -n 1 sh -c 'cd WS && exec ./SCRIPT > SCRIPT.out
          2> SCRIPT.err' < list` (each step its own process in its workspace, its output to
          files, as the worker runs it).
  worker  the same N workspaces and scripts in a study-like directory; the tickets handed over
          by `BundleAdapter.submit_many` (one batch file, as one pass writes them), the
          allocation's `meta/bundle/alloc/a1/worker.json` (cores null: the node's, gpus 0,
          margin 5, linger 5, walltime 600) and `outlook.json` with waiting 0; timed: the real
          `mruntime.bundle.worker.Worker(...).run()` in this process, from its start to the
          moment the worker has written the N-th done record (the worker then idles its
          IDLE_GRACE before it ends; that idle tail is reported apart, `worker_exit_s`).

Writes OUTDIR/dispatch.json: every run's time, the best and median of each side, steps/s, the
ratio worker/xargs (best of each).  With ``--profile auto`` (the default), when the ratio is
above 1.25 one more worker run (untimed for the figures) goes under cProfile; its top functions
go to OUTDIR/profile.txt and the JSON's ``profile``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

TARGET = 1.25
STEP_SCRIPT = """#!/bin/bash
#SBATCH --partition=debug
#SBATCH --job-name="{stem}"
#SBATCH --output="{stem}.%j.out"
#SBATCH --error="{stem}.%j.err"
#SBATCH --comment "One trivial step per X."
#SBATCH --ntasks=1

echo {x} > out.txt

"""
# each step in its workspace, its own process, stdout and stderr to files of its own
XARGS = ("xargs -0 -P {cores} -n 1 sh -c "
         "'cd \"${{0%/*}}\" && exec ./\"${{0##*/}}\" > \"${{0##*/}}.out\" 2> \"${{0##*/}}.err\"' < scripts.list")
WORKER_SETTINGS = {"cores": None, "gpus": 0, "margin": 5, "linger": 5, "walltime": 600}


def node_cores() -> int:
    value = os.environ.get("SLURM_CPUS_ON_NODE", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return len(os.sched_getaffinity(0))


def make_steps(root: str, steps: int) -> list[dict]:
    """N workspaces with their step scripts (as mrender lays out a flat study); the ticket items."""
    items = []
    for x in range(steps):
        stem = f"run_X.{x}"
        workspace = os.path.join(root, "run", f"X.{x}")
        os.makedirs(workspace)
        script = os.path.join(workspace, f"{stem}.slurm.sh")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(STEP_SCRIPT.format(stem=stem, x=x))
        os.chmod(script, 0o755)
        items.append({"step": stem, "script": script, "workspace": workspace, "stem": stem,
                      "cores": 1, "gpus": 0, "walltime": None})
    return items


def prepare_xargs(root: str, steps: int) -> None:
    items = make_steps(root, steps)
    with open(os.path.join(root, "scripts.list"), "wb") as handle:
        handle.write(b"".join(item["script"].encode() + b"\0" for item in items))


def run_xargs(root: str, steps: int, cores: int) -> dict:
    began = time.perf_counter()
    done = subprocess.run(["sh", "-c", XARGS.format(cores=cores)], cwd=root, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"xargs exited {done.returncode} in {root}")
    outs = sum(1 for name in os.listdir(os.path.join(root, "run")))
    return {"s": wall, "steps": outs}


def prepare_worker(root: str, steps: int) -> None:
    from mruntime.bundle import files as F
    from mruntime.bundle.adapter import BundleAdapter

    items = make_steps(root, steps)
    adapter = BundleAdapter(root, dict(WORKER_SETTINGS, nodes=1, allocations=1), None, "slurm", {}, "dispatch",
                            datetime.now(timezone.utc))
    adapter.submit_many(items)
    os.makedirs(F.path(root, F.ALLOC, "a1"))
    F.put_json(F.path(root, F.ALLOC, "a1", "worker.json"), WORKER_SETTINGS)
    F.put_json(F.path(root, F.OUTLOOK), {"at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                         "waiting": 0})


def run_worker(root: str, steps: int, profile: cProfile.Profile | None = None) -> dict:
    """The real worker, as `python -m mruntime.bundle.worker ROOT a1` runs it (its settings from
    worker.json), in this process; the time to its N-th done record, and to its exit."""
    from mruntime.bundle import files as F
    from mruntime.bundle.worker import Worker

    settings = F.get_json(F.path(root, F.ALLOC, "a1", "worker.json"))
    worker = Worker(root, "a1", settings=settings, end=time.time() + settings["walltime"])
    marks = {"count": 0, "last": None}
    record_done = worker._done

    def counted_done(*args, **kwargs):      # the worker's own method; we only note when the N-th is written
        record_done(*args, **kwargs)
        marks["count"] += 1
        if marks["count"] == steps:
            marks["last"] = time.perf_counter()

    worker._done = counted_done
    began = time.perf_counter()
    if profile is not None:
        profile.enable()
    code = worker.run()
    if profile is not None:
        profile.disable()
    ended = time.perf_counter()
    if code != 0 or marks["last"] is None:
        raise RuntimeError(f"the worker exited {code} after {marks['count']} of {steps} steps in {root}")
    failed = 0
    for name in os.listdir(F.path(root, F.DONE)):
        with open(F.path(root, F.DONE, name), "rb") as handle:
            failed += json.loads(handle.read()).get("exit_code") != 0
    if failed:
        raise RuntimeError(f"{failed} steps failed in {root}")
    return {"s": marks["last"] - began, "exit_s": ended - began, "steps": marks["count"]}


def profile_worker(out: str, steps: int) -> dict:
    root = os.path.join(out, "profile-worker")
    prepare_worker(root, steps)
    os.sync()
    profile = cProfile.Profile()
    timing = run_worker(root, steps, profile)
    text = {}
    for key in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profile, stream=buffer).strip_dirs().sort_stats(key).print_stats(25)
        text[key] = buffer.getvalue()
    with open(os.path.join(out, "profile.txt"), "w", encoding="utf-8") as handle:
        handle.write(f"worker under cProfile, {steps} steps: {timing['s']:.3f} s to the last done record\n\n")
        handle.write(text["tottime"] + "\n" + text["cumulative"])
    stats = pstats.Stats(profile).stats
    top = sorted(((v[2], v[3], v[1], f"{os.path.basename(k[0])}:{k[1]}({k[2]})") for k, v in stats.items()),
                 reverse=True)[:15]
    return {"s": timing["s"], "file": os.path.join(out, "profile.txt"),
            "top_tottime": [{"function": name, "tottime_s": round(tt, 4), "cumtime_s": round(ct, 4), "calls": n}
                            for tt, ct, n, name in top]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    cores = node_cores()
    runs = {"xargs": [], "worker": []}
    for number in range(args.rounds):
        for side in (("xargs", "worker") if number % 2 == 0 else ("worker", "xargs")):
            root = os.path.join(out, f"r{number}-{side}")
            (prepare_xargs if side == "xargs" else prepare_worker)(root, args.steps)
            os.sync()        # the set-up's writes must not land inside the timed run
            result = run_xargs(root, args.steps, cores) if side == "xargs" else run_worker(root, args.steps)
            result["round"] = number
            runs[side].append(result)
            print(f"round {number} {side}: {result['s']:.3f} s", file=sys.stderr, flush=True)
    best = {side: min(r["s"] for r in rs) for side, rs in runs.items()}
    doc = {
        "steps": args.steps, "cores": cores, "node": socket.gethostname(),
        "job": os.environ.get("SLURM_JOB_ID"), "rounds": args.rounds,
        "xargs_command": XARGS.format(cores=cores),
        "runs": runs,
        "xargs_s": best["xargs"], "worker_s": best["worker"],
        "xargs_median_s": statistics.median(r["s"] for r in runs["xargs"]),
        "worker_median_s": statistics.median(r["s"] for r in runs["worker"]),
        "worker_exit_s": min(r["exit_s"] for r in runs["worker"]),
        "xargs_steps_per_s": args.steps / best["xargs"], "worker_steps_per_s": args.steps / best["worker"],
        "worker/xargs": best["worker"] / best["xargs"],
        "load_1min": os.getloadavg()[0],
    }
    if args.profile == "always" or (args.profile == "auto" and doc["worker/xargs"] > TARGET):
        doc["profile"] = profile_worker(out, args.steps)
    with open(os.path.join(out, "dispatch.json"), "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=2)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
