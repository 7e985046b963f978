"""Hostile names, labels and values: nothing written outside the study, nothing injected into a
scheduler header.

1. A local study whose step names, labels and parameter values hold `..`, `/`, NUL, newlines,
   quotes, `$()`, backticks and other shell metacharacters is expanded, rendered and run: every
   file the tools (and the jobs, whose commands write only under $(WORKSPACE)) create is inside
   the study directory.  The same spec rendered for SLURM, LSF, Flux and PBS writes only inside too.
2. For each scheduler, each user-controlled header field gets each payload (a newline or CR
   followed by a directive, a space or tab followed by an option, a quote that closes the value,
   NUL, ...).  mexpand or mrender may refuse it (exit 65, one line); if they accept it, every
   directive line of every script must hold ONE option (`#SBATCH --opt=value`, a value being one
   word or one quoted string), and only options that a clean render uses.
"""

import os
import re
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from mexpand.cli import main as mexpand_main
from mrender.cli import main as mrender_main

from reliability_helpers import one_line_error, runs, tool, tree  # noqa: F401

# --------------------------------------------------------------------------- 1. stay inside
HOSTILE_VALUES = ["../../escape", "/abs/path", "$(id)", "`id`; touch pwned ;", "..", ".", "~", "a b",
                  "'quoted'", '"dq"', "-rf", "*", "%x%j", "\\..\\..", "é💥\u202e"]
CONTROL_VALUES = ["a\nb", "x\0y", "tab\there", "cr\rx"]


def hostile_spec(batch: str) -> str:
    n = len(HOSTILE_VALUES)
    controls = (CONTROL_VALUES * n)[:n]
    doc = {
        "description": {"name": "evil/../name; $(id)", "description": "d\n#SBATCH --evil"},
        "batch": {"type": batch, "queue": "debug"} if batch != "local" else {"type": "local"},
        "env": {"variables": {"OUTPUT_PATH": "./out"}, "labels": {"LBL": "../lab.$(Q)"}},
        "study": [
            {"name": "x/y", "description": "writes the values it got, in its workspace",
             "run": {"cmd": "printf '%s\\n' '$(Q)' > \"$(WORKSPACE)/q.txt\"; printf %s '$(P)' > \"$(WORKSPACE)/p.txt\"; "
                            "printf '%s\\n' \"$(LBL)\" > \"$(WORKSPACE)/label.txt\"; echo x/y >> \"$(OUTPUT_PATH)/runs.txt\""}},
            {"name": "a b ; `id` $(id)", "description": "funnel",
             "run": {"cmd": "echo funnel >> \"$(OUTPUT_PATH)/runs.txt\"", "depends": ["x/y_*"]}},
            {"name": "..x", "description": "name starting with dots",
             "run": {"cmd": "ls \"$(x/y.workspace)\" > \"$(WORKSPACE)/ls.txt\"; echo ..x >> \"$(OUTPUT_PATH)/runs.txt\""}},
        ],
        "global.parameters": {
            "Q": {"values": HOSTILE_VALUES, "label": "Q.%%"},
            "P": {"values": controls, "label": [f"P{i}" for i in range(n)]},
        },
    }
    if batch != "local":
        for step in doc["study"]:
            step["run"].update(nodes=1, procs=1, walltime="00:01:00")
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10 ** 6)


def expand_and_render(base, batch: str) -> str:
    work = base / "work"
    work.mkdir()
    (work / "spec.yaml").write_text(hostile_spec(batch), encoding="utf-8")
    dag = subprocess.run([tool("mexpand"), "spec.yaml"], cwd=work, capture_output=True, timeout=60)
    assert dag.returncode == 0, dag.stderr.decode()
    out = subprocess.run([tool("mrender")], cwd=work, input=dag.stdout, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().strip()


def outside(before: set, after: set, base, root) -> list[str]:
    rel_root = os.path.relpath(root, base)
    return sorted(p for p in after - before
                  if not (p == rel_root + "/" or p.startswith(rel_root + "/"))
                  and p not in ("work/", "work/spec.yaml", "work/out/"))


def test_a_hostile_local_study_runs_and_writes_only_inside_its_directory(tmp_path):
    base = tmp_path / "sandbox"
    base.mkdir()
    before = tree(tmp_path)
    root = expand_and_render(base, "local")
    loop = subprocess.run([tool("mmonitor"), "--loop", "--interval", "0.1", root], capture_output=True,
                          text=True, timeout=120)
    after = tree(tmp_path)
    bad = outside({p.replace("sandbox/", "", 1) for p in before}, {p[len("sandbox/"):] for p in after
                                                                   if p.startswith("sandbox/")}, base, root)
    created = len(after - before)
    print(f"\ninjection (local run): {created} paths created, {len(bad)} outside the study; loop exit "
          f"{loop.returncode}; {len(runs(root))} step runs")
    assert loop.returncode == 0, loop.stderr
    assert len(runs(root)) == 2 * len(HOSTILE_VALUES) + 1
    assert not bad, bad
    assert sorted(p for p in after - before if not p.startswith("sandbox/")) == []
    # the values reached the jobs as written (inside the cmd's single quotes: no expansion of $(id)
    # or backticks; a value's own single quotes end the cmd's quoting, so they vanish, as in bash)
    got = set()
    for dirpath, _, files in os.walk(root):
        if "q.txt" in files:
            got.add(open(os.path.join(dirpath, "q.txt"), encoding="utf-8").read().rstrip("\n"))
    assert got == {v.replace("'", "") for v in HOSTILE_VALUES}, got
    assert not any(name == "pwned" for _, _, files in os.walk(tmp_path) for name in files)


@pytest.mark.parametrize("batch", ["slurm", "lsf", "flux", "pbs"])
def test_a_hostile_batch_study_renders_only_inside_its_directory(tmp_path, batch):
    base = tmp_path / "sandbox"
    base.mkdir()
    root = expand_and_render(base, batch)
    paths = tree(base)
    bad = outside(set(), paths, base, root)
    bad_headers = header_violations(root, batch, allowed=None)
    print(f"\ninjection ({batch} render): {len(paths)} paths, {len(bad)} outside the study, "
          f"{len(bad_headers)} bad directive lines")
    assert not bad, bad
    assert not bad_headers, bad_headers[:5]


# --------------------------------------------------------------------------- 2. header fields
PREFIX = {"slurm": "#SBATCH", "lsf": "#BSUB", "flux": "#flux:", "pbs": "#PBS"}
# A quoted value ends at a quote that no backslash escapes: sbatch reads `"x\"` as unclosed (F8).
QUOTED = r'"(?:[^"\\]|\\.)*"'
ONE_OPTION = {
    "slurm": re.compile(rf'^#SBATCH (--[a-z][a-z-]*)(=({QUOTED}|[^\s"]+)| {QUOTED})?$'),
    "lsf": re.compile(rf'^#BSUB (-[A-Za-z_]+)( ({QUOTED}|[^\s"]+))?$'),
    "flux": re.compile(rf'^#flux: (--[a-z][a-z-]*|-[A-Za-z])((=| )({QUOTED}|[^\s"]+))?$'),
    "pbs": re.compile(rf'^#PBS (-[A-Za-z])( ({QUOTED}|[^\s"]+))?$'),
}


def scripts_of(root):
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".sh"):
                yield os.path.join(dirpath, name)


def header_violations(root, batch: str, allowed: set | None) -> list[str]:
    """Directive lines that hold more than one option, or an option a clean render never uses.
    The header is what precedes the first line that is neither a comment nor blank."""
    bad = []
    for path in scripts_of(root):
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            text = handle.read()
        for line in text.split("\n")[1:]:
            if line.strip() and not line.startswith("#"):
                break                               # the script body: the user's own commands
            for piece in line.split("\r"):      # schedulers read lines ending in \n; a CR counts too
                if not piece.startswith(PREFIX[batch]):
                    continue
                match = ONE_OPTION[batch].match(piece)
                if not match:
                    bad.append(f"{os.path.basename(path)}: {piece!r}")
                elif allowed is not None and match.group(1) not in allowed:
                    bad.append(f"{os.path.basename(path)}: unexpected option {match.group(1)} in {piece!r}")
    return bad


def payloads(batch: str) -> dict[str, str]:
    directive = PREFIX[batch]
    return {
        "newline + directive": f"x\n{directive} --evil=1",
        "CR + directive": f"x\r{directive} --evil=1",
        "space + option": "x --evil=1",
        "tab + option": "x\t--evil=1",
        "double quote closes the value": 'x" --evil="1',
        "single quote": "x' --evil='1",
        "trailing backslash": "x\\",
        "NUL": "x\0 --evil",
        "command substitution": "$(touch pwned)",
        "backticks": "`touch pwned`",
        "unicode line separator": f"x\u2028{directive} --evil=1",
    }


# field -> how the payload gets into the spec (a function of the spec dict and the payload)
def _batch_key(key):
    def put(doc, value):
        doc["batch"][key] = value
    return put


def _run_key(key):
    def put(doc, value):
        doc["study"][0]["run"][key] = value
    return put


def _via_parameter(key):
    def put(doc, value):
        doc["study"][0]["run"][key] = "$(V)"
        doc["global.parameters"] = {"V": {"values": [value], "label": ["V1"]}}
    return put


def _via_variable(key):
    def put(doc, value):
        doc["study"][0]["run"][key] = "$(V)"
        doc["env"] = {"variables": {"V": value}}
    return put


def _step_description(doc, value):
    doc["study"][0]["description"] = value


def _step_name(doc, value):
    doc["study"][0]["name"] = value
    doc["study"][1]["run"]["depends"] = [value]


FIELDS = {
    "batch.queue": _batch_key("queue"), "batch.bank": _batch_key("bank"), "batch.host": _batch_key("host"),
    "batch.qos": _batch_key("qos"), "batch.reservation": _batch_key("reservation"),
    "run.walltime": _run_key("walltime"), "run.qos": _run_key("qos"), "run.reservation": _run_key("reservation"),
    "walltime from a parameter": _via_parameter("walltime"), "nodes from a variable": _via_variable("nodes"),
    "step description": _step_description, "step name": _step_name,
}


def base_doc(batch: str) -> dict:
    return {
        "description": {"name": "inj", "description": "header injection"},
        "batch": {"type": batch, "queue": "debug", "bank": "acct"},
        "study": [
            {"name": "a", "description": "first",
             "run": {"cmd": "echo a", "nodes": 1, "procs": 2, "walltime": "00:10:00"}},
            {"name": "b", "description": "second", "run": {"cmd": "echo b", "procs": 1, "depends": ["a"]}},
        ],
    }


def render_doc(doc, out) -> tuple[str, int, str]:
    """(stage, exit code, stderr): stage is where it stopped, 'rendered' when it went through."""
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10 ** 6)
    expanded = CliRunner().invoke(mexpand_main, ["-"], input=text.encode("utf-8"), prog_name="mexpand")
    if expanded.exit_code != 0:
        return "mexpand", expanded.exit_code, expanded.stderr
    rendered = CliRunner().invoke(mrender_main, ["-o", str(out)], input=expanded.stdout_bytes, prog_name="mrender")
    if rendered.exit_code != 0:
        return "mrender", rendered.exit_code, rendered.stderr
    return "rendered", 0, ""


@pytest.fixture(scope="module")
def clean_options(tmp_path_factory):
    """The options each scheduler's clean render uses: anything else in a header was injected."""
    out = {}
    for batch in PREFIX:
        doc = base_doc(batch)
        doc["batch"].update(host="h", qos="q", reservation="r")
        doc["study"][0]["run"].update(qos="q", reservation="r", gpus=1, exclusive=True)
        root = tmp_path_factory.mktemp(f"clean-{batch}") / "s"
        assert render_doc(doc, root)[0] == "rendered"
        options = set()
        for path in scripts_of(root):
            for line in open(path, encoding="utf-8").read().split("\n"):
                match = ONE_OPTION[batch].match(line)
                if match:
                    options.add(match.group(1))
        out[batch] = options
    return out


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("batch", list(PREFIX))
def test_no_user_text_becomes_a_header_directive(tmp_path, clean_options, batch, field, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcomes, violations = [], []
    for name, payload in payloads(batch).items():
        doc = base_doc(batch)
        FIELDS[field](doc, payload)
        root = tmp_path / re.sub(r"\W", "_", name)
        stage, code, stderr = render_doc(doc, root)
        if stage != "rendered":
            assert code == 65, f"{field} <- {name}: {stage} exited {code}: {stderr}"
            one_line_error(stderr, stage)
            outcomes.append(f"{name}: refused by {stage}")
            continue
        bad = header_violations(root, batch, clean_options[batch])
        outcomes.append(f"{name}: rendered, {len(bad)} bad line(s)")
        violations += [f"{field} <- {name}: {line}" for line in bad]
        assert not (tmp_path / "pwned").exists()
    refused = sum("refused" in o for o in outcomes)
    print(f"\nheader injection {batch} / {field}: {len(outcomes)} payloads, {refused} refused, "
          f"{len(outcomes) - refused} rendered, {len(violations)} injected line(s)")
    assert not violations, "\n".join(violations)
