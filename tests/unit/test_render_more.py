"""mrender for studies that grow: add_steps writes new instances' workspaces and scripts into an
existing study (the scripts a whole render writes), and a spec with an extend block gets the
state's extension record from the start."""

import os

import pytest

from expand_helpers import expand_text
from mexpand.core import expand_combinations
from mrender.core import add_steps, write_study
from mshared.errors import InvalidInput
from mshared.statefile import read_state
from mshared.times import utcnow

SPEC = """
description: {name: more, description: d}
batch: {type: slurm, queue: debug}
global.parameters:
  X: {values: [1, 2], label: X.%%}
study:
  - {name: sim, description: 's $(X)', run: {cmd: '$(LAUNCHER) echo $(X) > $(WORKSPACE)/out', procs: 1}}
  - {name: post, description: p, run: {cmd: 'ls $(sim.workspace)', depends: [sim_*]}}
"""


def files(root):
    out = {}
    for base, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".sh"):
                path = os.path.join(base, name)
                out[os.path.relpath(path, root)] = open(path, "rb").read().replace(root.encode(), b"<ROOT>")
    return out


def test_new_scripts_are_those_a_whole_render_writes(tmp_path):
    dag, _ = expand_text(SPEC)
    root = write_study(dag, str(tmp_path / "grown"), {}, now=utcnow())
    found = expand_combinations(dag, [{"X": 3}], round_no=2)
    made = add_steps(dag, found.steps, root)
    assert "sim/X.3" in made and "post/ROUND.2" in made
    whole, _ = expand_text(SPEC.replace("[1, 2]", "[1, 2, 3]"))
    other = write_study(whole, str(tmp_path / "whole"), {}, now=utcnow())
    grown = files(root)
    assert grown["sim/X.3/sim_X.3.slurm.sh"] == files(other)["sim/X.3/sim_X.3.slurm.sh"]
    assert os.access(os.path.join(root, "sim/X.3/sim_X.3.slurm.sh"), os.X_OK)
    assert b"ls <ROOT>/sim\n" in grown["post/ROUND.2/post_ROUND.2.slurm.sh"]
    # again, as after an interruption before the commit: the same bytes are left as they are
    add_steps(dag, found.steps, root)


def test_a_file_in_the_way_is_refused_and_left_alone(tmp_path):
    dag, _ = expand_text(SPEC)
    root = write_study(dag, str(tmp_path / "s"), {}, now=utcnow())
    found = expand_combinations(dag, [{"X": 3}], round_no=2)
    os.makedirs(os.path.join(root, "sim", "X.3"))
    mine = os.path.join(root, "sim", "X.3", "sim_X.3.slurm.sh")
    open(mine, "w").write("my own file\n")
    with pytest.raises(InvalidInput, match="exists with other content, where a new step's script goes"):
        add_steps(dag, found.steps, root)
    assert open(mine).read() == "my own file\n"
    os.remove(mine)
    add_steps(dag, found.steps, root)


def test_scripts_of_a_usetmp_study_go_to_its_scripts_directory(tmp_path):
    dag, _ = expand_text(SPEC)
    root = write_study(dag, str(tmp_path / "s"), {"usetmp": True}, now=utcnow())
    scripts = read_state(root)["study"]["scripts_dir"]
    found = expand_combinations(dag, [{"X": 3}], round_no=2)
    add_steps(dag, found.steps, root, scripts_dir=scripts)
    assert os.path.isfile(os.path.join(scripts, "sim_X.3.slurm.sh"))
    assert os.path.isdir(os.path.join(root, "sim", "X.3"))
    assert not os.path.exists(os.path.join(root, "sim", "X.3", "sim_X.3.slurm.sh"))


def test_a_new_workspace_may_not_take_the_name_of_the_studys_files(tmp_path):
    dag, _ = expand_text("""
        description: {name: n, description: d}
        extend: {parameters: {X: {}}}
        study:
          - {name: setup, description: s, run: {cmd: echo}}
          - {name: meta, description: s, run: {cmd: 'echo $(X)'}}
        """)
    root = write_study(dag, str(tmp_path / "s"), {}, now=utcnow())
    found = expand_combinations(dag, [{"X": 1}], round_no=2)
    with pytest.raises(InvalidInput, match="workspace 'meta' would overwrite mrender's own files"):
        add_steps(dag, found.steps, root)


def test_a_spec_with_an_extend_block_renders_the_extension_record(tmp_path):
    dag, _ = expand_text("""
        description: {name: n, description: d}
        extend: {parameters: {X: {}}, max_rounds: 7}
        study:
          - {name: sim, description: s, run: {cmd: 'echo $(X)'}}
        """)
    root = write_study(dag, str(tmp_path / "s"), {}, now=utcnow())
    state = read_state(root)
    assert state["steps"] == {}
    assert state["extension"] == {"round": 0, "max_rounds": 7, "done": False, "rounds": [], "requests": {}}
    plain, _ = expand_text(SPEC)
    assert "extension" not in read_state(write_study(plain, str(tmp_path / "p"), {}, now=utcnow()))
