"""What a row of the benchmark table shows: the figures of a case (medians, ratios), its targets
checked, the table itself and how each side scales with P."""

from __future__ import annotations

import math

from harness import SIDES, Case, SideResult


# ---------------------------------------------------------------------------------------------
# Figures of a row

def row_figures(case: Case, results: dict[str, SideResult]) -> dict:
    fig = {}
    for name, side in case.sides():
        res = results.get(side.key)
        fig[f"{name}_s"] = (res.best_s if case.best else res.time_s) if res else None
        fig[f"{name}_mb"] = res.peak_mb if res else None
        fig[f"{name}_n"] = res.n if res else 0
        for extra in {k for e in (res.extras if res else []) for k in e}:
            fig[f"{name}_{extra}"] = res.extra(extra)
            fig[f"{name}_{extra}_min"] = res.extra(extra, min)
    for key in [k for k in fig if k.startswith("ours_") and not k.endswith(("_min", "_s", "_mb", "_n"))]:
        extra = key[len("ours_"):]
        if f"floor_{extra}" in fig:     # a figure both sides counted: its ratio too
            fig[f"ours/floor_{extra}"] = _ratio(fig[key], fig[f"floor_{extra}"])
    fig["ours/maestro"] = _ratio(fig.get("ours_s"), fig.get("maestro_s"))
    fig["ours/floor"] = _ratio(fig.get("ours_s"), fig.get("floor_s"))
    fig["maestro/floor"] = _ratio(fig.get("maestro_s"), fig.get("floor_s"))
    return fig


_OPS = {"<": lambda v, limit: v < limit, "<=": lambda v, limit: v <= limit,
        "==": lambda v, limit: v == limit}


def _ratio(a, b):
    return a / b if a is not None and b else None


def check_targets(case: Case, fig: dict) -> list[dict]:
    out = []
    for target in case.targets:
        value = fig.get(target.metric)
        status = "n/a" if value is None else ("PASS" if _OPS[target.op](value, target.limit) else "FAIL")
        low = fig.get(target.metric + "_min")    # a counted figure: "==" must hold for every run
        if status == "PASS" and target.op == "==" and low is not None and low != value:
            status = "FAIL"
        out.append({"case": case.label, "target": target.label, "metric": target.metric,
                    "op": target.op, "limit": target.limit, "value": value, "status": status})
    return out


# ---------------------------------------------------------------------------------------------
# Output

def fmt_s(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def fmt_mb(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def fmt_ratio(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def table(rows: list[tuple[Case, dict]]) -> str:
    head = ["workload", "P", "n o/m/f", "ours s", "ours MB", "Maestro s", "Maestro MB",
            "floor s", "floor MB", "ours/Maestro", "ours/floor", "Maestro/floor"]
    body = []
    for case, fig in rows:
        n = "/".join(str(fig.get(f"{s}_n", 0)) if getattr(case, s) else "-" for s in SIDES)
        body.append([case.workload + (" (best)" if case.best else ""), "-" if case.p is None else f"{case.p:,}", n,
                     fmt_s(fig.get("ours_s")), fmt_mb(fig.get("ours_mb")),
                     fmt_s(fig.get("maestro_s")), fmt_mb(fig.get("maestro_mb")),
                     fmt_s(fig.get("floor_s")), fmt_mb(fig.get("floor_mb")),
                     fmt_ratio(fig.get("ours/maestro")), fmt_ratio(fig.get("ours/floor")),
                     fmt_ratio(fig.get("maestro/floor"))])
    widths = [max(len(str(r[i])) for r in [head] + body) for i in range(len(head))]
    left = {0}
    line = lambda r: "  ".join(str(c).ljust(w) if i in left else str(c).rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    rule = "-" * len(line(head))
    return "\n".join([line(head), rule] + [line(r) for r in body])


def scaling(rows: list[tuple[Case, dict]], threshold: float = 15.0) -> list[dict]:
    """For every workload measured at several P: growth of time and memory per 10x of P."""
    out = []
    by_workload: dict[str, list[tuple[int, dict]]] = {}
    for case, fig in rows:
        if case.p is not None:
            by_workload.setdefault(case.workload, []).append((case.p, fig))
    for name, points in by_workload.items():
        points.sort(key=lambda pf: pf[0])
        for side in SIDES:
            series = [(p, f.get(f"{side}_s"), f.get(f"{side}_mb")) for p, f in points
                      if f.get(f"{side}_s") is not None]
            if len(series) < 2:
                continue
            steps = []
            for (p1, t1, m1), (p2, t2, m2) in zip(series, series[1:]):
                decades = math.log10(p2 / p1)
                per10 = (t2 / t1) ** (1 / decades) if t1 > 0 and decades > 0 else None
                steps.append({"from": p1, "to": p2, "time_ratio": t2 / t1 if t1 else None,
                              "time_per_10x": per10, "mem_ratio": m2 / m1 if m1 else None,
                              "superlinear": per10 is not None and per10 > threshold})
            out.append({"workload": name, "side": side, "points": [
                {"p": p, "time_s": t, "peak_mb": m} for p, t, m in series], "steps": steps})
    return out


def scaling_text(entries: list[dict]) -> str:
    lines = []
    for entry in entries:
        parts = [f"{_p(entry['points'][0]['p'])} {fmt_s(entry['points'][0]['time_s'])} s"]
        flags = []
        for step, point in zip(entry["steps"], entry["points"][1:]):
            parts.append(f"{_p(point['p'])} {fmt_s(point['time_s'])} s (x{step['time_ratio']:.1f} time, "
                         f"x{step['mem_ratio']:.1f} memory)")
            if step["superlinear"]:
                flags.append(f"{_p(step['from'])}->{_p(step['to'])}: x{step['time_per_10x']:.1f} per 10x")
        flag = "  SUPER-LINEAR " + "; ".join(flags) if flags else ""
        lines.append(f"  {entry['workload']} [{entry['side']}]: " + " -> ".join(parts) + flag)
    return "\n".join(lines)


def _p(p: int) -> str:
    return f"{p // 1000}k" if p >= 1000 and p % 1000 == 0 else str(p)
