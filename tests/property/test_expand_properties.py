"""Properties of expansion over generated specs: valid DAGs, deterministic, never a traceback."""

import json

import yaml
from hypothesis import given, strategies as st

from mexpand.core import expand
from mshared.contracts import validate_dag
from mshared.errors import InvalidInput
from mshared.jsonio import dumps

NAMES = st.text(alphabet="abcdefgh-_", min_size=1, max_size=6)
VALUES = st.one_of(st.integers(-5, 500), st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=6))


@st.composite
def specs(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    params = draw(st.lists(st.sampled_from(["P", "Q", "R"]), unique=True, max_size=3))
    count = draw(st.integers(1, 4))
    steps = []
    for index, name in enumerate(names):
        earlier = names[:index]
        parents = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)) if earlier else []
        parents = [p + "_*" if draw(st.booleans()) else p for p in parents]
        used = draw(st.lists(st.sampled_from(params), unique=True)) if params else []
        cmd = "echo " + " ".join(f"$({p})" for p in used) + " x"
        if earlier and draw(st.booleans()):
            cmd += f" $({draw(st.sampled_from(earlier))}.workspace)"
        steps.append({"name": name, "description": "d", "run": {"cmd": cmd, "depends": parents}})
    spec = {"description": {"name": "gen", "description": "d"}, "study": steps}
    if params:
        spec["global.parameters"] = {
            p: {"values": draw(st.lists(VALUES, min_size=count, max_size=count)), "label": f"{p}.%%"}
            for p in params}
    return spec


def run(spec, hashws=False):
    text = yaml.safe_dump(spec)
    return expand(spec, source="gen.yaml", spec_text=text, spec_path="/s/gen.yaml", specroot="/s",
                  cwd="/w", hashws=hashws)


@given(specs(), st.booleans())
def test_expansion_is_a_valid_topologically_ordered_dag(spec, hashws):
    dag, _ = run(spec, hashws)
    validate_dag(dag, "gen")  # ids unique, parents earlier (so acyclic), workspaces inside
    spaces = [s["workspace"] for s in dag["steps"]]
    assert len(set(spaces)) == len(spaces)
    for step in dag["steps"]:
        assert "/" not in step["stem"]
        assert step["step"] in {s["name"] for s in spec["study"]}


@given(specs())
def test_expansion_is_deterministic(spec):
    first, _ = run(spec)
    second, _ = run(json.loads(json.dumps(spec)))
    assert dumps(first) == dumps(second)


@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                    lambda kids: st.one_of(st.lists(kids, max_size=3),
                                           st.dictionaries(st.text(max_size=8), kids, max_size=3)),
                    max_leaves=12))
def test_arbitrary_documents_are_refused_cleanly(doc):
    try:
        run(doc if isinstance(doc, dict) else {"study": doc})
    except InvalidInput:
        pass
