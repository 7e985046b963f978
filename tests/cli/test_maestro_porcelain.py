"""The maestro wrapper is porcelain over the tools' cores: it imports the contract library
(mshared) and the cores (mexpand.core, ..., mreport.core), nothing else of the project, and
offers what the cores offer (a format added to mreport is one of `maestro status --format`)."""

import ast
import os
import re

import pytest
from click.testing import CliRunner

from maestro_cli.cli import main

WRAPPER = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "maestro")
PROJECT = ("mshared", "mruntime", "mexpand", "mrender", "msubmit", "mmonitor", "mreport", "maestro_cli")
CORES = {f"{tool}.core" for tool in ("mexpand", "mrender", "msubmit", "mmonitor", "mreport", "mextend")}


def imported_modules(path: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file, at any depth; `from pkg import name`
    of a project package counts as pkg.name (`from mreport import core` is mreport.core)."""
    out = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:    # level > 0: the wrapper's own
            if node.module in PROJECT:
                out += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


def wrapper_violations(folder: str) -> list[str]:
    """Imports of the project that are neither mshared nor a tool's core."""
    bad = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            for line, module in imported_modules(os.path.join(folder, name)):
                top = module.split(".")[0]
                if top in PROJECT and top not in ("mshared", "maestro_cli") and module not in CORES:
                    bad.append(f"{name}:{line}: imports {module}")
    return bad


def test_the_wrapper_imports_only_mshared_and_the_tools_cores():
    assert wrapper_violations(WRAPPER) == []


def test_the_import_check_catches_what_it_must(tmp_path):
    (tmp_path / "bad.py").write_text(
        "import os\nimport click\nfrom mshared.errors import InvalidInput\nfrom mreport import core\n"
        "from mexpand.core import expand_file\nfrom . import launch\n"
        "from mrender.writer import occupied\nfrom mruntime.engine.loop import run_loop\n"
        "import mexpand.spec_input\nfrom mreport import load, core\nimport msubmit\n"
        "def f():\n    from mreport.formats import render\n")
    assert sorted(wrapper_violations(str(tmp_path))) == [
        "bad.py:10: imports mreport.load", "bad.py:11: imports msubmit", "bad.py:13: imports mreport.formats",
        "bad.py:7: imports mrender.writer", "bad.py:8: imports mruntime.engine.loop",
        "bad.py:9: imports mexpand.spec_input"]


# ------------------------------------------------------------------ formats come from mreport
SPEC = """description: {name: tiny, description: d}
study:
  - {name: hello, description: d, run: {cmd: echo hello}}
"""


@pytest.fixture
def study(tmp_path):
    from mexpand.core import expand_file
    from mrender.core import write_study
    from mshared.times import utcnow

    (tmp_path / "spec.yaml").write_text(SPEC)
    dag, _ = expand_file(str(tmp_path / "spec.yaml"), cwd=str(tmp_path))
    return write_study(dag, str(tmp_path / "study"), {}, now=utcnow())


def test_a_format_added_to_mreport_is_offered_by_maestro_status(monkeypatch, study):
    from mreport import core, formats

    real = formats.render

    def render(report, fmt, view, **kwargs):
        if fmt == "fake":
            return f"fake report of {report.study.root}\n".encode()
        return real(report, fmt, view, **kwargs)

    monkeypatch.setattr(core, "OUTPUT_FORMATS", (*core.OUTPUT_FORMATS, "fake"))
    monkeypatch.setattr(core, "VIEWS", {**core.VIEWS, "fake": {"steps"}})
    monkeypatch.setattr(formats, "render", render)
    help_text = CliRunner().invoke(main, ["status", "--help"]).output
    assert re.search(r"--format \[table\|json\|ndjson\|csv\|md\|dot\|fake\]", help_text), help_text
    result = CliRunner().invoke(main, ["status", "--format", "fake", study])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"fake report of {study}\n"


def test_maestro_status_offers_exactly_mreports_formats_and_layouts():
    from mreport import core

    status = main.commands["status"]
    params = {p.name: p for p in status.params}
    assert tuple(params["fmt"].type.choices) == core.OUTPUT_FORMATS
    assert tuple(params["layout"].type.choices) == core.LAYOUTS
