"""The spec's `reuse` block: declared input files per step, substituted per instance into the DAG."""

import pytest

from mshared.errors import InvalidInput

from expand_helpers import HELLO_BYE, by_id, expand_text

SPEC = """
description: {name: s, description: d}
env:
  variables: {DATA: /data}
reuse:
  inputs:
    sim: [mesh.dat, "$(DATA)/p_$(X).txt", {path: "$(SPECROOT)/big.h5", content: true}]
study:
  - {name: prep, description: d, run: {cmd: echo prep}}
  - {name: sim, description: d, run: {cmd: echo $(X), depends: [prep]}}
global.parameters:
  X: {values: [1, 2], label: X.%%}
"""


def test_inputs_are_substituted_per_instance_and_made_absolute():
    dag, warnings = expand_text(SPEC, cwd="/work")
    steps = by_id(dag)
    assert steps["sim_X.2"]["inputs"] == [
        {"path": "/work/mesh.dat", "content": False}, {"path": "/data/p_2.txt", "content": False},
        {"path": "/specs/big.h5", "content": True}]
    assert "inputs" not in steps["prep"]          # only where declared: other DAGs are unchanged
    assert not any("reuse" in w for w in warnings)  # a known block, not "unknown top-level block"


def test_block_level_content_is_the_default_of_every_input():
    dag, _ = expand_text(SPEC.replace("reuse:\n", "reuse:\n  content: true\n"))
    assert [i["content"] for i in by_id(dag)["sim_X.1"]["inputs"]] == [True, True, True]


def test_inputs_never_decide_the_expansion():
    """Maestro does not see the block: a parameter only an input names does not expand the step."""
    spec = SPEC.replace("run: {cmd: echo $(X), depends: [prep]}", "run: {cmd: echo sim, depends: [prep]}")
    with pytest.raises(InvalidInput, match=r"step 'sim': input '/data/p_\$\(X\).txt' still has a \$\(\.\.\.\) token"):
        expand_text(spec)


def test_a_dag_without_the_block_is_byte_for_byte_what_it_was():
    dag, _ = expand_text(HELLO_BYE)
    assert not any("inputs" in s for s in dag["steps"])


@pytest.mark.parametrize("block,message", [
    ("reuse: [a]", "'reuse' must be a mapping"),
    ("reuse: {files: {}}", "Unrecognized key 'files' found in reuse"),
    ("reuse: {content: yes please}", "reuse.content must be true or false"),
    ("reuse: {inputs: {nope: [a]}}", "reuse.inputs names step 'nope', which is not a step"),
    ("reuse: {inputs: {sim: []}}", "reuse.inputs.sim must be a non-empty list"),
    ("reuse: {inputs: {sim: [{path: a, by: content}]}}", "Unrecognized key 'by' found in reuse.inputs.sim"),
    ("reuse: {inputs: {sim: [3]}}", "every file must be a non-empty path"),
    ("reuse: {inputs: {sim: ['$(OUTPUT_PATH)/x']}}", "is inside the study"),
    ("reuse: {inputs: {sim: ['$(prep.workspace)/x']}}", "is inside the study"),
])
def test_a_bad_block_is_one_clear_error(block, message):
    spec = SPEC.split("reuse:")[0] + block + "\nstudy:" + SPEC.split("study:")[1]
    with pytest.raises(InvalidInput, match=message):
        expand_text(spec)


def test_the_dag_schema_describes_the_inputs_field():
    import json
    import os

    import jsonschema

    schema = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "schemas",
                                         "dag.v1.schema.json")))
    dag, _ = expand_text(SPEC)
    jsonschema.validate(dag, schema)
