"""Maestro 1.2.1's expansion rules, one at a time (reference: maestro-behaviour.md §1.6-1.7)."""

import pytest

from mshared.errors import InvalidInput

from expand_helpers import HELLO_BYE, by_id, expand_text


def test_zipped_parameters_name_instances_by_sorted_labels():
    dag, _ = expand_text(HELLO_BYE)
    ids = [s["id"] for s in dag["steps"]]
    assert ids[:4] == [
        "hello_world_GREETING.Hello.NAME.Pam", "hello_world_GREETING.Ciao.NAME.Jim",
        "hello_world_GREETING.Hey.NAME.Michael", "hello_world_GREETING.Hi.NAME.Dwight",
    ]
    step = by_id(dag)["hello_world_GREETING.Hello.NAME.Pam"]
    assert step["workspace"] == "hello_world/GREETING.Hello.NAME.Pam"
    assert step["cmd"] == 'echo "Hello, Pam!" > Hello_Pam.txt'
    assert step["params"] == {"GREETING": "Hello", "NAME": "Pam"}


def test_children_inherit_parent_parameters_and_link_to_the_same_combination():
    dag, _ = expand_text(HELLO_BYE)
    bye = by_id(dag)["bye_world_GREETING.Ciao.NAME.Jim"]
    assert bye["depends"] == ["hello_world_GREETING.Ciao.NAME.Jim"]
    assert bye["workspace"] == "bye_world/GREETING.Ciao.NAME.Jim"


def test_a_step_that_uses_no_parameter_is_not_expanded():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: a, description: d, run: {cmd: echo a}}
          - {name: b, description: d, run: {cmd: echo $(P), depends: [a]}}
        global.parameters:
          P: {values: [1, 2], label: P.%%}
    """)
    assert [s["id"] for s in dag["steps"]] == ["a", "b_P.1", "b_P.2"]
    assert by_id(dag)["b_P.2"]["depends"] == ["a"]
    assert by_id(dag)["a"]["workspace"] == "a"


def test_duplicate_combinations_of_the_used_subset_collapse():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: only-size, description: d, run: {cmd: echo $(SIZE)}}
        global.parameters:
          SIZE: {values: [100, 100, 200], label: SIZE.%%}
          ITER: {values: [1, 2, 3], label: ITER.%%}
    """)
    assert [s["id"] for s in dag["steps"]] == ["only-size_SIZE.100", "only-size_SIZE.200"]


def test_funnel_depends_on_every_instance_and_does_not_inherit_parameters():
    text = HELLO_BYE.replace("global.parameters:", """  - name: final
    description: gather
    run: {cmd: 'ls $(bye_world.workspace) > all.txt', depends: [bye_world_*]}
global.parameters:""")
    dag, _ = expand_text(text)
    final = by_id(dag)["final"]
    assert len(final["depends"]) == 4 and all(d.startswith("bye_world_") for d in final["depends"])
    assert final["workspace_refs"] == {"bye_world": "bye_world"}
    assert final["cmd"] == "ls $(bye_world.workspace) > all.txt"
    assert final["params"] == {}


def test_workspace_reference_makes_the_step_use_the_referenced_parameters():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: a, description: d, run: {cmd: echo $(P)}}
          - {name: b, description: d, run: {cmd: cat $(a.workspace)/x}}
        global.parameters:
          P: {values: [1, 2], label: P.%%}
    """)
    b = by_id(dag)["b_P.2"]
    assert b["workspace_refs"] == {"a": "a/P.2"}
    assert b["depends"] == []


def test_param_name_and_label_tokens():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: a, description: "run $(P.label)", run: {cmd: "echo $(P.name)=$(P) $(P.label)"}}
        global.parameters:
          P: {values: [7], label: p-%%}
    """)
    step = dag["steps"][0]
    assert step["cmd"] == "echo P=7 p-7"
    assert step["description"] == "run p-7"


def test_hashws_names_instances_in_order_of_first_appearance():
    dag, _ = expand_text(HELLO_BYE, hashws=True)
    first = dag["steps"][0]
    assert first["id"] == "hello_world_GREETING.Hello.NAME.Pam"
    assert first["workspace"] == "hello_world/hello_world_instance_0"
    assert first["stem"] == "hello_world_instance_0"


def test_labels_and_variables_resolve_to_any_depth():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        env:
          variables: {A: 5, B: $(A)-b}
          labels: {C: $(B)-c, D: $(C)-d}
        study:
          - {name: a, description: d, run: {cmd: "echo $(D)"}}
    """)
    assert dag["steps"][0]["cmd"] == "echo 5-b-c-d"


def test_a_cycle_of_variables_is_an_error_that_names_it():
    with pytest.raises(InvalidInput, match=r"cycle: A -> B -> A"):
        expand_text("""
            description: {name: s, description: d}
            env: {variables: {A: $(B), B: $(A)}}
            study:
              - {name: a, description: d, run: {cmd: "echo $(A)"}}
        """)


def test_specroot_is_known_and_output_path_stays_for_render():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        env: {variables: {OUTPUT_PATH: ./out, DATA: $(SPECROOT)/data}}
        study:
          - {name: a, description: d, run: {cmd: "cp $(DATA) $(OUTPUT_PATH)/ && cd $(WORKSPACE)"}}
    """)
    assert dag["steps"][0]["cmd"] == "cp /specs/data $(OUTPUT_PATH)/ && cd $(WORKSPACE)"
    assert dag["study"]["output_path"] == "./out"


def test_resources_from_variables_become_numbers():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        env: {variables: {N: 2}}
        study:
          - name: a
            description: d
            run: {cmd: "$(LAUNCHER) app", nodes: $(N), procs: 8, walltime: "01:00:00", exclusive: true,
                  "cores per task": 2}
    """)
    step = dag["steps"][0]
    assert step["resources"] == {"nodes": 2, "procs": 8, "walltime": "01:00:00", "exclusive": True,
                                 "cores_per_task": 2}
    assert step["scheduled"] is True
    assert step["cmd"] == "$(LAUNCHER) app"


def test_cross_product_block_needs_no_python():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: a, description: d, run: {cmd: "echo $(X) $(Y)"}}
        global.parameters.product:
          X: {values: [1, 2]}
          Y: {values: [a, b, c], label: Y-%%}
    """)
    assert [s["id"] for s in dag["steps"]] == [
        "a_X.1.Y-a", "a_X.1.Y-b", "a_X.1.Y-c", "a_X.2.Y-a", "a_X.2.Y-b", "a_X.2.Y-c"]


def test_cross_product_multiplies_the_zipped_rows():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: a, description: d, run: {cmd: "echo $(X) $(Y) $(S)"}}
        global.parameters:
          X: {values: [1, 2], label: X.%%}
          Y: {values: [3, 4], label: Y.%%}
        global.parameters.product:
          S: {values: [7, 8, 9]}
    """)
    assert len(dag["steps"]) == 6
    assert dag["steps"][0]["params"] == {"S": 7, "X": 1, "Y": 3}


@pytest.mark.parametrize("value", ["a/b", "a,b", "a b", "é", "ü", "../up", "/abs"])
def test_awkward_values_get_safe_unique_workspaces(value):
    dag, _ = expand_text(f"""
        description: {{name: s, description: d}}
        study:
          - {{name: a, description: d, run: {{cmd: "echo $(V)"}}}}
        global.parameters:
          V: {{values: ["{value}", "x{value}", "{value.replace('/', '').replace(',', '')}"], label: V.%%}}
    """)
    spaces = [s["workspace"] for s in dag["steps"]]
    assert len(set(spaces)) == len(spaces)
    for space in spaces:
        parts = space.split("/")
        assert len(parts) == 2 and parts[0] == "a" and parts[1] not in (".", "..")
    for step in dag["steps"]:
        assert "/" not in step["stem"] and step["stem"] == step["stem"].strip()


def test_spaces_in_values_keep_maestros_directory_names():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: a, description: d, run: {cmd: "echo $(V)"}}
        global.parameters:
          V: {values: ["Hello World"], label: V.%%}
    """)
    assert dag["steps"][0]["workspace"] == "a/V.Hello_World"


def test_steps_come_out_in_topological_order_even_when_declared_later():
    dag, _ = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: b, description: d, run: {cmd: echo b, depends: [a]}}
          - {name: a, description: d, run: {cmd: echo a}}
    """)
    assert [s["id"] for s in dag["steps"]] == ["a", "b"]


def test_study_block_carries_what_render_needs():
    dag, _ = expand_text(HELLO_BYE)
    study = dag["study"]
    assert study["name"] == "hello_bye_world"
    assert study["batch"] == {"type": "local"}
    assert study["spec"]["filename"] == "spec.yaml" and len(study["spec"]["sha256"]) == 64
    assert study["parameters"]["order"] == ["NAME", "GREETING"]
    assert study["parameters"]["count"] == 4
    assert dag["schema"] == "maestro.dag" and dag["version"] == 1


def test_parameters_used_only_in_pre_or_post_still_expand_the_step_as_in_maestro():
    dag, warnings = expand_text("""
        description: {name: s, description: d}
        study:
          - {name: a, description: d, run: {cmd: echo a, post: "echo $(P)"}}
        global.parameters:
          P: {values: [1, 2, 2], label: P.%%}
    """)
    assert [s["id"] for s in dag["steps"]] == ["a_P.1", "a_P.2"]
    assert any("run.post is accepted and ignored" in w for w in warnings)


@pytest.mark.parametrize("control", ["\x7f", "\x9b", "\x1b"])
def test_names_and_labels_with_any_control_character_are_refused(control):
    """Issue 15, F3: C1 controls (CSI is 0x9b) and DEL reached ids and stems; the DAG contract
    refuses them, so mexpand must not make them."""
    escaped = "\\x%02x" % ord(control)     # YAML takes control characters only escaped
    with pytest.raises(InvalidInput, match="step name must not contain control"):
        expand_text(HELLO_BYE.replace("name: hello_world", f'name: "hello{escaped}world"').replace(
            "depends: [hello_world]", f'depends: ["hello{escaped}world"]'))
    with pytest.raises(InvalidInput, match="label"):
        expand_text(HELLO_BYE.replace("Pam", f'"P{escaped}m"'))


def test_a_value_with_a_control_character_gets_a_hashed_stem_when_it_is_in_the_id():
    from mexpand.naming import file_stem

    assert file_stem("a\x9bb").startswith("ab~") and file_stem("a\x7fb").startswith("ab~")
