"""Properties of content keys (mrender.keys) over generated specs: a key is the script as mrender
writes it with the study's root made relative, and a change reaches exactly its descendants."""

from hypothesis import assume, given, strategies as st

from mrender.core import render
from mrender.keys import ROOT, _scripts, instance_keys
from mshared.times import utcnow

from test_expand_properties import run, specs

ROOTS = st.text(alphabet="abcxyz_-.0123456789", min_size=1, max_size=12).map(lambda s: f"/tmp/study-{s}")


def descendants(dag: dict, ids: set) -> set:
    out = set(ids)
    for step in dag["steps"]:          # parents come first: one pass reaches every descendant
        if out.intersection(step["depends"]):
            out.add(step["id"])
    return out


@given(specs(), ROOTS)
def test_the_key_sees_the_rendered_scripts_with_the_root_made_relative(spec, root):
    dag, _ = run(spec)
    plan = render(dag, root=root, settings={}, now=utcnow())
    written = dict(plan.scripts)
    batch = {"type": "local"}
    for step in dag["steps"]:
        header, command = _scripts(step, batch)
        text = written[f"{step['workspace']}/{step['stem']}.sh"]
        assert text.decode().replace(root, ROOT) == f"{header}\n\n{command}"


@given(specs(), st.data())
def test_a_changed_command_changes_exactly_its_instances_and_their_descendants(spec, data):
    dag, _ = run(spec)
    before = {sid: r["key"] for sid, r in instance_keys(dag).items()}
    name = data.draw(st.sampled_from([s["name"] for s in spec["study"]]))
    step = next(s for s in spec["study"] if s["name"] == name)
    step["run"]["cmd"] = step["run"]["cmd"].replace(" x", " y", 1)
    changed, _ = run(spec)
    after = {sid: r["key"] for sid, r in instance_keys(changed).items()}
    assert set(after) == set(before)                       # the command is not in any id
    own = {s["id"] for s in dag["steps"] if s["step"] == name}
    assert {sid for sid in before if before[sid] != after[sid]} == descendants(dag, own)


@given(specs())
def test_keys_are_deterministic_and_unique_per_distinct_work(spec):
    dag, _ = run(spec)
    first, second = instance_keys(dag), instance_keys(dag)
    assert first == second
    assume(len(dag["steps"]) > 1)
    # two instances share a key only when they render the same scripts with the same parameters
    # and parents' keys: then they do the same work
    seen = {}
    for step in dag["steps"]:
        record = first[step["id"]]
        same = seen.setdefault(record["key"], record)
        assert same["parts"] == record["parts"]


@given(specs(), st.data(), st.sampled_from(["params", "cmd", "restart", "resources"]))
def test_any_change_to_one_instance_reaches_exactly_it_and_its_descendants(spec, data, field):
    """Change one instance of the DAG itself (a parameter value, its command, a restart command,
    its resources): its key and those of its descendants change, and no other."""
    import copy

    dag, _ = run(spec)
    before = {sid: r["key"] for sid, r in instance_keys(dag).items()}
    changed = copy.deepcopy(dag)
    step = data.draw(st.sampled_from(changed["steps"]))
    if field == "params":
        step["params"] = {**step["params"], "NEW": data.draw(st.integers(-2**63, 2**63 - 1))}
    elif field == "cmd":
        step["cmd"] += data.draw(st.sampled_from(["; true", " # note", "x"]))
    elif field == "restart":
        step["restart"] = (step.get("restart") or "") + "echo again"
    else:       # procs under a batch scheduler: a header line of its own
        changed["study"]["batch"] = dag["study"]["batch"] = {"type": "slurm", "queue": "q"}
        before = {sid: r["key"] for sid, r in instance_keys(dag).items()}
        step["resources"] = {**step["resources"], "procs": 3}
        step["scheduled"] = True
    after = {sid: r["key"] for sid, r in instance_keys(changed).items()}
    assert {sid for sid in before if before[sid] != after[sid]} == descendants(dag, {step["id"]})
