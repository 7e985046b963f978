"""The bundle block's settings on the command line (docs/bundles.md, "Settings"): mexpand checks
and writes them (dag.json study.bundle), msubmit and `maestro run` override them (--bundle,
--no-bundle: state.json settings.bundle), `maestro update --allocations` changes them; a bad
setting is one line naming the file, `bundle` and the key, exit 65, nothing written."""

import json
import textwrap
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from maestro_cli.cli import main as maestro
from mexpand.cli import main as mexpand
from mshared.contracts import parse_dag
from mshared.errors import InvalidInput
from mshared.jsonio import dumps
from msubmit.cli import main as msubmit

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "specs"

SPEC = """\
description: {name: bundled, description: d}
batch: {type: slurm, host: h, bank: b, queue: q}
BUNDLE
study:
  - {name: prep, description: d, run: {cmd: echo prep}}
  - {name: sim, description: d, run: {cmd: "echo $(P)", procs: 1, walltime: "00:10:00", depends: [prep]}}
  - {name: wide, description: d, run: {cmd: echo wide, nodes: 4, procs: 8, walltime: "00:20:00", depends: [sim_*]}}
global.parameters:
  P: {values: [1, 2, 3], label: P.%%}
"""
BLOCK = 'bundle: {nodes: 2, walltime: "01:00:00", allocations: 3}'


def spec_text(block=BLOCK, batch="batch: {type: slurm, host: h, bank: b, queue: q}"):
    return SPEC.replace("BUNDLE", block).replace("batch: {type: slurm, host: h, bank: b, queue: q}", batch)


def invoke(command, args, input=None):
    name = {mexpand: "mexpand", msubmit: "msubmit", maestro: "maestro"}[command]
    return CliRunner().invoke(command, args, input=input, catch_exceptions=False, prog_name=name)


def one_line_error(result, tool, *needles):
    assert result.exit_code == 65, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tool}: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def schema(name):
    return json.loads(resources.files("mshared").joinpath(f"schemas/{name}.v1.schema.json").read_text())


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def expand(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return invoke(mexpand, [str(path)])


# ------------------------------------------------------------------ mexpand
def test_the_block_goes_into_the_dag_normalised(in_tmp):
    result = expand(in_tmp, spec_text())
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""            # ours, like extend: no "unknown top-level block" warning
    dag = json.loads(result.stdout)
    assert dag["study"]["bundle"] == {"nodes": 2, "walltime": 3600, "allocations": 3, "cores": None, "gpus": 0,
                                      "steps": None, "linger": 30, "margin": 30}
    jsonschema.validate(dag, schema("dag"))
    parse_dag(result.stdout_bytes, "dag.json")


def test_a_spec_without_the_block_has_no_study_bundle(in_tmp):
    result = expand(in_tmp, spec_text(block=""))
    assert result.exit_code == 0, result.stderr
    assert "bundle" not in json.loads(result.stdout)["study"]
    assert b'"bundle"' not in result.stdout_bytes


def test_the_corpus_example_expands(in_tmp):
    result = invoke(mexpand, [str(CORPUS / "bundle_slurm.yaml")])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    dag = json.loads(result.stdout)
    assert dag["study"]["bundle"]["steps"] == ["sim"] and dag["study"]["batch"]["type"] == "slurm"
    assert [s["resources"].get("procs") for s in dag["steps"] if s["step"] == "sim"] == [1] * 4
    jsonschema.validate(dag, schema("dag"))


@pytest.mark.parametrize("block,batch,needles", [
    ('bundle: {nodes: 0, walltime: "01:00:00", allocations: 3}', None, ("bundle.nodes", "at least 1")),
    ('bundle: {nodes: 2, walltime: "00:05:00", allocations: 3}', None, ("bundle.walltime", "shortest step")),
    ('bundle: {nodes: 2, walltime: "01:00:00", allocations: 3, steps: [sim, wide]}', None,
     ("bundle.steps", "'wide'", "can never fit", "4 nodes")),
    ('bundle: {nodes: 2, walltime: "01:00:00", allocations: 3, steps: [nope]}', None, ("bundle.steps", "'nope'")),
    ('bundle: {nodes: 2, walltime: "01:00:00", allocations: 3, steps: [prep]}', None, ("bundle.steps", "'prep'")),
    ('bundle: {nodes: 2, walltime: "01:00:00", allocations: 3, tasks: 4}', None, ("bundle", "unknown key 'tasks'")),
    ('bundle: {nodes: 2, walltime: "01:00:00"}', None, ("bundle", "'allocations' is missing")),
    ('bundle: {nodes: 2, walltime: "soon", allocations: 3}', None, ("bundle.walltime", "soon")),
    ("bundle: 4", None, ("bundle must be a mapping",)),
    (BLOCK, "batch: {type: local}", ("bundle", "batch scheduler", "slurm, lsf, flux or pbs")),
    (BLOCK, "", ("bundle", "batch scheduler", "batch.type")),
])
def test_bad_settings_are_one_line_naming_the_file_bundle_and_the_key(in_tmp, block, batch, needles):
    text = spec_text(block) if batch is None else spec_text(block, batch)
    result = expand(in_tmp, text, "study.yaml")
    one_line_error(result, "mexpand", "study.yaml: ", *needles)
    assert result.stdout == ""


def test_a_study_that_starts_without_instances_checks_the_step_names(in_tmp):
    text = textwrap.dedent("""\
        description: {name: grows, description: d}
        batch: {type: slurm}
        bundle: {nodes: 1, walltime: 60, allocations: 1, steps: [STEPS]}
        extend: {parameters: {X: {label: X.%%}}}
        study:
          - {name: sim, description: d, run: {cmd: "echo $(X)", procs: 1}}
        """)
    assert expand(in_tmp, text.replace("STEPS", "sim")).exit_code == 0
    one_line_error(expand(in_tmp, text.replace("STEPS", "nope")), "mexpand", "bundle.steps", "'nope'")


# ------------------------------------------------------------------ the DAG contract
def good_dag(tmp_path):
    return json.loads(expand(tmp_path, spec_text()).stdout)


@pytest.mark.parametrize("change", [
    lambda b: b.update(nodes=0), lambda b: b.update(walltime="1:00:00"), lambda b: b.pop("linger"),
    lambda b: b.update(extra=1), lambda b: b.update(steps=[]), lambda b: b.update(cores=True),
])
def test_a_malformed_study_bundle_is_refused_by_the_contract_and_the_schema(in_tmp, change):
    dag = good_dag(in_tmp)
    change(dag["study"]["bundle"])
    with pytest.raises(InvalidInput, match=r"dag\.json: study\.bundle"):
        parse_dag(dumps(dag), "dag.json")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dag, schema("dag"))


def test_a_study_bundle_without_a_batch_scheduler_is_refused_by_the_contract(in_tmp):
    dag = good_dag(in_tmp)
    dag["study"]["batch"] = {"type": "local"}
    with pytest.raises(InvalidInput, match="batch scheduler"):
        parse_dag(dumps(dag), "dag.json")


# ------------------------------------------------------------------ msubmit
@pytest.fixture
def study(in_tmp):
    """A rendered dry-run study (nothing reaches a scheduler) of the spec with the block."""
    from mexpand.core import expand_file
    from mrender.core import write_study
    from mshared.times import utcnow

    def make(block=BLOCK, name="study"):
        (in_tmp / f"{name}.yaml").write_text(spec_text(block))
        dag, _ = expand_file(str(in_tmp / f"{name}.yaml"), cwd=str(in_tmp))
        return write_study(dag, str(in_tmp / name), {"dry": True}, now=utcnow())

    return make


def state(root):
    return json.loads(Path(root, "state.json").read_text())


def test_msubmit_saves_the_override_in_the_state(study):
    root = study()
    result = invoke(msubmit, [root, "--bundle", "allocations=5", "--bundle", "steps=sim"])
    assert result.exit_code == 0, result.stderr
    doc = state(root)
    assert doc["settings"]["bundle"] == {"allocations": 5, "steps": ["sim"]}
    jsonschema.validate(doc, schema("state"))
    invoke(msubmit, [root, "--bundle", "walltime=2:00:00"])       # merged into the override there
    assert state(root)["settings"]["bundle"] == {"allocations": 5, "steps": ["sim"], "walltime": "2:00:00"}
    assert invoke(msubmit, [root, "--no-bundle"]).exit_code == 0
    assert state(root)["settings"]["bundle"] == {"off": True}
    jsonschema.validate(state(root), schema("state"))


def test_msubmit_without_the_options_leaves_the_state_without_a_bundle_setting(study):
    root = study()
    assert invoke(msubmit, [root, "-t", "2"]).exit_code == 0
    assert "bundle" not in state(root)["settings"]


@pytest.mark.parametrize("args,needles", [
    (["--bundle", "nodes=0"], ("--bundle.nodes", "at least 1")),
    (["--bundle", "nodes=two"], ("--bundle", "nodes must be a whole number")),
    (["--bundle", "tasks=2"], ("--bundle", "unknown key 'tasks'")),
    (["--bundle", "walltime=5"], ("--bundle.walltime", "shortest step")),
    (["--bundle", "steps=wide"], ("--bundle.steps", "can never fit")),
    (["--bundle", "margin=3600"], ("--bundle.margin",)),
])
def test_msubmit_refuses_a_bad_value_before_anything_is_submitted(study, args, needles):
    root = study()
    before = Path(root, "state.json").read_bytes()
    result = invoke(msubmit, [root, *args])
    one_line_error(result, "msubmit", *needles)
    assert result.stdout == ""
    assert Path(root, "state.json").read_bytes() == before
    assert {s["state"] for s in state(root)["steps"].values()} == {"INITIALIZED"}


def test_msubmit_needs_a_whole_override_for_a_study_without_a_block(study):
    root = study(block="")
    one_line_error(invoke(msubmit, [root, "--bundle", "allocations=2"]), "msubmit",
                   "--bundle", "no bundle block", "missing: nodes, walltime")
    assert "bundle" not in state(root)["settings"]
    result = invoke(msubmit, [root, "--bundle", "nodes=1", "--bundle", "walltime=60", "--bundle", "allocations=2"])
    assert result.exit_code == 0, result.stderr
    assert state(root)["settings"]["bundle"] == {"nodes": 1, "walltime": "60", "allocations": 2}


def test_msubmit_bundle_and_no_bundle_exclude_each_other(study):
    root = study()
    result = invoke(msubmit, [root, "--bundle", "nodes=1", "--no-bundle"])
    assert result.exit_code == 2 and "exclude each other" in result.stderr


def test_msubmit_checks_every_study_before_submitting_any(study):
    good, bare = study(), study(block="", name="bare")
    result = invoke(msubmit, [good, bare, "--bundle", "allocations=4"])
    one_line_error(result, "msubmit", "bare", "no bundle block")
    assert {s["state"] for s in state(good)["steps"].values()} == {"INITIALIZED"}


# ------------------------------------------------------------------ maestro run
def test_maestro_run_saves_the_override(in_tmp):
    (in_tmp / "spec.yaml").write_text(spec_text())
    result = invoke(maestro, ["run", "-n", "-o", "out", "spec.yaml", "--bundle", "allocations=6",
                              "--bundle", "cores=36"])
    assert result.exit_code == 0, result.stderr
    doc = state(in_tmp / "out")
    assert doc["settings"]["bundle"] == {"allocations": 6, "cores": 36}
    jsonschema.validate(doc, schema("state"))
    result = invoke(maestro, ["run", "-n", "-o", "off", "spec.yaml", "--no-bundle"])
    assert result.exit_code == 0, result.stderr
    assert state(in_tmp / "off")["settings"]["bundle"] == {"off": True}
    assert invoke(maestro, ["run", "-n", "-o", "plain", "spec.yaml"]).exit_code == 0
    assert "bundle" not in state(in_tmp / "plain")["settings"]


@pytest.mark.parametrize("text,args,needles", [
    (spec_text(), ["--bundle", "gpus=-1"], ("--bundle.gpus",)),
    (spec_text(), ["--bundle", "walltime=00:01:00"], ("--bundle.walltime",)),
    (spec_text(block=""), ["--bundle", "allocations=2"], ("--bundle", "no bundle block")),
    (spec_text(block="", batch="batch: {type: local}"),
     ["--bundle", "nodes=1", "--bundle", "walltime=60", "--bundle", "allocations=1"], ("--bundle", "batch scheduler")),
])
def test_maestro_run_refuses_a_bad_override_before_writing_anything(in_tmp, text, args, needles):
    (in_tmp / "spec.yaml").write_text(text)
    result = invoke(maestro, ["run", "-y", "-o", "out", "spec.yaml", *args])
    one_line_error(result, "maestro run", *needles)
    assert not (in_tmp / "out").exists()


def test_maestro_run_bundle_and_no_bundle_exclude_each_other(in_tmp):
    (in_tmp / "spec.yaml").write_text(spec_text())
    result = invoke(maestro, ["run", "-n", "-o", "out", "spec.yaml", "--bundle", "nodes=1", "--no-bundle"])
    assert result.exit_code == 2 and "exclude each other" in result.stderr
    assert not (in_tmp / "out").exists()


def test_the_render_core_checks_an_override_it_is_given(in_tmp):
    from mexpand.core import expand_file
    from mrender.core import write_study
    from mshared.times import utcnow

    (in_tmp / "spec.yaml").write_text(spec_text())
    dag, _ = expand_file(str(in_tmp / "spec.yaml"), cwd=str(in_tmp))
    for bad in ({"nodes": "2"}, {"nodes": 0}, {"steps": ["nope"]}):
        with pytest.raises(InvalidInput, match="setting 'bundle'"):
            write_study(dag, str(in_tmp / "out"), {"bundle": bad}, now=utcnow())
    assert not (in_tmp / "out").exists()


# ------------------------------------------------------------------ maestro update --allocations
def test_maestro_update_allocations(study):
    root = study()
    result = invoke(maestro, ["update", root, "--allocations", "8", "--throttle", "2"])
    assert result.exit_code == 0, result.stderr
    assert "Updating most allocations in flight from 3 to 8" in result.stderr
    assert state(root)["settings"]["bundle"] == {"allocations": 8}
    assert state(root)["settings"]["throttle"] == 2
    invoke(msubmit, [root, "--bundle", "nodes=4"])
    assert invoke(maestro, ["update", root, "--allocations", "2"]).exit_code == 0
    assert state(root)["settings"]["bundle"] == {"allocations": 2, "nodes": 4}   # merged into the override


def test_maestro_update_allocations_refuses_a_study_without_a_bundle(study):
    bare = study(block="", name="bare")
    before = Path(bare, "state.json").read_bytes()
    one_line_error(invoke(maestro, ["update", bare, "--allocations", "2", "--throttle", "5"]),
                   "maestro update", "--allocations", "no bundle")
    assert Path(bare, "state.json").read_bytes() == before     # the throttle is not changed either
    off = study(name="off")
    invoke(msubmit, [off, "--no-bundle"])
    one_line_error(invoke(maestro, ["update", off, "--allocations", "2"]), "maestro update", "turned off")


def test_maestro_update_allocations_must_be_at_least_one(study):
    result = invoke(maestro, ["update", study(), "--allocations", "0"])
    assert result.exit_code == 2


# ------------------------------------------------------------------ docs/bundles.md
def test_the_settings_page_documents_every_key_and_shows_the_corpus_example():
    import re

    from mshared.bundlesettings import DEFAULTS, KEYS

    text = (Path(__file__).resolve().parents[2] / "docs" / "bundles.md").read_text()
    settings = text[text.index("## Settings"):text.index("## How it works")]
    for key in KEYS:
        assert re.search(rf"^\| `{key}` \|", settings, re.M), f"docs/bundles.md: no row for {key}"
    for key, default in DEFAULTS.items():
        if default is not None:
            assert re.search(rf"^\| `{key}` \|[^\n]*\| `{default}` \|", settings, re.M), key
    for option in ("--bundle KEY=VALUE", "--no-bundle", "maestro update STUDY_DIR --allocations N"):
        assert option in settings
    shown = re.search(r"```yaml\n(description:.*?)```", settings, re.S).group(1)
    spec = (CORPUS / "bundle_slurm.yaml").read_text()
    assert shown == spec[spec.index("description:"):]
