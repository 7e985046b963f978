"""mextend's core: extend_study (new combinations, one commit, duplicates, refusals), the decide
steps' requests (next.jsonl, encore.yaml; exactly once), the limits, and what a loop does next."""

import hashlib
import os

import pytest

from extend_helpers import LOOP, finish, make, snapshot
from mextend import core
from mextend.combos import parse
from mshared.errors import InvalidInput
from mshared.statefile import read_state, write_state
from mshared.studydir import read_dag
from mshared.times import utcnow

NOW = utcnow()


def rows(*combos):
    return [(n, c) for n, c in enumerate(combos, 1)]


def test_extend_adds_instances_in_one_commit(tmp_path):
    root = make(tmp_path)
    assert read_state(root)["extension"]["round"] == 1
    result = core.extend_study(root, rows({"X": 1}, {"X": 2}), source="c.jsonl", now=NOW)
    assert result.round == 2
    assert [(r["id"], r["line"], r["added"], r["round"]) for r in result.records] == [
        ("sim_X.1", 1, True, 2), ("sim_X.2", 2, True, 2), ("decide_ROUND.2", None, True, 2)]
    assert result.records[0] == {"schema": "maestro.extension", "version": 1, "id": "sim_X.1", "step": "sim",
                                 "workspace": "sim/X.1", "params": {"X": 1}, "round": 2, "line": 1, "added": True}
    state = read_state(root)
    assert {sid: e["state"] for sid, e in state["steps"].items() if sid.startswith("sim")} == {
        "sim_X.1": "INITIALIZED", "sim_X.2": "INITIALIZED"}
    data = open(os.path.join(root, "dag.json"), "rb").read()
    assert hashlib.sha256(data).hexdigest() == state["study"]["dag_sha256"]
    dag = read_dag(root, state)
    assert [s["id"] for s in dag["steps"]][-3:] == ["sim_X.1", "sim_X.2", "decide_ROUND.2"]
    assert dag["study"]["parameters"]["params"]["X"]["values"] == [1, 2]
    assert os.access(os.path.join(root, "sim", "X.1", "sim_X.1.sh"), os.X_OK)
    assert "echo 1 > result.json" in open(os.path.join(root, "sim", "X.1", "sim_X.1.sh")).read()
    record = state["extension"]
    assert record["round"] == 2 and record["rounds"] == [
        {"round": 2, "at": record["rounds"][0]["at"], "by": "mextend", "combinations": 2, "added": 3}]
    assert os.path.exists(os.path.join(root, "meta", "wake"))       # a waiting loop looks at once


def test_the_same_combinations_again_change_nothing_and_say_so(tmp_path):
    root = make(tmp_path)
    core.extend_study(root, rows({"X": 1}), now=NOW)
    before = snapshot(root)
    os.remove(os.path.join(root, "meta", "wake"))
    before.pop("meta/wake")
    again = core.extend_study(root, rows({"X": 1}), source="c.jsonl", now=NOW)
    assert again.round is None
    assert [(r["id"], r["added"], r["round"]) for r in again.records] == [("sim_X.1", False, 2)]
    assert again.duplicates == [("c.jsonl:1", {"X": 1}, ["sim_X.1"])]
    assert snapshot(root) == before


@pytest.mark.parametrize("combo,message", [
    ({"Y": 1}, "c.jsonl:2: unknown parameter 'Y'; the study's parameters are: X"),
    ({}, "c.jsonl:2: parameter 'X' is missing; give every one of: X"),
    ({"X": [1]}, r"c.jsonl:2: parameter 'X': \[1\] is not a string or a number; give a scalar value"),
    ("text", "c.jsonl:2: a combination must be a JSON object of parameter: value"),
])
def test_a_bad_combination_names_file_and_line_and_changes_nothing(tmp_path, combo, message):
    root = make(tmp_path)
    before = snapshot(root)
    with pytest.raises(InvalidInput, match=message) as err:
        core.extend_study(root, rows({"X": 1}, combo), source="c.jsonl", now=NOW)
    assert err.value.exit_code == 65
    assert snapshot(root) == before and not os.path.exists(os.path.join(root, "sim"))


def test_a_cancelled_study_is_refused(tmp_path):
    root = make(tmp_path)
    state = read_state(root)
    state["requests"]["cancel"] = True
    write_state(root, state)
    before = snapshot(root)
    with pytest.raises(InvalidInput, match="the study was cancelled; it takes no new combinations"):
        core.extend_study(root, rows({"X": 1}), now=NOW)
    assert snapshot(root) == before


def test_a_study_whose_dag_changed_underneath_is_refused(tmp_path):
    root = make(tmp_path)
    with open(os.path.join(root, "dag.json"), "ab") as handle:
        handle.write(b" ")
    with pytest.raises(InvalidInput, match="does not match the DAG this study was rendered from"):
        core.extend_study(root, rows({"X": 1}), now=NOW)
    assert not os.path.exists(os.path.join(root, "sim"))


def test_the_round_limit(tmp_path):
    root = make(tmp_path, LOOP.replace("decide: decide", "decide: decide\n  max_rounds: 2"))
    core.extend_study(root, rows({"X": 1}), now=NOW)
    with pytest.raises(InvalidInput, match="round 3 would pass the study's limit of 2 rounds; raise it with "
                                           "`mextend --max-rounds N`"):
        core.extend_study(root, rows({"X": 2}), now=NOW)
    assert core.extend_study(root, rows({"X": 1}), now=NOW).round is None      # nothing new: no round needed
    assert core.set_limits(root, max_rounds=3) == {"max_rounds": (2, 3)}
    assert core.set_limits(root, max_rounds=3) == {}
    assert core.extend_study(root, rows({"X": 2}), now=NOW).round == 3


def test_a_crash_before_the_commit_leaves_the_study_as_before(tmp_path, monkeypatch):
    """Killed after the scripts are written and before the state is: the study is as it was, and
    the next extension writes the same scripts again and commits."""
    import mshared.studydir as studydir

    root = make(tmp_path)
    before = read_state(root)

    def killed(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(studydir, "write_state", killed)
    with pytest.raises(KeyboardInterrupt):
        core.extend_study(root, rows({"X": 1}), now=NOW)
    monkeypatch.undo()
    assert read_state(root) == before
    assert read_dag(root, before)["steps"][-1]["id"] == "decide"
    assert core.extend_study(root, rows({"X": 1}), now=NOW).round == 2


def test_a_study_without_an_extend_block_grows_too(tmp_path):
    root = make(tmp_path, """
        description: {name: plain, description: d}
        global.parameters:
          X: {values: [1], label: X.%%}
        study:
          - {name: sim, description: s, run: {cmd: 'echo $(X)'}}
          - {name: post, description: p, run: {cmd: 'echo post', depends: [sim_*]}}
        """)
    assert "extension" not in read_state(root)
    result = core.extend_study(root, rows({"X": 2}), now=NOW)
    assert [r["id"] for r in result.records] == ["sim_X.2", "post_ROUND.2"]
    assert read_state(root)["extension"]["round"] == 2


# ------------------------------------------------------------------ decide requests
def decided(tmp_path, name, text, spec=LOOP):
    root = make(tmp_path, spec)
    finish(root, "setup", "decide")
    with open(os.path.join(root, "decide", name), "w") as handle:
        handle.write(text)
    return root


def test_a_next_jsonl_request_is_applied_once(tmp_path):
    root = decided(tmp_path, "next.jsonl", '{"X": 1}\n\n{"X": 2}\n')
    [outcome] = core.apply_requests(root, now=NOW)
    assert outcome == {"step": "decide", "status": "applied", "round": 2, "added": 3, "file": "decide/next.jsonl"}
    state = read_state(root)
    assert {"sim_X.1", "sim_X.2", "decide_ROUND.2"} <= set(state["steps"])
    assert state["extension"]["requests"]["decide"]["status"] == "applied"
    assert state["extension"]["rounds"][0]["by"] == "decide"
    before = snapshot(root)
    assert core.apply_requests(root, now=NOW) == []       # recorded: never applied twice
    assert snapshot(root) == before


def test_a_request_killed_before_its_commit_is_applied_by_the_next_pass(tmp_path, monkeypatch):
    import mshared.studydir as studydir

    root = decided(tmp_path, "next.jsonl", '{"X": 1}\n')

    def killed(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(studydir, "write_state", killed)
    with pytest.raises(KeyboardInterrupt):
        core.apply_requests(root, now=NOW)
    monkeypatch.undo()
    assert "requests" not in read_state(root)["extension"] or not read_state(root)["extension"]["requests"]
    assert [o["status"] for o in core.apply_requests(root, now=NOW)] == ["applied"]
    assert core.apply_requests(root, now=NOW) == []


def test_an_encore_yaml_asks_for_zipped_parameters(tmp_path):
    root = decided(tmp_path, "encore.yaml", """
is_done: false
child_specs:
  - name: $(CURRENT_SPEC)
    parameters:
      X: {values: [5, 6], labels: X.%%}
""")
    [outcome] = core.apply_requests(root, now=NOW)
    assert outcome["status"] == "applied" and outcome["file"] == "decide/encore.yaml"
    assert {"sim_X.5", "sim_X.6"} <= set(read_state(root)["steps"])


def test_is_done_marks_the_loop_done(tmp_path):
    root = decided(tmp_path, "encore.yaml", "is_done: true\n")
    assert core.apply_requests(root, now=NOW) == [{"step": "decide", "status": "done", "file": "decide/encore.yaml"}]
    assert read_state(root)["extension"]["done"] is True


@pytest.mark.parametrize("name,text,reason", [
    ("next.jsonl", '{"X": 1}\n{"Z": 2}\n', "decide/next.jsonl:2: unknown parameter 'Z'"),
    ("next.jsonl", '{"X": 1}\nnope\n', "decide/next.jsonl:2: not JSON"),
    ("encore.yaml", "child_specs: []\n", "needs 'is_done: true' or 'is_done: false'"),
    ("encore.yaml", "is_done: false\nchild_specs: [{name: other.yaml, parameters: {X: {values: [1]}}}]\n",
     "names the spec 'other.yaml'; a study grows only with its own spec"),
    ("encore.yaml", "is_done: false\nchild_specs: [{pgen: p.py, parameters: {X: {values: [1]}}}]\n",
     "'pgen' cannot change a running study"),
    ("encore.yaml", "is_done: false\nchild_specs: [{parameters: {X: {values: [1]}, Y: {values: [1, 2]}}}]\n",
     "differ in length"),
    ("encore.yaml", "is_done: false\nchild_specs: [{parameters: {Z: {values: [1]}}}]\n",
     "decide/encore.yaml: combination 1: unknown parameter 'Z'"),
])
def test_a_bad_request_is_refused_with_its_reason_and_changes_nothing_else(tmp_path, name, text, reason):
    root = decided(tmp_path, name, text)
    dag_before = open(os.path.join(root, "dag.json"), "rb").read()
    [outcome] = core.apply_requests(root, now=NOW)
    assert outcome["status"] == "refused" and reason in outcome["reason"]
    assert open(os.path.join(root, "dag.json"), "rb").read() == dag_before
    assert set(read_state(root)["steps"]) == {"setup", "decide"}
    problem, line = core.describe(outcome)
    assert problem and line.startswith("decide: request refused: ")


def test_both_request_files_are_refused(tmp_path):
    root = decided(tmp_path, "next.jsonl", '{"X": 1}\n')
    open(os.path.join(root, "decide", "encore.yaml"), "w").write("is_done: true\n")
    [outcome] = core.apply_requests(root, now=NOW)
    assert outcome["status"] == "refused" and "both next.jsonl and encore.yaml" in outcome["reason"]


def test_no_request_and_an_empty_one_ask_for_nothing(tmp_path):
    root = decided(tmp_path, "next.jsonl", "")
    assert core.apply_requests(root, now=NOW) == [{"step": "decide", "status": "none", "file": "decide/next.jsonl"}]
    assert core.describe({"step": "decide", "status": "none"}) == (False, None)


def test_a_request_past_the_limit_is_not_applied(tmp_path):
    root = decided(tmp_path, "next.jsonl", '{"X": 1}\n', LOOP.replace("decide: decide", "decide: decide\n  max_rounds: 1"))
    [outcome] = core.apply_requests(root, now=NOW)
    assert outcome["status"] == "limit" and outcome["reason"] == "round 2 would pass the limit of 1 rounds"


def test_only_finished_decide_instances_are_read(tmp_path):
    root = make(tmp_path)
    open(os.path.join(root, "decide", "next.jsonl"), "w").write('{"X": 1}\n')
    assert core.apply_requests(root, now=NOW) == []           # decide has not run yet
    finish(root, "decide")
    assert [o["status"] for o in core.apply_requests(root, now=NOW)] == ["applied"]


# ------------------------------------------------------------------ limits and what a loop does
def test_set_limits_and_done(tmp_path):
    root = make(tmp_path)
    assert core.set_limits(root, done=True) == {"done": (False, True)}
    assert read_state(root)["extension"]["done"] is True


@pytest.mark.parametrize("steps,record,extend,verdict", [
    ({"a": "RUNNING"}, None, None, "run"),
    ({"a": "FINISHED"}, None, None, "end"),
    ({"a": "FINISHED"}, None, {"open": True}, "wait"),
    ({"a": "FINISHED"}, {"round": 1, "done": True}, {"open": True}, "end"),
    ({"a": "FINISHED"}, {"round": 3, "done": False, "max_rounds": 3}, {"open": True}, "end"),
    ({"a": "FINISHED"}, {"round": 2, "done": False}, {"open": True, "max_rounds": 3}, "wait"),
    ({}, None, {"open": True}, "wait"),
])
def test_loop_verdict(steps, record, extend, verdict):
    state = {"steps": {k: {"state": v} for k, v in steps.items()}, "requests": {"cancel": False}}
    if record is not None:
        state["extension"] = {"rounds": [], "requests": {}, **record}
    assert core.loop_verdict(state, extend) == verdict
    state["requests"]["cancel"] = True
    assert core.loop_verdict(state, extend) in ("run", "end")


# ------------------------------------------------------------------ reading combinations
def test_json_lines_and_csv():
    assert parse(b'{"X": 1}\n\n  \n{"X": "a", "Y": 2.5}\n', "f") == [(1, {"X": 1}), (4, {"X": "a", "Y": 2.5})]
    assert parse(b"X,Y\n1,a\n\n-2.5e3,\"b,c\"\n", "f") == [(2, {"X": 1, "Y": "a"}), (4, {"X": -2500.0, "Y": "b,c"})]
    assert parse(b"X\n1\n", "f.csv") == [(2, {"X": 1})]
    assert parse(b"X\n1\n", "f", "csv") == [(2, {"X": 1})]


@pytest.mark.parametrize("data,fmt,message", [
    (b'{"X": 1}\nnope\n', "auto", "f:2: not JSON .*; write one JSON object a line"),
    (b"X\n1\n", "auto", "f:1: not JSON"),
    (b"X,Y\n1\n", "auto", "f:2: 1 values for 2 columns"),
    (b"X,X\n1,2\n", "auto", "f:1: the CSV header must name each parameter once"),
    (b"\xff\xfe", "auto", "f: not UTF-8 text"),
])
def test_input_that_is_not_combinations(data, fmt, message):
    with pytest.raises(InvalidInput, match=message):
        parse(data, "f", fmt)


# ------------------------------------------------------------------ the loops' small view of the DAG
def test_the_view_names_the_decide_instances_and_follows_dag_json(tmp_path):
    from mextend import view

    root = make(tmp_path)
    assert view.load(root) == {"extend": {"decide": ["decide"], "max_rounds": None, "open": False,
                                          "result": "result.json"}, "decide": ["decide"]}
    assert os.path.exists(os.path.join(root, view.FILE))
    finish(root, "setup", "decide")
    open(os.path.join(root, "decide", "next.jsonl"), "w").write('{"X": 1}\n')
    core.apply_requests(root, now=NOW)                       # a new dag.json: the view follows it
    assert view.load(root)["decide"] == ["decide", "decide_ROUND.2"]


def test_a_study_without_an_extend_block_is_told_without_parsing_its_dag(tmp_path, monkeypatch):
    from mextend import view

    root = make(tmp_path, """
        description: {name: p, description: d}
        study:
          - {name: a, description: 'says "extend":{"decide":[', run: {cmd: 'echo "extend":{"decide":['}}
        """)

    def no_parse(_data):
        raise AssertionError("parsed dag.json")

    monkeypatch.setattr(view, "loads", no_parse)
    assert view.load(root) == {"extend": None, "decide": []}


def test_a_grown_study_keeps_its_content_keys_up_to_date(tmp_path):
    """Issue 19 with 18: after mextend, meta/keys.json names the new DAG and every instance, and
    the new instances' keys are those a full computation gives (so `--reuse` of a grown study
    works, and reuses its finished rounds)."""
    import json

    from mrender import keys

    root = make(tmp_path)
    core.extend_study(root, rows({"X": 1}, {"X": 2}), source="c.jsonl", now=NOW)
    core.extend_study(root, rows({"X": 3}), source="c.jsonl", now=NOW)
    state = read_state(root)
    doc = json.load(open(os.path.join(root, keys.KEYS_FILE)))
    assert doc["dag_sha256"] == state["study"]["dag_sha256"]
    assert set(doc["steps"]) == set(state["steps"])
    fresh = keys.instance_keys(read_dag(root, state))
    assert {sid: r["key"] for sid, r in doc["steps"].items()} == {sid: r["key"] for sid, r in fresh.items()}
    assert keys.read_keys(root, state) is not None
