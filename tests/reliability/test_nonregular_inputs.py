"""Endless and non-regular inputs: refused at once by every command, in one line (issue 15, F10).

`mrender /dev/zero` (or an endless stdin) grew to 5 GB, a `state.json` that is a symlink to
/dev/zero did the same to `mmonitor` and `mreport`, and a FIFO where a spec or a state file is
expected hung every reader.  Each case runs in a child under RLIMIT_AS 2 GiB and a timeout
(``reliability_helpers.measured``): exit 65, one `<tool>: error:` line, in bounded time and memory.
`make test` tries every command with one kind of bad file (rotating); `make stress` every kind.
"""

import os
import zlib

import pytest

from mexpand.core import expand_file
from mrender.core import write_study
from mshared.times import utcnow

from reliability_helpers import STRESS, chain_spec, measured, one_line_error

LIMIT_SECONDS = 10.0
LIMIT_RSS_MB = 256
KINDS = {
    "symlink to /dev/zero": lambda path: os.symlink("/dev/zero", path),
    "FIFO": os.mkfifo,
    "directory": os.mkdir,
    "symlink to /dev/urandom": lambda path: os.symlink("/dev/urandom", path),
}
STUDY_COMMANDS = {
    "msubmit": ["msubmit", "{root}"], "mmonitor": ["mmonitor", "{root}"],
    "mmonitor --loop": ["mmonitor", "--loop", "{root}"], "mreport": ["mreport", "{root}"],
    "mreport -f json": ["mreport", "-f", "json", "{root}"], "mreport --why": ["mreport", "--why", "{root}"],
    "maestro status": ["maestro", "status", "{root}"], "maestro conductor": ["maestro", "conductor", "{root}"],
    "maestro cancel": ["maestro", "cancel", "-y", "{root}"],
    "maestro update": ["maestro", "update", "--throttle", "2", "{root}"],
    "maestro rerun": ["maestro", "rerun", "{root}", "s0"],
}
SPEC_COMMANDS = {
    "mexpand": ["mexpand", "{bad}"], "maestro run": ["maestro", "run", "-y", "-o", "{out}", "{bad}"],
    "mexpand --pgen": ["mexpand", "--pgen", "{bad}", "{spec}"],
    "maestro run --pgen": ["maestro", "run", "-n", "--pgen", "{bad}", "-o", "{out}", "{spec}"],
    "mrender": ["mrender", "-o", "{out}", "{bad}"],
}


def kinds_for(*key) -> list[str]:
    """Every kind under `make stress`; one per case otherwise, rotating over the cases."""
    if STRESS:
        return list(KINDS)
    return [list(KINDS)[zlib.crc32(repr(key).encode()) % len(KINDS)]]


def check(result, tool_name: str, case: str):
    print(f"\nnon-regular input: {case}: exit {result['code']} in {result['seconds']:.2f} s, "
          f"peak RSS {result['rss_mb']:.0f} MB: {result['stderr'].strip()[-150:]}")
    assert result["code"] == 65, (case, result)
    one_line_error(result["stderr"], tool_name)
    assert result["seconds"] < LIMIT_SECONDS and result["rss_mb"] < LIMIT_RSS_MB, (case, result)


def _study(tmp_path) -> str:
    spec = tmp_path / "spec.yaml"
    spec.write_text(chain_spec("irregular", 2, fan=1, sleep="0"))
    dag, _ = expand_file(str(spec), cwd=str(tmp_path))
    return write_study(dag, str(tmp_path / "study"), {}, now=utcnow())


@pytest.mark.parametrize("file", ["state.json", "dag.json"])
@pytest.mark.parametrize("command", list(STUDY_COMMANDS))
def test_study_files_that_are_not_regular_files_are_refused(tmp_path, command, file):
    for kind in kinds_for(command, file):
        base = tmp_path / kind.replace(" ", "_").replace("/", "_")
        base.mkdir()
        root = _study(base)
        os.unlink(os.path.join(root, file))
        KINDS[kind](os.path.join(root, file))
        argv = [a.format(root=root) for a in STUDY_COMMANDS[command]]
        check(measured(argv, base, timeout=LIMIT_SECONDS + 1), " ".join(argv[:2]) if argv[0] == "maestro"
              else argv[0], f"{command}, {file} is a {kind}")


BROKEN = {"missing": os.unlink, "garbage": lambda path: open(path, "w").write("not json {"),
          "empty": lambda path: open(path, "w").close()}


@pytest.mark.parametrize("file", ["state.json", "dag.json"])
@pytest.mark.parametrize("command", list(STUDY_COMMANDS))
def test_study_files_missing_or_garbage_are_refused(tmp_path, command, file):
    """Issue 15, F18: `maestro rerun` with dag.json missing exited 1 ("No such file or directory")."""
    for how in (BROKEN if STRESS else [list(BROKEN)[zlib.crc32(repr((command, file)).encode()) % len(BROKEN)]]):
        base = tmp_path / how
        base.mkdir()
        root = _study(base)
        if how != "missing":
            os.unlink(os.path.join(root, file))
        BROKEN[how](os.path.join(root, file))
        argv = [a.format(root=root) for a in STUDY_COMMANDS[command]]
        check(measured(argv, base, timeout=LIMIT_SECONDS + 1), " ".join(argv[:2]) if argv[0] == "maestro"
              else argv[0], f"{command}, {file} {how}")


@pytest.mark.parametrize("command", list(SPEC_COMMANDS))
def test_inputs_that_are_not_regular_files_are_refused(tmp_path, command):
    for kind in kinds_for(command):
        base = tmp_path / kind.replace(" ", "_").replace("/", "_")
        base.mkdir()
        (base / "spec.yaml").write_text(chain_spec("irregular", 1, sleep="0"))
        KINDS[kind](str(base / "bad"))
        argv = [a.format(bad=base / "bad", spec=base / "spec.yaml", out=base / "out")
                for a in SPEC_COMMANDS[command]]
        check(measured(argv, base, timeout=LIMIT_SECONDS + 1),
              " ".join(argv[:2]) if argv[0] == "maestro" else argv[0], f"{command} of a {kind}")
        assert not os.path.exists(base / "out")


@pytest.mark.parametrize("stdin", ["/dev/zero", "|yes"])
@pytest.mark.parametrize("command", [["mrender", "-o", "out"], ["mrender", "-o", "out", "-"], ["mexpand", "-"]])
def test_an_endless_stdin_is_refused(tmp_path, command, stdin):
    check(measured(command, tmp_path, stdin=stdin), command[0], f"{' '.join(command)} < {stdin}")
