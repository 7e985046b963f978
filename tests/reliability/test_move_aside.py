"""`-y` and `--force` move aside only what is safe to move; a moved study is refused, never run
where its scripts would write elsewhere (issue 15, F5, F6).

Observed before the fix: `maestro run -y -o st` over a running study moved it to st.old-<stamp>
while its conductor went on and drove the new study; resuming the moved one made its scripts
(absolute paths) write into the new one; `-y` renamed any directory, `-o .` included.  Now:
never a study whose conductor is alive or that has not ended, never the working directory or a
parent of it (whatever the flags); a directory that is not a study only with an explicit
`--force`; and a study whose lock file records another place is refused by every writer.
"""

import os
import shutil

import pytest

from reliability_helpers import chain_spec, one_line_error, proc_run, runs, scaled, states, wait_for

WRITERS = {"msubmit": ["msubmit", "{root}"], "mmonitor": ["mmonitor", "{root}"],
           "mmonitor --loop": ["mmonitor", "--loop", "{root}"], "maestro conductor": ["maestro", "conductor", "{root}"],
           "maestro cancel": ["maestro", "cancel", "-y", "{root}"],
           "maestro update": ["maestro", "update", "--throttle", "2", "{root}"],
           "maestro rerun": ["maestro", "rerun", "{root}", "s0"]}


def _spec(tmp_path, steps=6, sleep="0.{i7}") -> str:
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("aside", steps, fan=2, sleep=sleep))
    return str(spec)


def _asides(parent) -> list[str]:
    return sorted(n for n in os.listdir(parent) if ".old-" in n)


def _refused(argv, cwd, words: str, tool_name: str = "maestro run"):
    proc = proc_run(argv, cwd=cwd)
    assert proc.returncode == 65, (argv, proc.stderr)
    assert words in one_line_error(proc.stderr, tool_name), proc.stderr
    return proc


def test_a_running_study_is_never_moved_aside_and_finishes_once(tmp_path):
    for round_ in range(scaled(1, 4)):
        base = tmp_path / f"r{round_}"
        base.mkdir()
        spec = _spec(base, steps=8, sleep="0.3")
        root = str(base / "st")
        assert proc_run(["maestro", "run", "-y", "-s", "1", "-o", root, spec], cwd=base).returncode == 0
        wait_for(lambda: os.path.exists(os.path.join(root, "conductor.pid")), 30, what="the conductor")
        for flags in (["-y"], ["--force"], ["-y", "--force"]):
            _refused(["maestro", "run", *flags, "-o", root, spec], base, "conductor is running")
        dag = proc_run(["mexpand", spec], cwd=base).stdout
        forced = proc_run(["mrender", "--force", "-o", root], cwd=base, input=dag)
        assert forced.returncode == 65 and "conductor is running" in forced.stderr
        assert _asides(base) == []
        wait_for(lambda: set(states(root).values()) == {"FINISHED"}, 60, what="the study to finish")
        assert sorted(runs(root)) == sorted(f"s{i}" for i in range(8))      # each step once
        wait_for(lambda: "finished with state" in open(os.path.join(root, "logs", "conductor.log")).read(), 30)
        again = proc_run(["maestro", "run", "-y", "-fg", "--dry", "-o", root, spec], cwd=base)
        assert again.returncode == 0, again.stderr             # a study that ended moves aside
        assert len(_asides(base)) == 1


def test_a_study_that_has_not_ended_is_never_moved_aside(tmp_path):
    spec = _spec(tmp_path)
    root = str(tmp_path / "st")
    assert proc_run(["maestro", "run", "-n", "-o", root, spec], cwd=tmp_path).returncode == 0   # not launched
    for flags in (["-y"], ["--force"]):
        _refused(["maestro", "run", *flags, "-o", root, spec], tmp_path, "has not ended")
    assert _asides(tmp_path) == []


def test_y_never_moves_a_directory_that_is_not_a_study(tmp_path):
    spec = _spec(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("code")
    _refused(["maestro", "run", "-y", "-o", str(project), spec], tmp_path, "is not a study")
    assert os.listdir(project) == ["main.py"] and _asides(tmp_path) == []
    assert proc_run(["maestro", "run", "--force", "-n", "-o", str(project), spec], cwd=tmp_path).returncode == 0
    [aside] = _asides(tmp_path)
    assert os.listdir(tmp_path / aside) == ["main.py"]


@pytest.mark.parametrize("out", [".", "..", "{cwd}", "{cwd}/../..", "{cwd}/"])
def test_the_working_directory_and_its_parents_are_never_moved(tmp_path, out):
    spec = _spec(tmp_path)
    cwd = tmp_path / "a" / "b" / "project"
    cwd.mkdir(parents=True)
    (cwd / "main.py").write_text("code")
    target = out.format(cwd=cwd)
    for flags in (["-y"], ["--force"], ["-y", "--force"]):
        _refused(["maestro", "run", *flags, "-o", target, spec], cwd, "current directory")
    dag = proc_run(["mexpand", spec], cwd=cwd).stdout
    forced = proc_run(["mrender", "--force", "-o", target], cwd=cwd, input=dag)
    assert forced.returncode == 65 and "current directory" in forced.stderr
    assert os.listdir(cwd) == ["main.py"] and not list(tmp_path.rglob("*.old-*"))


@pytest.mark.parametrize("how", ["moved", "copied", "moved, and a new study where it was"])
def test_a_moved_or_copied_study_is_refused_by_every_writer_and_still_reported(tmp_path, how):
    spec = _spec(tmp_path, steps=4, sleep="0")
    root = str(tmp_path / "st")
    assert proc_run(["maestro", "run", "-n", "-o", root, spec], cwd=tmp_path).returncode == 0
    other = str(tmp_path / "elsewhere")
    (shutil.copytree if how == "copied" else os.rename)(root, other)
    if how.endswith("where it was"):
        assert proc_run(["maestro", "run", "-n", "-o", root, spec], cwd=tmp_path).returncode == 0
    before = {n: open(os.path.join(other, n), "rb").read() for n in ("state.json", "dag.json")}
    for name, argv in WRITERS.items():
        argv = [a.format(root=other) for a in argv]
        proc = proc_run(argv, cwd=tmp_path)
        assert proc.returncode == 65, (name, proc.stderr)
        line = one_line_error(proc.stderr, " ".join(argv[:2]) if argv[0] == "maestro" else argv[0])
        assert f"rendered in {root} and has been moved or copied" in line, line
    assert {n: open(os.path.join(other, n), "rb").read() for n in before} == before
    assert not os.path.exists(os.path.join(other, "conductor.pid"))
    assert runs(other) == [] and runs(root) == []                      # nothing ran, here or there
    report = proc_run(["mreport", other], cwd=tmp_path)
    assert report.returncode == 0 and "RUNNING" in report.stdout     # readers still read it
    if how == "moved":
        os.rename(other, root)                                        # moved back: it runs
        loop = proc_run(["mmonitor", "--loop", "--interval", "0.05", root], cwd=tmp_path)
        assert loop.returncode == 0 and sorted(runs(root)) == ["s0", "s1", "s2", "s3"]
