"""Studies that grow, made with the tools' cores in a temporary directory (unit tests of mextend)."""

import os
import textwrap

from mexpand.core import expand_file
from mrender.core import write_study
from mshared.statefile import read_state, write_state
from mshared.times import utcnow

LOOP = """
description: {name: loop, description: a study that grows}
extend:
  parameters:
    X: {label: X.%%}
  decide: decide
  result: result.json
study:
  - {name: setup, description: s, run: {cmd: echo setup}}
  - {name: sim, description: 'sim $(X) in round $(STUDY_ITER)', run: {cmd: 'echo $(X) > result.json', depends: [setup]}}
  - {name: decide, description: d, run: {cmd: 'ls $(sim.workspace)', depends: [sim_*]}}
"""


def make(tmp_path, spec=LOOP, name="study", settings=None) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(spec))
    dag, _ = expand_file(str(path), cwd=str(tmp_path))
    return write_study(dag, str(tmp_path / name), settings or {}, now=utcnow())


def finish(root: str, *ids: str) -> None:
    """Mark steps FINISHED in the state, as a pass would once their jobs ended."""
    state = read_state(root)
    for sid in ids or list(state["steps"]):
        state["steps"][sid].update(state="FINISHED", exit_code=0)
    write_state(root, state)


def snapshot(root: str) -> dict:
    """Every file of the study (path -> bytes), to show that nothing changed."""
    out = {}
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(base, name)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out
