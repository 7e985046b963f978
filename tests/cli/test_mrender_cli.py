"""mrender's command line: the study directory, exit codes, one-line errors, --force, dependencies."""

import json
import os
import re
import stat
import subprocess
import textwrap

import pytest
from click.testing import CliRunner

from mexpand.core import expand
from mexpand.specload import load_yaml
from mrender.cli import main
from mshared import statefile
from mshared.errors import InvalidInput
from mshared.jsonio import dumps

HELLO = """
description: {name: hello world, description: d}
env:
  variables: {OUTPUT_PATH: ./out}
study:
  - {name: a, description: d, run: {cmd: 'echo $(P) > $(WORKSPACE)/x', restart: 'echo r'}}
  - {name: b, description: d, run: {cmd: 'cat $(a.workspace)/x', depends: [a_*]}}
global.parameters:
  P: {values: [1, 2], label: P.%%}
"""


def make_dag(cwd, text=HELLO, env_deps=None) -> bytes:
    text = textwrap.dedent(text)
    spec = load_yaml(text, "s.yaml")
    if env_deps:
        spec.setdefault("env", {})["dependencies"] = env_deps
    dag, _ = expand(spec, source="s.yaml", spec_text=text, spec_path=str(cwd / "s.yaml"),
                    specroot=str(cwd), cwd=str(cwd))
    return dumps(dag)


def run(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False, prog_name="mrender")


def test_stdout_is_exactly_the_study_directory(tmp_path):
    out = tmp_path / "study"
    result = run(["-o", str(out)], input=make_dag(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{out}\n" and result.stderr == ""
    names = sorted(os.listdir(out))
    assert names == ["a", "b", "batch.info", "dag.json", "logs", "meta", "s.yaml", "state.json",
                     "state.json.lock"]
    assert sorted(os.listdir(out / "meta")) == ["environment.json", "keys.json", "metadata.json", "parameters.json"]
    assert (out / "a" / "P.1" / "a_P.1.sh").read_text() == f"#!/bin/bash\n\necho 1 > {out}/a/P.1/x\n"
    assert (out / "a" / "P.2" / "a_P.2.restart.sh").exists()
    assert (out / "b" / "b.sh").read_text() == f"#!/bin/bash\n\ncat {out}/a/x\n"
    state = statefile.read_state(out)
    assert state["study"]["root"] == str(out)
    assert set(state["steps"]) == {"a_P.1", "a_P.2", "b"}
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]   # no temp dir left


def test_reads_a_dag_file_and_defaults_to_output_path_with_a_timestamp(tmp_path, monkeypatch):
    (tmp_path / "dag.json").write_bytes(make_dag(tmp_path))
    monkeypatch.chdir("/")   # OUTPUT_PATH is relative to where mexpand ran, not to here
    result = run([str(tmp_path / "dag.json")])
    assert result.exit_code == 0, result.stderr
    path = result.stdout.rstrip("\n")
    assert re.fullmatch(re.escape(str(tmp_path / "out" / "hello_world_")) + r"\d{8}-\d{6}", path)
    assert os.path.isdir(path)


def test_occupied_directory_is_refused_without_force(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    (out / "precious").write_text("keep")
    result = run(["-o", str(out)], input=make_dag(tmp_path))
    assert result.exit_code == 65
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "use --force" in result.stderr
    assert result.stderr.startswith("mrender: error: ")
    assert os.listdir(out) == ["precious"]


def test_force_moves_the_old_directory_aside(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    (out / "precious").write_text("keep")
    result = run(["-o", str(out), "--force"], input=make_dag(tmp_path))
    assert result.exit_code == 0, result.stderr
    aside = [p for p in os.listdir(tmp_path) if p.startswith("study.old-")]
    assert len(aside) == 1 and re.fullmatch(r"study\.old-\d{8}-\d{6}", aside[0])
    assert (tmp_path / aside[0] / "precious").read_text() == "keep"
    assert (out / "state.json").exists()


def test_empty_existing_directory_is_used(tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    assert run(["-o", str(out)], input=make_dag(tmp_path)).exit_code == 0
    assert (out / "dag.json").exists()


@pytest.mark.parametrize("data, message", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"schema": "maestro.dag", "version": 2}).encode(), "version 2 is newer"),
    (json.dumps({"schema": "maestro.state", "version": 1}).encode(), "expected a maestro.dag document"),
])
def test_bad_dags_are_refused_with_one_line(tmp_path, data, message):
    result = run(["-o", str(tmp_path / "s")], input=data)
    assert result.exit_code == 65
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_workspace_escaping_the_study_is_refused(tmp_path):
    dag = json.loads(make_dag(tmp_path))
    dag["steps"][0]["workspace"] = "../evil"
    result = run(["-o", str(tmp_path / "s")], input=json.dumps(dag))
    assert result.exit_code == 65 and "outside the study" in result.stderr


def test_launcher_error_leaves_nothing_behind(tmp_path):
    spec = """
    description: {name: s, description: d}
    batch: {type: slurm, queue: q, bank: b, host: h}
    study:
      - {name: run, description: d, run: {cmd: '$(LAUNCHER)[6p] a; $(LAUNCHER)[6p] b', nodes: 1, procs: 8}}
    """
    result = run(["-o", str(tmp_path / "s")], input=make_dag(tmp_path, spec))
    assert result.exit_code == 65
    assert "step 'run': Total processors (12) requested exceeds the maximum requested (8)" in result.stderr
    assert os.listdir(tmp_path) == []


def test_missing_path_dependency(tmp_path):
    deps = {"paths": [{"name": "DATA", "path": str(tmp_path / "nope")}]}
    result = run(["-o", str(tmp_path / "s")], input=make_dag(tmp_path, env_deps=deps))
    assert result.exit_code == 65
    assert f"path dependency 'DATA' ({tmp_path / 'nope'}) does not exist" in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.fixture
def git_repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    for argv in (["git", "init", "-q"], ["git", "add", "."], ["git", "commit", "-qm", "one"],
                 ["git", "tag", "v1"]):
        if argv[1] == "add":
            (repo / "file.txt").write_text("v1\n")
        subprocess.run(argv, cwd=repo, check=True, env=env)
    (repo / "file.txt").write_text("v2\n")
    subprocess.run(["git", "commit", "-qam", "two"], cwd=repo, check=True, env=env)
    return repo


def test_git_dependency_is_cloned_into_the_study_at_its_tag(tmp_path, git_repo):
    deps = {"git": [{"name": "SRC", "path": "$(OUTPUT_PATH)", "url": str(git_repo), "tag": "v1"}]}
    spec = HELLO.replace("echo $(P) >", "cat $(SRC)/file.txt; echo $(P) >")
    out = tmp_path / "s"
    result = run(["-o", str(out)], input=make_dag(tmp_path, spec, env_deps=deps))
    assert result.exit_code == 0, result.stderr
    assert (out / "SRC" / "file.txt").read_text() == "v1\n"
    assert f"cat {out}/SRC/file.txt;" in (out / "a" / "P.1" / "a_P.1.sh").read_text()


def test_git_dependency_outside_the_study(tmp_path, git_repo):
    deps = {"git": [{"name": "SRC", "path": "deps", "url": f"file://{git_repo}", "branch": "master"}]}
    dag = make_dag(tmp_path, env_deps=deps)
    subprocess.run(["git", "branch", "-M", "master"], cwd=git_repo, check=True)
    assert run(["-o", str(tmp_path / "s")], input=dag).exit_code == 0
    assert (tmp_path / "deps" / "SRC" / "file.txt").read_text() == "v2\n"
    again = run(["-o", str(tmp_path / "s2")], input=dag)      # Maestro refuses an existing clone too
    assert again.exit_code == 65 and "already exists" in again.stderr
    assert not (tmp_path / "s2").exists()


def test_failed_clone_names_the_dependency_and_leaves_nothing(tmp_path, git_repo):
    deps = {"git": [{"name": "SRC", "path": "$(OUTPUT_PATH)", "url": str(tmp_path / "missing")}]}
    result = run(["-o", str(tmp_path / "s")], input=make_dag(tmp_path, env_deps=deps))
    assert result.exit_code == 65
    assert result.stderr.startswith("mrender: error: git dependency 'SRC': cloning ")
    assert result.stderr.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["repo"]
    deps["git"][0].update(url=str(git_repo), tag="nope")
    result = run(["-o", str(tmp_path / "s")], input=make_dag(tmp_path, env_deps=deps))
    assert result.exit_code == 65 and "checking out tag 'nope' failed" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["repo"]


@pytest.mark.parametrize("umask, script_mode, file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600),
                                                          (0o000, 0o755, 0o664)])
def test_modes_respect_the_umask_and_are_never_world_writable(tmp_path, umask, script_mode, file_mode):
    out = tmp_path / "s"
    dag = make_dag(tmp_path)
    old = os.umask(umask)
    try:
        assert run(["-o", str(out)], input=dag).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((out / "b" / "b.sh").stat().st_mode) == script_mode
    for name in ("dag.json", "state.json", "state.json.lock", "s.yaml", "meta/metadata.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == file_mode, name
    assert stat.S_IMODE(out.stat().st_mode) & 0o002 == 0


def test_settings_reach_the_state_file(tmp_path):
    out = tmp_path / "s"
    result = run(["-o", str(out), "--throttle", "4", "--attempts", "3", "--rlimit", "0", "--sleep", "5",
                  "--dry"], input=make_dag(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert statefile.read_state(out)["settings"] == {
        "throttle": 4, "attempts": 3, "rlimit": 0, "poll_interval": 5, "dry": True, "usetmp": False}


def test_bad_option_values_are_usage_errors(tmp_path):
    result = run(["-o", str(tmp_path / "s"), "--attempts", "0"], input=make_dag(tmp_path))
    assert result.exit_code == 2


def test_usetmp_puts_scripts_in_their_own_directory(tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    out = tmp_path / "s"
    assert run(["-o", str(out), "--usetmp"], input=make_dag(tmp_path)).exit_code == 0
    scripts_dir = statefile.read_state(out)["study"]["scripts_dir"]
    assert scripts_dir.startswith(str(tmp_path / "tmp"))
    assert sorted(os.listdir(scripts_dir)) == ["a_P.1.restart.sh", "a_P.1.sh", "a_P.2.restart.sh",
                                               "a_P.2.sh", "b.sh"]
    assert os.listdir(out / "a" / "P.1") == []


def test_help_lists_every_option():
    text = run(["--help"]).stdout
    for option in ("-o, --out", "--force", "--throttle", "--attempts", "--rlimit", "--sleep", "--dry",
                   "--usetmp"):
        assert option in text


def test_a_failure_while_writing_removes_only_our_temp_directory(tmp_path, monkeypatch):
    from mrender import writer

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer.statefile, "write_state", full_disk)
    out = tmp_path / "s"
    out.mkdir()
    (out / "old").write_text("keep")
    result = run(["-o", str(out), "--force"], input=make_dag(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == f"mrender: error: cannot write the study to '{out}': No space left on device\n"
    assert sorted(os.listdir(tmp_path)) == ["s"] and os.listdir(out) == ["old"]


def test_a_file_in_the_way_is_refused_too(tmp_path):
    (tmp_path / "s").write_text("not a directory")
    result = run(["-o", str(tmp_path / "s")], input=make_dag(tmp_path))
    assert result.exit_code == 65 and "use --force" in result.stderr
    assert run(["-o", str(tmp_path / "s"), "--force"], input=make_dag(tmp_path)).exit_code == 0
    assert (tmp_path / "s").is_dir()


def _crafted(tmp_path, **fields) -> bytes:
    dag = json.loads(make_dag(tmp_path))
    dag["steps"][-1].update(fields)     # the last step: no other step names it as a parent
    return dumps(dag)


@pytest.mark.parametrize("fields", [{"stem": "../../ESCAPED-by-stem"}, {"stem": "/tmp/ESCAPED"},
                                    {"workspace": "a//../../.."}, {"id": "a\x1b]0;pwned\x07"}])
def test_a_crafted_dag_never_writes_outside_the_study(tmp_path, fields):
    """Issue 15, F3: a DAG whose stem climbed out of the study made mrender create
    `ESCAPED-by-stem.sh` (the step's command) two levels up."""
    work = tmp_path / "one" / "two"
    work.mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*"))
    result = run(["-o", str(work / "study")], input=_crafted(tmp_path, **fields))
    assert result.exit_code == 65, result.stdout
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mrender: error: <stdin>: step")
    assert "\x1b" not in result.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_a_dag_on_stdin_is_read_up_to_the_cap_and_garbage_is_refused_at_once(tmp_path, monkeypatch):
    """Issue 15, F10: `mrender /dev/zero` or an endless stdin grew to 5 GB.  The cap is
    mshared.contracts.MAX_DAG_BYTES; input that does not start with '{' is refused at the first
    chunk (`yes | mrender`)."""
    import mshared.contracts

    result = run(["-o", str(tmp_path / "s")], input=b"y\n" * 100_000)
    assert result.exit_code == 65 and "does not start with '{'" in result.stderr
    monkeypatch.setattr(mshared.contracts, "MAX_DAG_BYTES", 1000)
    result = run(["-o", str(tmp_path / "s")], input=make_dag(tmp_path))
    assert result.exit_code == 65 and "larger than 1,000 bytes" in result.stderr
    dag = tmp_path / "dag.json"
    dag.write_bytes(make_dag(tmp_path))
    result = run(["-o", str(tmp_path / "s"), str(dag)])
    assert result.exit_code == 65 and "larger than 1,000 bytes" in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory"])
def test_a_dag_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    path = str(tmp_path / "dag")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        os.mkdir(path)
    else:
        path = kind
    result = run(["-o", str(tmp_path / "s"), path])
    assert result.exit_code == 65 and "not a regular file" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("field,value", [("url", "--upload-pack=touch pwned"), ("hash", "--pathspec-from-file=/etc/hostname"),
                                         ("tag", "-b"), ("branch", "--orphan=x")])
def test_a_git_dependency_that_looks_like_an_option_is_refused(tmp_path, git_repo, field, value):
    """Issue 15, F16: a url or ref starting with '-' reached git as an option."""
    dep = {"name": "SRC", "path": "$(OUTPUT_PATH)", "url": str(git_repo), field: value}
    spec = load_yaml(textwrap.dedent(HELLO), "s.yaml")
    spec.setdefault("env", {})["dependencies"] = {"git": [dep]}
    with pytest.raises(InvalidInput, match="starts with '-'"):      # mexpand refuses it
        expand(spec, source="s.yaml", spec_text=HELLO, spec_path=None, specroot=str(tmp_path), cwd=str(tmp_path))
    dag = json.loads(make_dag(tmp_path, env_deps={"git": [{"name": "SRC", "path": "$(OUTPUT_PATH)",
                                                            "url": str(git_repo)}]}))
    dag["study"]["env"]["dependencies"]["git"][0][field] = value       # a DAG made by hand
    result = run(["-o", str(tmp_path / "s")], input=dumps(dag))
    assert result.exit_code == 65 and result.stderr.count("\n") == 1
    assert f"git dependency 'SRC': {field} {value!r} starts with '-'" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["repo"]


def test_git_is_told_where_its_options_end(monkeypatch):
    from mrender import writer

    calls = []
    monkeypatch.setattr(writer, "_git", lambda argv, *rest: calls.append(argv))
    writer.clone_git({"name": "S", "url": "file:///r", "hash": "abc", "tag": "v1", "branch": "b"}, "/d")
    assert calls[0][-3:] == ["--", "file:///r", "/d"]
    assert [c[-2:] for c in calls[1:]] == [["abc", "--"], ["tags/v1", "--"], ["b", "--"]]
