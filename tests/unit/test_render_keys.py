"""Content keys of step instances (mrender.keys): what is in a key, what is not, meta/keys.json."""

import json
import os
import time
from pathlib import Path

import jsonschema
import pytest

from mrender.core import write_study
from mrender.keys import KEYS_FILE, instance_keys, read_keys
from mshared.errors import InvalidInput
from mshared.statefile import read_state
from mshared.times import utcnow

from expand_helpers import by_id, expand_text

SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "keys"

SPEC = """
description: {name: k, description: d}
env:
  variables: {OUTPUT_PATH: ./out, N: "4"}
study:
  - {name: prep, description: d, run: {cmd: echo prep > $(WORKSPACE)/p.txt}}
  - name: sim
    description: d
    run: {cmd: 'cat $(prep.workspace)/p.txt; echo $(X) $(N) > $(OUTPUT_PATH)/x', depends: [prep]}
  - {name: post, description: d, run: {cmd: 'ls $(sim.workspace)', depends: [sim_*]}}
  - {name: alone, description: d, run: {cmd: echo alone}}
global.parameters:
  X: {values: [1, 2], label: X.%%}
"""


def keys_of(spec: str, **kwargs) -> dict:
    dag, _ = expand_text(spec, **kwargs)
    return {sid: record["key"] for sid, record in instance_keys(dag).items()}


def test_every_instance_has_a_key_and_the_parts_that_explain_it():
    dag, _ = expand_text(SPEC)
    records = instance_keys(dag)
    assert list(records) == [s["id"] for s in dag["steps"]]
    record = records["sim_X.1"]
    assert len(record["key"]) == 64 and record["workspace"] == "sim/X.1"
    assert set(record["parts"]) == {"header", "command", "spacing", "params", "inputs"}
    assert len({r["key"] for r in records.values()}) == len(records)


def test_the_key_does_not_depend_on_the_study_directory(tmp_path):
    """Rendered at two places, the same DAG has the same keys: the scripts differ only by the root."""
    dag, _ = expand_text(SPEC)
    roots = [write_study(dag, str(tmp_path / name), {}, now=utcnow()) for name in ("one", "deeper/two")]
    docs = [json.loads(Path(root, KEYS_FILE).read_text()) for root in roots]
    assert docs[0] == docs[1]
    assert str(tmp_path) in Path(roots[0], "sim", "X.1", "sim_X.1.sh").read_text()   # the scripts do differ


@pytest.mark.parametrize("edit,changed", [
    ("echo prep >", {"prep", "sim_X.1", "sim_X.2", "post"}),        # a parent: everything below it
    ("echo $(X) $(N)", {"sim_X.1", "sim_X.2", "post"}),
    ("ls $(sim.workspace)", {"post"}),
    ("echo alone", {"alone"}),
])
def test_a_changed_command_changes_its_key_and_its_descendants_and_nothing_else(edit, changed):
    before = keys_of(SPEC)
    after = keys_of(SPEC.replace(edit, edit.replace("echo", "echo -n").replace("ls", "ls -a"), 1))
    assert {sid for sid in before if before[sid] != after[sid]} == changed


def test_a_parameter_value_changes_only_its_instances_and_the_funnel():
    before = keys_of(SPEC)
    after = keys_of(SPEC.replace("values: [1, 2]", "values: [1, 3]"))
    assert set(after) - set(before) == {"sim_X.3"}
    assert {sid for sid in before if sid in after and before[sid] != after[sid]} == {"post"}


def test_the_scheduler_header_is_in_the_key():
    slurm = SPEC.replace("study:\n", "batch: {type: slurm, queue: q}\nstudy:\n", 1).replace(
        "depends: [prep]}", "depends: [prep], procs: 1}")
    base, other = keys_of(slurm), keys_of(slurm.replace("queue: q", "queue: r"))
    assert base["sim_X.1"] != other["sim_X.1"]
    assert base["alone"] == other["alone"]           # unscheduled: '#!/bin/bash', whatever the queue


def test_spec_location_counts_only_where_a_command_uses_it():
    spec = SPEC.replace("echo alone", "echo $(SPECROOT)")
    one, two = keys_of(spec), keys_of(spec, cwd="/elsewhere")
    assert one == two       # cwd is not in a key; $(SPECROOT) is /specs in both


def test_known_parents_let_a_grown_study_key_its_new_instances():
    dag, _ = expand_text(SPEC)
    full = instance_keys(dag)
    tail = {**dag, "steps": [s for s in dag["steps"] if s["step"] == "post"]}
    known = {sid: r["key"] for sid, r in full.items() if sid.startswith("sim_")}
    assert instance_keys(tail, known=known)["post"]["key"] == full["post"]["key"]
    with pytest.raises(InvalidInput, match="step 'post': parent 'sim_X.1' has no key"):
        instance_keys(tail)


# ------------------------------------------------------------------ declared inputs
def inputs_spec(path: Path, content: bool = False) -> str:
    return SPEC.replace("study:\n", f"reuse:\n  content: {str(content).lower()}\n  inputs:\n"
                        f"    sim: ['{path}']\nstudy:\n", 1)


def test_an_input_counts_by_size_and_mtime_by_default(tmp_path):
    data = tmp_path / "mesh.dat"
    data.write_text("abc")
    first = keys_of(inputs_spec(data))
    assert keys_of(inputs_spec(data)) == first
    stamp = data.stat().st_mtime_ns + 5_000_000_000
    os.utime(data, ns=(stamp, stamp))                 # touched: same bytes, a new time
    touched = keys_of(inputs_spec(data))
    assert {sid for sid in first if first[sid] != touched[sid]} == {"sim_X.1", "sim_X.2", "post"}


def test_an_input_compared_by_content_ignores_a_touch_but_not_an_edit(tmp_path):
    data = tmp_path / "mesh.dat"
    data.write_text("abc")
    first = keys_of(inputs_spec(data, content=True))
    os.utime(data, ns=(time.time_ns() + 10**10,) * 2)
    assert keys_of(inputs_spec(data, content=True)) == first
    data.write_text("abd")
    assert keys_of(inputs_spec(data, content=True))["sim_X.1"] != first["sim_X.1"]


def test_a_missing_or_odd_input_is_one_clear_error(tmp_path):
    with pytest.raises(InvalidInput, match=r"declared input '.*/nope' does not exist"):
        keys_of(inputs_spec(tmp_path / "nope"))
    with pytest.raises(InvalidInput, match="is a directory"):
        keys_of(inputs_spec(tmp_path, content=True))
    with pytest.raises(InvalidInput, match="is not a regular file"):
        keys_of(inputs_spec(tmp_path))


# ------------------------------------------------------------------ meta/keys.json
@pytest.fixture
def study(tmp_path):
    dag, _ = expand_text(SPEC)
    return write_study(dag, str(tmp_path / "study"), {}, now=utcnow())


def test_keys_json_is_described_by_its_schema_and_read_back(study):
    doc = json.loads(Path(study, KEYS_FILE).read_text())
    jsonschema.validate(doc, json.loads((SCHEMAS / "keys.v1.schema.json").read_text()))
    state = read_state(study)
    assert doc["dag_sha256"] == state["study"]["dag_sha256"]
    assert read_keys(study, state) == doc["steps"]


def test_keys_json_golden(study, update_goldens):
    """The key format is a contract: the same DAG keeps its keys across releases of the same format."""
    text = Path(study, KEYS_FILE).read_text()
    path = GOLDEN / "k.keys.json"
    if update_goldens or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"keys changed: {path} (--update-goldens rewrites it; then bump the key format)"


@pytest.mark.parametrize("edit,message", [
    (lambda d: "{", "not valid JSON"),
    (lambda d: json.dumps({**d, "version": 2}), "version 2 is newer"),
    (lambda d: json.dumps({**d, "dag_sha256": "0" * 64}), "not the keys of the study's dag.json"),
    (lambda d: json.dumps({**d, "steps": {**d["steps"], "prep": {**d["steps"]["prep"], "key": 3}}}),
     "step 'prep' has no valid key record"),
])
def test_a_damaged_keys_file_is_refused(study, edit, message):
    path = Path(study, KEYS_FILE)
    path.write_text(edit(json.loads(path.read_text())))
    with pytest.raises(InvalidInput, match=message):
        read_keys(study, read_state(study))


def test_a_study_without_keys_reads_as_none(study):
    os.unlink(Path(study, KEYS_FILE))
    assert read_keys(study, read_state(study)) is None


def test_inputs_as_seen_are_recorded(tmp_path):
    data = tmp_path / "mesh.dat"
    data.write_text("abc")
    dag, _ = expand_text(inputs_spec(data))
    record = by_id({"steps": [dict(r, id=i) for i, r in instance_keys(dag).items()]})["sim_X.1"]
    assert record["inputs"] == [{"path": str(data), "size": 3, "mtime_ns": data.stat().st_mtime_ns}]


def test_a_workspace_outside_the_old_study_is_refused_before_copying(study, tmp_path):
    """A hand-edited keys file must not make a --reuse run copy files from elsewhere."""
    from mrender.core import plan_reuse

    path = Path(study, KEYS_FILE)
    doc = json.loads(path.read_text())
    doc["steps"]["prep"]["workspace"] = "../../etc"
    path.write_text(json.dumps(doc))
    from mshared.studydir import edit_state

    edit_state(study, lambda state, dag: [e.update(state="FINISHED") for e in state["steps"].values()])
    dag, _ = expand_text(SPEC)
    plan = plan_reuse(dag, study)
    with pytest.raises(InvalidInput, match=r"step 'prep' has no valid workspace \('\.\./\.\./etc'\)"):
        write_study(dag, str(tmp_path / "new"), {}, now=utcnow(), reuse=plan)
    assert not (tmp_path / "new").exists()
