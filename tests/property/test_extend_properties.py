"""Properties of growing a study (mexpand.core.expand_combinations, as mextend commits it), over
generated specs and combinations: the same combinations twice add what they add once; two batches
add the instances one batch of both adds; the instances are those of a spec that had every
combination from the start; the grown DAG is valid."""

import copy

from hypothesis import assume, given, strategies as st

from mexpand.core import expand_combinations
from mshared.contracts import validate_dag
from test_expand_properties import VALUES, run, specs

SAFE = st.one_of(st.integers(-50, 500), st.text(alphabet="abcxyz019", min_size=1, max_size=4))


def grow(dag, rows, round_no):
    found = expand_combinations(dag, rows, round_no=round_no)
    dag["steps"] += found.steps
    dag["study"]["parameters"] = found.table
    return found


def with_params(draw_spec):
    spec = draw_spec
    assume(spec.get("global.parameters"))
    return spec


@st.composite
def studies(draw, values=VALUES):
    spec = with_params(draw(specs()))
    keys = list(spec["global.parameters"])
    rows = draw(st.lists(st.fixed_dictionaries({k: values for k in keys}), min_size=1, max_size=4))
    more = draw(st.lists(st.fixed_dictionaries({k: values for k in keys}), max_size=3))
    return spec, rows, more


def param_instances(dag, spec):
    """The instances of steps that use parameters, with their parents but those through a funnel:
    an instance funnels over the instances its funnel parent has when it is made (later rounds
    add theirs to a later round's instances, never to one that may have run).  A parent of a step
    without parameters is named by its step (its round's instance depends on the batches)."""
    from mexpand.core import FUNNEL

    funnels = {s["name"]: {FUNNEL.sub("", d) for d in s["run"]["depends"] if "*" in d} for s in spec["study"]}
    steps = {s["id"]: s for s in dag["steps"]}
    keys = ("cmd", "workspace", "stem", "params")
    return {s["id"]: {**{k: s[k] for k in keys},
                      "depends": [d if steps[d]["params"] else steps[d]["step"] for d in s["depends"]
                                  if steps[d]["step"] not in funnels[s["step"]]]}
            for s in dag["steps"] if s["params"]}


@given(studies())
def test_the_same_combinations_twice_add_what_they_add_once(case):
    spec, rows, _ = case
    dag, _ = run(spec)
    grow(dag, rows, 2)
    once = copy.deepcopy(dag)
    again = grow(dag, rows, 3)
    assert again.steps == [] and all(r.duplicate for r in again.rows)
    assert dag == once
    validate_dag(dag, "grown")


@given(studies())
def test_two_batches_add_the_instances_of_one_batch_of_both(case):
    spec, rows, more = case
    split, _ = run(spec)
    grow(split, rows, 2)
    grow(split, more, 3)
    whole, _ = run(spec)
    grow(whole, rows + more, 2)
    assert param_instances(split, spec) == param_instances(whole, spec)
    assert split["study"]["parameters"] == whole["study"]["parameters"]
    validate_dag(split, "grown")


@given(studies(values=SAFE))
def test_new_instances_are_those_of_the_spec_with_every_combination(case):
    spec, rows, _ = case
    dag, _ = run(spec)
    found = grow(dag, rows, 2)
    table = found.table
    whole_spec = copy.deepcopy(spec)
    for key, entry in whole_spec["global.parameters"].items():
        entry["values"] = list(table["params"][key]["values"])
    whole, _ = run(whole_spec)
    assert param_instances(dag, spec) == param_instances(whole, spec)
