"""Old studies for the reuse tests: rendered by mrender's core, their steps then set to given
states through mshared.studydir.edit_state (as a pass would), with an output file per workspace."""

import os
from pathlib import Path

from mrender.core import plan_reuse, write_study
from mshared.studydir import edit_state
from mshared.times import utcnow

from expand_helpers import expand_text

SPEC = """
description: {name: r, description: d}
env:
  variables: {OUTPUT_PATH: ./out}
study:
  - {name: prep, description: d, run: {cmd: echo prep > $(WORKSPACE)/prep.txt}}
  - name: sim
    description: d
    run: {cmd: 'echo $(X) > out.txt', depends: [prep]}
  - {name: post, description: d, run: {cmd: 'cat $(sim.workspace)/*/out.txt > all.txt', depends: [sim_*]}}
global.parameters:
  X: {values: [1, 2, 3], label: X.%%}
"""


def make_study(tmp_path: Path, name: str, spec: str = SPEC, states: dict | None = None,
               default: str = "FINISHED", reuse: str | None = None) -> str:
    """Render ``spec`` at tmp_path/name and mark its steps ``default`` (or ``states[id]``), each
    with a job id and an output file in its workspace, as if it had run."""
    dag, _ = expand_text(spec, cwd=str(tmp_path))
    root = str(tmp_path / name)
    plan = plan_reuse(dag, reuse, root=root) if reuse else None
    write_study(dag, root, {}, now=utcnow(), reuse=plan)
    states = states or {}

    def change(state, dag_):
        for number, step in enumerate(dag_["steps"]):
            entry = state["steps"][step["id"]]
            if entry.get("reused_from"):
                continue
            job = str(1000 + number)
            entry.update(state=states.get(step["id"], default), job_id=job, jobs=[job], attempts=1,
                         started="2026-01-01T00:00:00Z", ended="2026-01-01T00:00:01Z", exit_code=0)
            Path(root, step["workspace"], "result.txt").write_text(f"{step['id']} in {name}\n")
            Path(root, step["workspace"], f"{step['stem']}.{job}.out").write_text("")

    edit_state(root, change)
    return root


def new_dag(tmp_path: Path, spec: str = SPEC) -> dict:
    dag, _ = expand_text(spec, cwd=str(tmp_path))
    return dag


def decisions(plan) -> dict:
    return {d.id: (d.action, d.why) for d in plan.decisions}


def files(root: str) -> dict:
    """relative path -> bytes of every file under root (not following links)."""
    out = {}
    for base, dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                out[os.path.relpath(path, root)] = Path(path).read_bytes()
    return out
