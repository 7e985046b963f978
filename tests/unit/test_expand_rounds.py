"""mexpand for studies that grow: the extend block, the round tokens, and expand_combinations
(new combinations of an expanded spec, expanded by the same code; funnels one instance a round)."""

import pytest

from expand_helpers import by_id, expand_text
from mexpand.core import expand_combinations
from mexpand.more import RowError
from mshared.contracts import validate_dag
from mshared.errors import InvalidInput

LOOP = """
description: {name: loop, description: d}
extend:
  parameters:
    X: {label: X.%%}
  decide: decide
  max_rounds: 5
  result: result.json
study:
  - {name: setup, description: s, run: {cmd: echo setup}}
  - {name: sim, description: 'sim $(X) round $(STUDY_ITER)', run: {cmd: 'echo $(X) > result.json', depends: [setup]}}
  - {name: decide, description: d, run: {cmd: 'ls $(sim.workspace); echo $(ENCORE_ITER)', depends: [sim_*]}}
  - {name: report, description: r, run: {cmd: 'cat $(decide.workspace)/x', depends: [decide]}}
"""

ZIPPED = """
description: {name: z, description: d}
global.parameters:
  X: {values: [1, 2], label: X.%%}
  Y: {values: [a, b], label: Y.%%}
study:
  - {name: prep, description: p, run: {cmd: 'echo $(X)'}}
  - {name: sim, description: s, run: {cmd: 'echo $(X) $(Y)', depends: [prep]}}
  - {name: post, description: p, run: {cmd: 'echo post', depends: [sim_*]}}
"""


def grow(dag, rows, round_no):
    """Apply an expansion to ``dag`` as mextend commits it."""
    found = expand_combinations(dag, rows, round_no=round_no)
    dag["steps"] += found.steps
    dag["study"]["parameters"] = found.table
    return found


# ------------------------------------------------------------------ the extend block
def test_the_block_goes_into_the_dag_and_an_empty_start_is_a_valid_dag():
    dag, warnings = expand_text(LOOP)
    assert warnings == []
    assert dag["study"]["extend"] == {"decide": ["decide"], "max_rounds": 5, "result": "result.json", "open": False}
    assert dag["study"]["parameters"] == {"order": ["X"], "count": 0, "params": {"X": {"name": "X", "values": [],
                                                                                     "labels": []}}}
    assert [s["id"] for s in dag["steps"]] == ["setup", "decide", "report"]
    only_sims, _ = expand_text("""
        description: {name: o, description: d}
        extend: {parameters: {X: {}}}
        study:
          - {name: sim, description: s, run: {cmd: 'echo $(X)'}}
        """)
    assert only_sims["steps"] == []
    validate_dag(only_sims, "dag")           # no instance yet: valid, the study takes them later
    del only_sims["study"]["extend"]
    with pytest.raises(InvalidInput, match="DAG has no steps"):
        validate_dag(only_sims, "dag")


def test_a_spec_without_the_block_has_no_extend_in_its_dag():
    dag, _ = expand_text(ZIPPED)
    assert "extend" not in dag["study"] and all("round" not in s for s in dag["steps"])


@pytest.mark.parametrize("block,message", [
    ("extend: [1]", "'extend' must be a mapping"),
    ("extend: {nope: 1}", "Unrecognized key 'nope' found in extend; allowed: parameters, decide, max_rounds, result, open"),
    ("extend: {max_rounds: 0}", "extend.max_rounds must be a whole number >= 1, not 0"),
    ("extend: {max_rounds: true}", "extend.max_rounds must be a whole number >= 1"),
    ("extend: {result: ../up.json}", "extend.result must be a file name inside the workspace"),
    ("extend: {result: /abs}", "extend.result must be a file name inside the workspace"),
    ("extend: {open: yes please}", "extend.open must be true or false"),
    ("extend: {decide: [1]}", "extend.decide must be a step name or a list of step names"),
    ("extend: {decide: nope}", "extend.decide names 'nope', which is not a step of the study"),
    ("extend: {parameters: {'a b': {}}}", "extend.parameters: parameter name 'a b' must be letters"),
    ("extend: {parameters: {X: {label: ''}}}", "extend.parameters.X.label must be a non-empty one-line string"),
    ("extend: {parameters: {X: {values: [1]}}}", "extend.parameters.X must be a mapping with at most 'label'"),
])
def test_a_bad_block_is_one_clear_error(block, message):
    with pytest.raises(InvalidInput, match="spec.yaml: " + message.replace("(", r"\(").replace("[", r"\[")):
        expand_text(f"""
description: {{name: b, description: d}}
{block}
study:
  - {{name: sim, description: s, run: {{cmd: echo}}}}
""")


def test_extend_parameters_and_global_parameters_do_not_mix():
    with pytest.raises(InvalidInput, match="extend.parameters is for a study that starts without combinations"):
        expand_text(ZIPPED + "extend: {parameters: {Z: {}}}\n")


def test_extend_parameters_and_a_pgen_do_not_mix():
    table = {"order": ["P"], "count": 1, "params": {"P": {"name": "P", "values": [1], "labels": ["P.1"]}}}
    with pytest.raises(InvalidInput, match="extend.parameters and --pgen both give the study's parameters"):
        expand_text(LOOP, pgen={"filename": "g.py", "text": "", "pargs": [], "table": table})


def test_the_round_tokens_are_one_in_the_rendered_study_and_known():
    dag, warnings = expand_text(LOOP)
    assert by_id(dag)["decide"]["cmd"] == "ls $(sim.workspace); echo 1"
    assert not [w for w in warnings if "ITER" in w]


# ------------------------------------------------------------------ expand_combinations
def test_new_combinations_add_their_instances_and_a_funnel_instance_for_the_round():
    dag, _ = expand_text(LOOP)
    found = grow(dag, [{"X": 1}, {"X": 2}], 2)
    steps = {s["id"]: s for s in found.steps}
    assert list(steps) == ["sim_X.1", "sim_X.2", "decide_ROUND.2", "report_ROUND.2"]
    assert steps["sim_X.1"]["depends"] == ["setup"] and steps["sim_X.1"]["round"] == 2
    assert steps["sim_X.1"]["description"] == "sim 1 round 2"
    assert steps["decide_ROUND.2"] == {**steps["decide_ROUND.2"], "depends": ["sim_X.1", "sim_X.2"],
                                       "workspace": "decide/ROUND.2", "stem": "decide_ROUND.2",
                                       "cmd": "ls $(sim.workspace); echo 2", "workspace_refs": {"sim": "sim"}}
    assert steps["report_ROUND.2"]["depends"] == ["decide_ROUND.2"]
    assert steps["report_ROUND.2"]["workspace_refs"] == {"decide": "decide/ROUND.2"}
    assert [r.added for r in found.rows] == [["sim_X.1"], ["sim_X.2"]]
    assert found.table["params"]["X"] == {"name": "X", "values": [1, 2], "labels": ["X.1", "X.2"]}
    validate_dag(dag, "grown")

    later = grow(dag, [{"X": 3}], 3)
    assert [s["id"] for s in later.steps] == ["sim_X.3", "decide_ROUND.3", "report_ROUND.3"]
    assert by_id(dag)["decide_ROUND.3"]["depends"] == ["sim_X.3"]     # the earlier ones had ended
    validate_dag(dag, "grown")
    # instances still going when a round is made: its funnel waits for them as well
    still = expand_combinations(dag, [{"X": 4}], round_no=4, unfinished={"sim_X.2", "setup"})
    assert by_id({"steps": still.steps})["decide_ROUND.4"]["depends"] == ["sim_X.2", "sim_X.4"]


def test_a_combination_the_study_has_adds_nothing_and_names_its_instances():
    dag, _ = expand_text(ZIPPED)
    found = grow(dag, [{"X": 1, "Y": "a"}, {"X": 3, "Y": "c"}, {"X": 3, "Y": "c"}], 2)
    assert [s["id"] for s in found.steps] == ["prep_X.3", "sim_X.3.Y.c", "post_ROUND.2"]
    assert found.rows[0].duplicate and found.rows[0].existing == ["prep_X.1", "sim_X.1.Y.a"]
    assert found.rows[1].added == ["prep_X.3", "sim_X.3.Y.c"]
    assert found.rows[2].duplicate and found.rows[2].existing == ["prep_X.3", "sim_X.3.Y.c"]
    assert found.table["count"] == 3
    # a new Y with a known X: the prep instance is shared, only the sim is new
    shared = grow(dag, [{"X": 1, "Y": "z"}], 3)
    assert [s["id"] for s in shared.steps] == ["sim_X.1.Y.z", "post_ROUND.3"]
    assert by_id(dag)["sim_X.1.Y.z"]["depends"] == ["prep_X.1"]


def test_values_that_give_the_same_labels_add_nothing():
    dag, _ = expand_text(ZIPPED)
    found = grow(dag, [{"X": "1", "Y": "a"}], 2)     # "1" is not 1, but names the same instances
    assert found.steps == [] and found.rows[0].existing == ["prep_X.1", "sim_X.1.Y.a"]
    assert found.table["count"] == 2


def test_a_number_and_its_float_are_two_combinations():
    dag, _ = expand_text(ZIPPED)
    found = grow(dag, [{"X": 1.0, "Y": "a"}], 2)
    assert [s["id"] for s in found.steps] == ["prep_X.1.0", "sim_X.1.0.Y.a", "post_ROUND.2"]


@pytest.mark.parametrize("row,message", [
    ({"X": 1}, "parameter 'Y' is missing; give every one of: X, Y"),
    ({"X": 1, "Y": "a", "Z": 2}, "unknown parameter 'Z'; the study's parameters are: X, Y"),
    ({"X": [1], "Y": "a"}, r"parameter 'X': \[1\] is not a string or a number; give a scalar value"),
    ({"X": None, "Y": "a"}, "parameter 'X': None is not a string or a number"),
    ({"X": {"a": 1}, "Y": "a"}, "parameter 'X': .* is not a string or a number"),
    ({"X": 2 ** 70, "Y": "a"}, "is too large a number for the DAG; give it as a string"),
    ([1, 2], "a combination must be a JSON object of parameter: value"),
])
def test_a_bad_row_names_its_index(row, message):
    dag, _ = expand_text(ZIPPED)
    with pytest.raises(RowError, match=message) as err:
        expand_combinations(dag, [{"X": 5, "Y": "e"}, row], round_no=2)
    assert err.value.row == 1 and err.value.exit_code == 65


@pytest.mark.parametrize("value", ["..", "../../etc", "/abs", "a\nb"])
def test_a_label_that_cannot_name_a_workspace_inside_the_study_is_refused(value):
    dag, _ = expand_text("""
        description: {name: l, description: d}
        global.parameters:
          X: {values: [1], label: '%%'}
        study:
          - {name: sim, description: s, run: {cmd: 'echo $(X)'}}
        """)
    with pytest.raises(RowError, match="cannot name a workspace inside the study; change the value"):
        expand_combinations(dag, [{"X": value}], round_no=2)


def test_a_study_without_parameters_takes_no_combinations():
    dag, _ = expand_text("""
        description: {name: n, description: d}
        study:
          - {name: a, description: s, run: {cmd: echo}}
        """)
    with pytest.raises(InvalidInput, match="the study has no parameters, so it takes no combinations"):
        expand_combinations(dag, [{}], round_no=2)


def test_labels_come_from_the_spec_templates_or_key_dot_value():
    dag, _ = expand_text("""
        description: {name: t, description: d}
        global.parameters:
          X: {values: [1], label: 'x-is-%%'}
          Y: {values: [a], label: [first]}
        study:
          - {name: sim, description: s, run: {cmd: 'echo $(X) $(Y)'}}
        """)
    found = grow(dag, [{"X": 2, "Y": "b"}], 2)
    assert [s["id"] for s in found.steps] == ["sim_x-is-2.Y.b"]


def test_hashws_names_new_instances_after_the_old_ones():
    dag, _ = expand_text(ZIPPED, hashws=True)
    found = grow(dag, [{"X": 3, "Y": "c"}], 2)
    sim = by_id(dag)["sim_X.3.Y.c"]
    assert sim["workspace"] == "sim/sim_instance_2" and sim["stem"] == "sim_instance_2"
    assert {s["workspace"] for s in found.steps}.isdisjoint({s["workspace"] for s in dag["steps"][:5]})


def test_new_instances_are_those_of_the_spec_with_every_combination():
    """Growing a study gives the instances (names, commands, workspaces, parents) a spec with all
    the combinations from the start has: the same code expands them."""
    dag, _ = expand_text(ZIPPED)
    grow(dag, [{"X": 3, "Y": "c"}], 2)
    whole, _ = expand_text(ZIPPED.replace("[1, 2]", "[1, 2, 3]").replace("[a, b]", "[a, b, c]"))
    keys = ("id", "cmd", "workspace", "depends", "stem", "params")
    grown = {s["id"]: {k: s[k] for k in keys} for s in dag["steps"] if s["params"]}
    assert grown == {s["id"]: {k: s[k] for k in keys} for s in whole["steps"] if s["params"]}


def test_a_grown_dag_and_an_empty_start_follow_the_published_schema():
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("mshared").joinpath("schemas/dag.v1.schema.json").read_text())
    dag, _ = expand_text(LOOP)
    jsonschema.validate(dag, schema)
    grow(dag, [{"X": 1}, {"X": "b"}], 2)
    jsonschema.validate(dag, schema)
