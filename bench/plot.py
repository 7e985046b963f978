#!/usr/bin/env python3
"""Plot time against P from bench/results.json: ours beside Maestro's (and the floor), log-log.

    .bench-venv/bin/python bench/plot.py bench/results.json bench/scaling.png

Runs in .bench-venv (matplotlib), never in the project's venv.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"ours": ("tab:blue", "o-", "ours"), "maestro": ("tab:red", "s--", "Maestro 1.2.1 --dry"),
         "floor": ("tab:gray", "^:", "floor")}


def main(source: str, target: str) -> int:
    with open(source, encoding="utf-8") as handle:
        doc = json.load(handle)
    series = [s for s in doc["scaling"]]
    workloads = list(dict.fromkeys(s["workload"] for s in series))
    if not workloads:
        print("plot.py: nothing measured at several P", file=sys.stderr)
        return 1
    fig, axes = plt.subplots(1, len(workloads), figsize=(5.5 * len(workloads), 4.5), squeeze=False)
    for ax, name in zip(axes[0], workloads):
        for entry in (s for s in series if s["workload"] == name):
            color, style, label = STYLE.get(entry["side"], ("black", "x-", entry["side"]))
            ps = [pt["p"] for pt in entry["points"]]
            ts = [pt["time_s"] for pt in entry["points"]]
            ax.plot(ps, ts, style, color=color, label=label)
            for p, t in zip(ps, ts):
                ax.annotate(f"{t:.2g} s", (p, t), textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("P (parameter combinations)")
        ax.set_ylabel("wall time, s (median)")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    meta = doc.get("meta", {})
    fig.suptitle(f"prep -> sim (P) -> post; {meta.get('cpus')} CPUs, {meta.get('date')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
