"""A reuse plan shown before anything runs (--why): the `maestro.reuse-plan` JSON document and
a text table, one line per instance, and the one-line summary the commands print on stderr."""

from mshared.jsonio import dumps

from .reuse import PLAN_SCHEMA, PLAN_VERSION, REASONS, RUN, ReusePlan

HEADERS = ("ACTION", "WHY", "STEP", "DETAIL")


def plan_document(plan: ReusePlan, dag: dict, root: str | None) -> dict:
    """The plan as a `maestro.reuse-plan` version 1 document (docs/contracts.md)."""
    counts = plan.counts()
    return {
        "schema": PLAN_SCHEMA, "version": PLAN_VERSION,
        "study": {"name": dag["study"]["name"], "root": root},
        "old": {"root": plan.old.root, "keys": "recomputed" if plan.old.recomputed else "stored"},
        "summary": {"instances": len(plan.decisions), "reuse": counts["reuse"], "run": counts["run"],
                    "why": _ordered(counts["why"])},
        "warnings": list(plan.warnings),
        "steps": [{"id": d.id, "step": d.step, "action": d.action, "why": d.why, "detail": d.detail,
                   "from": d.source} for d in plan.decisions],
    }


def plan_json(plan: ReusePlan, dag: dict, root: str | None) -> bytes:
    return dumps(plan_document(plan, dag, root))


def summary_line(plan: ReusePlan) -> str:
    """'reuse 9,999 of 10,002 instances from OLD; run 3 (new 1, parent 2)'."""
    counts = plan.counts()
    line = f"reuse {counts['reuse']:,} of {len(plan.decisions):,} instances from {plan.old.root}"
    if counts[RUN]:
        why = ", ".join(f"{reason} {n:,}" for reason, n in _ordered(counts["why"]).items())
        line += f"; run {counts[RUN]:,} ({why})"
    if plan.old.recomputed:
        line += "; its keys were computed again from its dag.json (it kept none)"
    return line


def plan_table(plan: ReusePlan) -> str:
    """The summary line, then ACTION, WHY, STEP (the instance id) and DETAIL, one line each."""
    rows = [(d.action, d.why, d.id, d.detail) for d in plan.decisions]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(HEADERS[:3])]
    line = ("%%-%ds  %%-%ds  %%-%ds  %%s" % tuple(widths)).__mod__
    body = [line(HEADERS).rstrip()] + [line(r).rstrip() for r in rows]
    return "\n".join([f"Plan: {summary_line(plan)}", *(f"warning: {w}" for w in plan.warnings), "", *body]) + "\n"


def _ordered(why: dict) -> dict:
    return {reason: why[reason] for reason in REASONS if why.get(reason)}
