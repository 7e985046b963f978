"""The DAG contract checks every field that becomes a path or reaches a terminal (issue 15, F3).

A DAG is passed around like any document: ``validate_dag`` (every reader: mrender, and a study's
dag.json without a recorded checksum) takes nothing on trust that mexpand would not write.
"""

import copy

import pytest

from mshared.contracts import MAX_STEM_BYTES, check_stem, validate_dag
from mshared.errors import InvalidInput

from expand_helpers import HELLO_BYE, expand_text


@pytest.fixture(scope="module")
def dag():
    return expand_text(HELLO_BYE)[0]


def refused(dag, step_fields: dict, match: str):
    bad = copy.deepcopy(dag)
    bad["steps"][0].update(step_fields)
    with pytest.raises(InvalidInput, match=match):
        validate_dag(bad, "crafted.json")


def test_a_dag_from_mexpand_passes(dag):
    validate_dag(dag, "dag.json")


@pytest.mark.parametrize("stem", ["../../ESCAPED-by-stem", "a/b", "a\\b", ".hidden", "..", "", "a\x1bb",
                                  "a\x9bb", "a\x7fb", "a\nb", "a\x00b", 'a"b', "a'b", "a`b", "a$b",
                                  "x" * (MAX_STEM_BYTES + 1), "é" * 105])
def test_a_stem_that_is_not_one_safe_file_name_is_refused(dag, stem):
    refused(dag, {"stem": stem}, "stem")


def test_the_longest_stem_mexpand_makes_passes(dag):
    check_stem("x" * MAX_STEM_BYTES, "here")
    long_name = expand_text(HELLO_BYE.replace("hello_world", "h" * 300))[0]
    validate_dag(long_name, "dag.json")
    assert max(len(s["stem"].encode()) for s in long_name["steps"]) == MAX_STEM_BYTES


@pytest.mark.parametrize("field", ["id", "step"])
@pytest.mark.parametrize("text", ["a\x1b[31mb", "a\nb", "a\x9b2Jb", "", "a\x00"])
def test_ids_and_step_names_with_control_characters_are_refused(dag, field, text):
    refused(dag, {field: text}, field)


@pytest.mark.parametrize("workspace", ["/abs", "../up", "a/../../up", "a//b", "a/", "./a", "a/./b", "",
                                       "a\x1bb", "a\\..\\b", "a/" + "x" * (MAX_STEM_BYTES + 10), "a/" * 600])
def test_a_workspace_outside_the_study_or_not_clean_is_refused(dag, workspace):
    refused(dag, {"workspace": workspace}, "workspace")


def test_a_workspace_made_unique_by_mexpand_passes(dag):
    """Two values that share Maestro's directory name get '~<hash>' after the longest name."""
    long = "v" * 178         # "GREETING.Hello.NAME." + 180 characters: a 200-byte directory name
    spec = HELLO_BYE.replace("Pam", f"'{long} x'").replace("Jim", f"'{long}_x'").replace("Ciao", "Hello")
    unique = expand_text(spec)[0]
    validate_dag(unique, "dag.json")
    leaves = [s["workspace"].split("/")[-1] for s in unique["steps"]]
    assert max(len(leaf.encode()) for leaf in leaves) == MAX_STEM_BYTES and any("~" in leaf for leaf in leaves)


def test_workspace_refs_are_checked_as_workspaces(dag):
    refused(dag, {"workspace_refs": {"x": "../../etc"}}, "workspace")
    refused(dag, {"workspace_refs": {"x": 3}}, "workspace_refs")


@pytest.mark.parametrize("resources", [{"nodes": "1; rm"}, {"procs": [1]}, {"walltime": True},
                                       {"exclusive": "yes"}, {"unknown": 1}, {"qos": 3}])
def test_resources_of_the_wrong_type_are_refused(dag, resources):
    refused(dag, {"resources": resources}, "resource")


@pytest.mark.parametrize("depends", [[["x"]], [{"a": 1}], [None]])
def test_parents_that_are_not_ids_are_refused_in_one_line(dag, depends):
    bad = copy.deepcopy(dag)
    bad["steps"][-1]["depends"] = depends
    with pytest.raises(InvalidInput, match="depends on"):
        validate_dag(bad, "crafted.json")
