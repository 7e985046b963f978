"""mrender's pure core: a DAG in, a Plan out (no file system, no clock)."""

import hashlib
import json
from datetime import datetime, timezone

import pytest

from mrender import core
from mshared.errors import InvalidInput
from mshared.jsonio import dumps

from expand_helpers import HELLO_BYE, expand_text

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
ROOT = "/study"

FUNNEL = """
description: {name: fun nel/x, description: funnel and workspaces}
env:
  variables: {OUTPUT_PATH: ./out}
study:
  - name: a
    description: first
    run: {cmd: 'echo $(P) > $(WORKSPACE)/x; echo $(OUTPUT_PATH)', restart: 'echo again $(WORKSPACE)'}
  - name: b
    description: second
    run: {cmd: 'cat $(a.workspace)/x', depends: [a]}
  - name: c
    description: funnel
    run: {cmd: 'ls $(a.workspace)', depends: [a_*]}
global.parameters:
  P: {values: [1, 2], label: P.%%}
"""


def dag_of(text, batch=None, **kw):
    dag, _ = expand_text(text, **kw)
    if batch is not None:
        dag["study"]["batch"] = batch
    return dag


def render(dag, **settings):
    return core.render(dag, root=ROOT, settings=settings, now=NOW)


def scripts(plan):
    return {path: data.decode() for path, data in plan.scripts}


def files(plan):
    return dict(plan.files)


def test_workspaces_parents_first_then_meta_and_logs():
    plan = render(dag_of(HELLO_BYE))
    assert plan.dirs[:2] == ["hello_world", "hello_world/GREETING.Hello.NAME.Pam"]
    assert plan.dirs[-2:] == ["meta", "logs"]
    assert len(plan.dirs) == 2 + 8 + 2
    assert plan.dirs.index("bye_world") < plan.dirs.index("bye_world/GREETING.Hi.NAME.Dwight")


def test_local_scripts_are_maestros_bytes():
    plan = render(dag_of(HELLO_BYE))
    text = scripts(plan)["hello_world/GREETING.Hello.NAME.Pam/hello_world_GREETING.Hello.NAME.Pam.sh"]
    assert text == '#!/bin/bash\n\necho "Hello, Pam!" > Hello_Pam.txt\n'


def test_root_tokens_are_resolved_in_cmd_and_restart():
    s = scripts(render(dag_of(FUNNEL)))
    assert s["a/P.1/a_P.1.sh"] == "#!/bin/bash\n\necho 1 > /study/a/P.1/x; echo /study\n"
    assert s["a/P.1/a_P.1.restart.sh"] == "#!/bin/bash\n\necho again /study/a/P.1\n"
    assert s["b/P.2/b_P.2.sh"] == "#!/bin/bash\n\ncat /study/a/P.2/x\n"
    assert s["c/c.sh"] == "#!/bin/bash\n\nls /study/a\n"    # funnel parent: the step's root directory


def test_root_files_and_meta():
    dag = dag_of(HELLO_BYE)
    plan = render(dag)
    f = files(plan)
    assert f["dag.json"] == dumps(dag)
    assert f["spec.yaml"].decode() == dag["study"]["spec"]["text"]
    assert f["batch.info"] == b"type: local\n"
    params = json.loads(f["meta/parameters.json"])
    assert params["hello_world_GREETING.Hello.NAME.Pam"] == {
        "params": {"GREETING": "Hello", "NAME": "Pam"}, "combo": "GREETING.Hello.NAME.Pam"}
    assert json.loads(f["meta/environment.json"]) == dag["study"]["env"]
    meta = json.loads(f["meta/metadata.json"])
    assert meta["dag_sha256"] == hashlib.sha256(dumps(dag)).hexdigest()
    assert meta["rendered"] == "2026-01-02T03:04:05Z" and meta["steps"] == 8


def test_pgen_copy_is_written():
    dag = dag_of(HELLO_BYE)
    dag["study"]["pgen"] = {"filename": "gen.py", "text": "def get_custom_generator(e): pass\n", "pargs": {}}
    assert files(render(dag))["gen.py"].startswith(b"def get_custom_generator")


def test_initial_state():
    dag = dag_of(HELLO_BYE)
    state = render(dag, throttle=3, attempts=2, rlimit=0, poll_interval=5, dry=True).state
    assert state["study"] == {"name": "hello_bye_world", "root": "/study", "scheduler": "local",
                              "dag_sha256": hashlib.sha256(dumps(dag)).hexdigest(),
                              "scripts_dir": None, "created": "2026-01-02T03:04:05Z"}
    assert state["settings"] == {"throttle": 3, "attempts": 2, "rlimit": 0, "poll_interval": 5,
                                 "dry": True, "usetmp": False}
    assert list(state["steps"]) == [s["id"] for s in dag["steps"]]
    assert {s["state"] for s in state["steps"].values()} == {"INITIALIZED"}


@pytest.mark.parametrize("settings, message", [
    ({"attempts": 0}, "'attempts' must be a whole number >= 1"),
    ({"throttle": -1}, "'throttle'"),
    ({"dry": "yes"}, "'dry' must be true or false"),
    ({"bogus": 1}, "unknown study setting"),
])
def test_settings_are_checked(settings, message):
    with pytest.raises(InvalidInput, match=message):
        render(dag_of(HELLO_BYE), **settings)


def test_default_output_dir_follows_maestro():
    dag = dag_of(FUNNEL, cwd="/home/u/run")
    assert core.default_output_dir(dag, "20260102-030405") == "/home/u/run/out/fun_nelx_20260102-030405"
    dag["study"]["output_path"] = None
    assert core.default_output_dir(dag, "S") == "/home/u/run/fun_nelx_S"
    dag["study"]["output_path"] = "/abs/place"
    assert core.default_output_dir(dag, "S") == "/abs/place/fun_nelx_S"
    dag["study"]["output_path"] = "$(SPECROOT)/o"
    assert core.default_output_dir(dag, "S") == "/specs/o/fun_nelx_S"


def test_study_dir_name_is_never_empty():
    assert core.study_dir_name("..", "S") == "study_S"
    assert core.study_dir_name("a b", "S") == "a_b_S"


def test_usetmp_scripts_are_flat():
    plan = render(dag_of(FUNNEL), usetmp=True)
    assert plan.flat_scripts
    assert "a_P.1.sh" in scripts(plan) and "c.sh" in scripts(plan)
    assert plan.state["settings"]["usetmp"] is True


def test_git_and_path_dependencies_are_planned():
    dag = dag_of(HELLO_BYE, cwd="/home/u")
    dag["study"]["env"]["dependencies"] = {
        "paths": [{"name": "DATA", "path": "/data/x"}],
        "git": [{"name": "REPO", "path": "$(OUTPUT_PATH)", "url": "file:///r", "tag": "v1"},
                {"name": "TOOLS", "path": "deps", "url": "/r2", "branch": "dev"}]}
    plan = render(dag)
    assert plan.path_deps == [{"name": "DATA", "path": "/data/x"}]
    assert plan.git_deps == [{"name": "REPO", "url": "file:///r", "dest": "/study/REPO", "tag": "v1"},
                             {"name": "TOOLS", "url": "/r2", "dest": "/home/u/deps/TOOLS", "branch": "dev"}]


def test_batch_shell_sets_the_shebang():
    plan = render(dag_of(HELLO_BYE, batch={"type": "local", "shell": "/bin/zsh"}))
    assert next(iter(scripts(plan).values())).startswith("#!/bin/zsh\n\n")


@pytest.mark.parametrize("batch, message", [
    ({"type": "sge"}, "not a known scheduler"),
    ({"type": "local", "shell": "bash"}, "absolute path"),
])
def test_bad_batch_blocks(batch, message):
    with pytest.raises(InvalidInput, match=message):
        render(dag_of(HELLO_BYE, batch=batch))


def test_names_that_would_collide_in_the_root():
    dag = dag_of(HELLO_BYE)
    dag["study"]["spec"]["filename"] = "state.json"
    with pytest.raises(InvalidInput, match="would overwrite mrender's own files"):
        render(dag)
    clash = dag_of("""
description: {name: s, description: d}
study:
  - {name: meta, description: d, run: {cmd: echo}}
""")
    with pytest.raises(InvalidInput, match="step 'meta': workspace 'meta' would overwrite"):
        render(clash)


SCHEDULED = """
description: {name: s, description: d}
batch: {type: slurm, host: h, bank: b, queue: q}
study:
  - name: run
    description: d
    run: {cmd: '$(LAUNCHER)[6p] a; $(LAUNCHER)[6p] b', nodes: 1, procs: 8}
"""


def test_launcher_errors_surface_at_render_time():
    with pytest.raises(InvalidInput, match=r"step 'run': Total processors \(12\) requested exceeds"):
        render(dag_of(SCHEDULED))


def test_scheduled_step_under_local_batch_loses_its_launcher():
    dag = dag_of(SCHEDULED.replace("[6p]", ""), batch={"type": "local"})
    assert scripts(render(dag))["run/run.sh"] == "#!/bin/bash\n\na; b\n"


def test_header_injection_is_refused_or_cleaned():
    dag = dag_of(SCHEDULED.replace("[6p]", ""))
    dag["steps"][0]["resources"]["reservation"] = 'r"x'
    with pytest.raises(InvalidInput, match="contains a quote"):
        render(dag)
    dag["steps"][0]["resources"]["reservation"] = "r\n#SBATCH --x"
    with pytest.raises(InvalidInput, match="line break"):
        render(dag)
    del dag["steps"][0]["resources"]["reservation"]
    dag["steps"][0]["description"] = 'say "hi"\n\x07bye'
    text = scripts(render(dag))["run/run.slurm.sh"]
    assert "#SBATCH --comment \"say 'hi' bye\"\n" in text


def test_relative_root_is_a_programming_error():
    with pytest.raises(ValueError):
        core.render(dag_of(HELLO_BYE), root="rel", settings={}, now=NOW)
