"""mshared.studydir: "is this a study directory", the one DAG reader, and state edits under the lock."""

import hashlib
import json
import os

import pytest

from mshared.errors import InvalidInput, StateBusy
from mshared.jsonio import dumps
from mshared.statefile import lock_study, read_state, write_state
from mshared.studydir import edit_state, read_dag, study_root

SPEC = """description: {name: tiny, description: d}
global.parameters:
  X: {values: [1, 2], label: X.%%}
study:
  - {name: a, description: d, run: {cmd: echo $(X)}}
"""


@pytest.fixture
def root(tmp_path):
    from mexpand.core import expand_file
    from mrender.core import write_study
    from mshared.times import utcnow

    (tmp_path / "spec.yaml").write_text(SPEC)
    dag, _ = expand_file(str(tmp_path / "spec.yaml"), cwd=str(tmp_path))
    return write_study(dag, str(tmp_path / "study"), {}, now=utcnow())


def test_study_root(root, tmp_path):
    assert study_root(os.path.relpath(root)) == root
    with pytest.raises(InvalidInput, match=r"nope: not a directory; give a study directory made by mrender$"):
        study_root(str(tmp_path / "nope"))
    with pytest.raises(InvalidInput, match=r"/state.json: no state file; is this a study directory"):
        study_root(str(tmp_path))


def test_the_rendered_dag_is_read_back(root):
    state = read_state(root)
    assert [s["id"] for s in read_dag(root, state)["steps"]] == ["a_X.1", "a_X.2"]


def _rewrite_dag(root, change, record_sha: bool):
    path = os.path.join(root, "dag.json")
    dag = json.load(open(path))
    change(dag)
    data = dumps(dag)
    open(path, "wb").write(data)
    state = read_state(root)
    state["study"]["dag_sha256"] = hashlib.sha256(data).hexdigest() if record_sha else None
    write_state(root, state)
    return read_state(root)


def test_an_edited_dag_is_refused_in_words_every_reader_shares(root):
    with open(os.path.join(root, "dag.json"), "ab") as handle:
        handle.write(b" ")
    with pytest.raises(InvalidInput) as err:
        read_dag(root, read_state(root))
    # mreport's and the engine's readers each said one of these; the one reader says both
    assert "does not match state.json" in str(err.value) and "does not match the DAG" in str(err.value)


def test_without_a_recorded_checksum_every_step_is_validated(root):
    state = _rewrite_dag(root, lambda d: d["steps"][1].pop("cmd"), record_sha=False)
    with pytest.raises(InvalidInput, match=r"steps\[1\] \(a_X.2\): field 'cmd' is missing"):
        read_dag(root, state)
    state = _rewrite_dag(root, lambda d: d["steps"][1].update(cmd="echo", id="other"), record_sha=False)
    with pytest.raises(InvalidInput, match="do not describe the same steps"):
        read_dag(root, state)


def test_a_newer_dag_or_another_step_count_is_refused(root):
    state = _rewrite_dag(root, lambda d: d.update(version=2), record_sha=True)
    with pytest.raises(InvalidInput, match="maestro.dag version 2 is newer"):
        read_dag(root, state)
    state = _rewrite_dag(root, lambda d: d.update(version=1, steps=d["steps"][:1]), record_sha=True)
    with pytest.raises(InvalidInput, match="do not describe the same steps"):
        read_dag(root, state)
    os.unlink(os.path.join(root, "dag.json"))
    with pytest.raises(InvalidInput, match="dag.json: missing"):
        read_dag(root, state)


def test_edit_state_writes_the_change_and_returns_its_result(root):
    assert edit_state(root, lambda state, dag: state["settings"].update(throttle=3) or len(dag["steps"])) == 2
    assert read_state(root)["settings"]["throttle"] == 3


def test_edit_state_writes_nothing_for_an_unsound_study_or_a_refused_change(root):
    before = open(os.path.join(root, "state.json"), "rb").read()

    def refuse(state, dag):
        state["settings"]["throttle"] = 9
        raise InvalidInput("no such step")

    with pytest.raises(InvalidInput, match="no such step"):
        edit_state(root, refuse)
    with open(os.path.join(root, "dag.json"), "ab") as handle:
        handle.write(b" ")
    with pytest.raises(InvalidInput, match="does not match"):
        edit_state(root, lambda state, dag: state["settings"].update(throttle=4))
    assert open(os.path.join(root, "state.json"), "rb").read() == before


def test_edit_state_waits_for_the_lock_then_gives_up(root):
    with lock_study(root):
        with pytest.raises(StateBusy):
            edit_state(root, lambda state, dag: None, wait=0.2)


# ------------------------------------------------------------------ edit_study: DAG and state in one commit
def _grow(state, dag):
    """A change that adds one step (a copy of the last, renamed) to the DAG and the state."""
    from mshared.statefile import initial_step

    step = dict(dag["steps"][-1], id="a_X.3", workspace="a/X.3", stem="a_X.3", params={"X": 3})
    dag["steps"].append(step)
    state["steps"]["a_X.3"] = initial_step()
    return "grown", dumps(dag)


def test_edit_study_commits_the_dag_and_the_state_together(root):
    from mshared.studydir import PENDING_DAG, edit_study

    assert edit_study(root, _grow) == "grown"
    state = read_state(root)
    data = open(os.path.join(root, "dag.json"), "rb").read()
    assert state["study"]["dag_sha256"] == hashlib.sha256(data).hexdigest()
    assert [s["id"] for s in read_dag(root, state)["steps"]][-1] == "a_X.3" and "a_X.3" in state["steps"]
    assert not os.path.exists(os.path.join(root, PENDING_DAG))


def test_edit_study_without_a_new_dag_writes_the_state_only(root):
    from mshared.studydir import edit_study

    before = open(os.path.join(root, "dag.json"), "rb").read()

    def change(state, dag):
        state["settings"]["throttle"] = 3
        return None, None

    edit_study(root, change)
    assert read_state(root)["settings"]["throttle"] == 3
    assert open(os.path.join(root, "dag.json"), "rb").read() == before


def test_a_change_that_raises_commits_nothing(root):
    from mshared.studydir import edit_study

    before = [open(os.path.join(root, name), "rb").read() for name in ("dag.json", "state.json")]

    def change(state, dag):
        _grow(state, dag)
        raise InvalidInput("no")

    with pytest.raises(InvalidInput):
        edit_study(root, change)
    assert [open(os.path.join(root, name), "rb").read() for name in ("dag.json", "state.json")] == before


def test_a_crash_before_the_state_is_written_leaves_the_study_as_it_was(root, monkeypatch):
    """The DAG aside is written; the state write fails (a kill): readers see the old study, and
    the next edit replaces the file aside."""
    import mshared.studydir as studydir

    before = read_dag(root, read_state(root))

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(studydir, "write_state", crash)
    with pytest.raises(KeyboardInterrupt):
        studydir.edit_study(root, _grow)
    monkeypatch.undo()
    assert os.path.exists(os.path.join(root, studydir.PENDING_DAG))
    state = read_state(root)
    assert read_dag(root, state) == before and "a_X.3" not in state["steps"]
    assert studydir.edit_study(root, _grow) == "grown"
    assert "a_X.3" in read_state(root)["steps"]


def test_a_crash_after_the_commit_is_finished_by_readers_and_the_next_edit(root, monkeypatch):
    """The state is committed, the rename of the DAG does not happen (a kill): every reader takes
    the committed DAG aside, and the next edit renames it into place."""
    import mshared.studydir as studydir

    real_replace = os.replace

    def crash(src, dst):
        if str(dst).endswith("dag.json") and "dag.next" in str(src):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(studydir.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        studydir.edit_study(root, _grow)
    monkeypatch.undo()
    state = read_state(root)
    assert "a_X.3" in state["steps"]
    assert read_dag(root, state)["steps"][-1]["id"] == "a_X.3"      # from the DAG aside
    assert studydir.edit_state(root, lambda s, d: None) is None       # the next edit settles it
    assert not os.path.exists(os.path.join(root, studydir.PENDING_DAG))
    data = open(os.path.join(root, "dag.json"), "rb").read()
    assert hashlib.sha256(data).hexdigest() == read_state(root)["study"]["dag_sha256"]


def test_a_stale_dag_aside_is_never_taken(root):
    """A DAG aside that no state names (an edit that never committed) changes nothing."""
    from mshared.studydir import PENDING_DAG, settle_dag

    before = open(os.path.join(root, "dag.json"), "rb").read()
    with open(os.path.join(root, PENDING_DAG), "wb") as handle:
        handle.write(b'{"schema": "maestro.dag", "version": 1, "steps": []}\n')
    state = read_state(root)
    assert settle_dag(root, state) is False
    assert read_dag(root, state)["steps"][0]["id"] == "a_X.1"
    assert open(os.path.join(root, "dag.json"), "rb").read() == before
