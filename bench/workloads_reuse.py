"""Reusing a finished run (issue 19): planning at 100,000 instances, and a re-run that changes one
of 10,000 parameter values.  Imported at the end of workloads.py.

  reuse-plan   `mrender --reuse OLD --why-json -o DIR/new NEW_DAG`: the plan of a 100,000-instance
               study (gen_study P=100,000, one X value changed; NEW_DAG expanded beforehand) against
               a finished old study, printed and nothing written; against bench/floor_plan.py (orjson
               reads the three documents, one sha256 per instance, one lookup).  Target (issue 19.5):
               under 3 s.  Full mode adds `maestro run --reuse OLD --why-json SPEC` (the same plan with
               the expansion of the spec), figure only.
  reuse-run    `maestro run -fg -y --reuse OLD -o DIR/out NEW_SPEC` on gen_study P=10,000 with one X
               value changed: the changed sim and the funnel (post) run, prep and the 9,999 other sims
               are reused (their workspaces copied); against the same two instances alone,
               `maestro run -fg -y -o DIR/out ALONE_SPEC` (the changed sim and post, nothing else).
               Steps sleep 1 s (gen_study --sleep 1): with instant steps the row would compare a
               10,000-instance study's fixed costs (expand, render 10,000 scripts, copy 40,000 files)
               with two instant jobs, so full mode adds that row too, figure only.  Target (issue
               19.5): ours <= 2x the instances alone, best of several runs, sides interleaved.

The old studies are built once per run, untimed (bench/reuse_setup.py: rendered by mrender's core,
every step marked FINISHED with the files a local job leaves; reuse-plan's without workspaces,
which planning never reads).  Every repeat writes its new study into a fresh directory, so nothing
is deleted between timed runs (bench/README.md: this VM's file-creation quirk).
"""

from __future__ import annotations

import re
from pathlib import Path

from harness import Case, Context, Run, Side, Target, workload

K = 1000
PLAN_P = 100 * K
RUN_P = 10 * K
CHANGED = 2                 # the X value that changes: X 2 becomes NEW_VALUE (Y keeps its value)
NEW_VALUE = 9_999_999
STEP_SECONDS = 1


def _changed(text: str) -> str:
    """The spec with one X value changed (one sim instance: new id, new key)."""
    new, count = re.subn(r"(\n  X:\n    values: \[0, 1, )2, ", rf"\g<1>{NEW_VALUE}, ", text, count=1)
    if count != 1:
        raise RuntimeError("gen_study's template changed: cannot change one X value")
    return new


def _alone(text: str) -> str:
    """Only the changed instance and the funnel over it: the sim with its one value, post; no prep."""
    text = _changed(text)
    head, sep, rest = text.partition("  - name: prep\n")
    _, sep2, rest = rest.partition("  - name: sim\n")
    if not (sep and sep2):
        raise RuntimeError("gen_study's template changed: no prep step")
    text = head + sep2 + rest.replace("      depends: [prep]\n", "", 1)
    xs = re.search(r"\n  X:\n    values: \[([^\]]*)\]", text)
    ys = re.search(r"\n  Y:\n    values: \[([^\]]*)\]", text)
    x_values, y_values = xs.group(1).split(", "), ys.group(1).split(", ")
    at = x_values.index(str(NEW_VALUE))
    text = text.replace(xs.group(0), f"\n  X:\n    values: [{NEW_VALUE}]", 1)
    return text.replace(ys.group(0), f"\n  Y:\n    values: [{y_values[at]}]", 1)


def _write(ctx: Context, name: str, text: str) -> Path:
    path = ctx.work / "specs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return path


def _old(ctx: Context, spec: Path, name: str, *, workspaces: bool) -> Path:
    """The finished old study of ``spec``, built once per run (untimed)."""
    import reuse_setup

    root = ctx.work / "reuse-old" / name
    if (root / "state.json").exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    dag = reuse_setup.expand(ctx.ours("mexpand"), spec, ctx.work, root.parent / f"{name}.dag.json")
    return reuse_setup.finished_study(dag, root, workspaces=workspaces)


def _have(ctx: Context) -> bool:
    missing = [c for c in ("mexpand", "mrender", "maestro") if not ctx.available(c)]
    if missing:
        ctx.notes.append(f"skipped reuse-plan, reuse-run: {', '.join(missing)} not available (make install)")
    return not missing


@workload("reuse-plan")
def reuse_plan(ctx: Context) -> list[Case]:
    if not _have(ctx):
        return []
    base = ctx.spec(PLAN_P)
    new_spec = _write(ctx, f"reuse_new_p{PLAN_P}.yaml", _changed(base.read_text()))
    state = {}

    def new_dag() -> Path:
        if "dag" not in state:
            import reuse_setup

            state["old"] = _old(ctx, base, f"plan_p{PLAN_P}", workspaces=False)
            state["dag"] = reuse_setup.expand(ctx.ours("mexpand"), new_spec, ctx.work,
                                              ctx.work / "reuse-old" / f"new_p{PLAN_P}.dag.json")
        return state["dag"]

    def ours(d: Path) -> Run:
        dag = new_dag()
        return Run([[ctx.ours("mrender"), "--reuse", str(state["old"]), "--why-json", "-o", str(d / "new"), str(dag)]])

    def floor(d: Path) -> Run:
        dag = new_dag()
        return Run([[ctx.python(), ctx.bench_script("floor_plan.py"), str(dag), str(state["old"])]])

    reps = ctx.repeats(5, 2)
    cases = [Case(
        workload="reuse-plan", p=PLAN_P,
        ours=Side(f"mrender-reuse-why/{PLAN_P}", ours, repeats=reps,
                  describe="mrender --reuse OLD --why-json -o DIR/new NEW.dag.json (100,000 instances, one X "
                           "value changed; OLD finished, NEW.dag.json expanded beforehand)"),
        floor=Side(f"floor-plan/{PLAN_P}", floor, repeats=reps,
                   describe="python bench/floor_plan.py NEW.dag.json OLD"),
        targets=[Target("issue 19.5: plan < 3 s", "ours_s", 3.0)],
        reserve=ctx.repeats(45, 30),     # the first builds the old study and expands both specs
    )]
    if not ctx.quick:
        def wrapper(d: Path) -> Run:
            new_dag()
            return Run([[ctx.ours("maestro"), "run", "--reuse", str(state["old"]), "--why-json", "-o",
                         str(d / "new"), str(new_spec)]])

        cases.append(Case(
            workload="reuse-plan maestro run", p=PLAN_P,
            ours=Side(f"maestro-run-reuse-why/{PLAN_P}", wrapper, repeats=3,
                      describe="maestro run --reuse OLD --why-json -o DIR/new NEW.yaml (expands the spec too)"),
            reserve=20,
        ))
    return cases


def _run_case(ctx: Context, sleep: float, *, target: bool) -> Case:
    base = ctx.spec(RUN_P, sleep=sleep) if sleep else ctx.spec(RUN_P)
    tag = f"sleep{sleep:g}" if sleep else "instant"
    new_spec = _write(ctx, f"reuse_new_p{RUN_P}_{tag}.yaml", _changed(base.read_text()))
    alone = _write(ctx, f"reuse_alone_{tag}.yaml", _alone(base.read_text()))

    def ours(d: Path) -> Run:
        old = _old(ctx, base, f"run_p{RUN_P}_{tag}", workspaces=True)
        return Run([[ctx.ours("maestro"), "run", "-fg", "-y", "--reuse", str(old), "-o", str(d / "out"), str(new_spec)]])

    def floor(d: Path) -> Run:
        return Run([[ctx.ours("maestro"), "run", "-fg", "-y", "-o", str(d / "out"), str(alone)]])

    what = f"{sleep:g} s steps" if sleep else "instant steps"
    reps = ctx.repeats(5, 3)
    return Case(
        workload="reuse-run" + ("" if target else " instant"), p=RUN_P,
        ours=Side(f"maestro-run-reuse/{RUN_P}/{tag}", ours, repeats=reps, writes=True,
                  describe=f"maestro run -fg -y --reuse OLD -o DIR/out NEW.yaml (10,002 instances, {what}, one X "
                           "value changed: 2 run, 10,000 reused)"),
        floor=Side(f"maestro-run-alone/{tag}", floor, repeats=reps, writes=True,
                   describe=f"maestro run -fg -y -o DIR/out ALONE.yaml (the changed sim and post alone, {what})"),
        targets=[Target("issue 19.5: ours <= 2x those instances alone", "ours/floor", 2.0, "<=")] if target else [],
        reserve=ctx.repeats(60, 35) if target else 30,   # the first builds the old study (10,002 workspaces)
        best=True,
    )


@workload("reuse-run")
def reuse_run(ctx: Context) -> list[Case]:
    if not _have(ctx):
        return []
    cases = [_run_case(ctx, STEP_SECONDS, target=True)]
    if not ctx.quick:
        cases.append(_run_case(ctx, 0, target=False))
    return cases
