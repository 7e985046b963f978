"""Who imports whom (docs/architecture.md): the contract library imports nothing of ours, the
runtime only the contract library, a tool its own modules, the contract library, the runtime
and other tools' cores; the report reads studies without the runtime."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"mshared": "shared", "mruntime": "runtime", "mexpand": "tools/expand", "mrender": "tools/render",
            "msubmit": "tools/submit", "mmonitor": "tools/monitor", "mreport": "tools/report",
            "mextend": "tools/extend", "maestro_cli": "tools/maestro"}
TOOLS = {"mexpand", "mrender", "msubmit", "mmonitor", "mreport", "mextend", "maestro_cli"}
# package -> what of ours it may import besides itself ("mruntime" covers mruntime.*)
ALLOWED = {
    "mshared": set(),
    "mruntime": {"mshared"},
    "mexpand": {"mshared", "mruntime.schedulers.registry"},   # batch types come from the registry
    "mrender": {"mshared", "mruntime"},
    "msubmit": {"mshared", "mruntime"},
    "mmonitor": {"mshared", "mruntime"},
    "mreport": {"mshared"},
    "mextend": {"mshared", "mruntime"},
    "maestro_cli": {"mshared"},
}


def imports_of(package: str) -> dict[str, set[str]]:
    """module path -> the absolute modules of ours it imports."""
    found = {}
    for path in sorted((ROOT / PACKAGES[package]).rglob("*.py")):
        mods = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{a.name}" for a in node.names]   # a module, or a name in one
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            mods.update(n for n in names if n.split(".")[0] in PACKAGES)
        found[str(path.relative_to(ROOT))] = mods
    return found


def violations(package: str) -> list[str]:
    bad = []
    for where, mods in imports_of(package).items():
        for mod in mods:
            top = mod.split(".")[0]
            if top == package:
                continue
            if top in TOOLS and mod.split(".")[1:2] == ["core"] and package in TOOLS:
                continue                                   # another tool's core: its public API
            if not any(mod == allowed or mod.startswith(allowed + ".") for allowed in ALLOWED[package]):
                bad.append(f"{where} imports {mod}")
    return sorted(set(bad))


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_each_package_imports_only_what_its_layer_allows(package):
    assert violations(package) == []


def test_the_check_sees_a_forbidden_import(tmp_path, monkeypatch):
    fake = tmp_path / "shared"
    fake.mkdir()
    (fake / "bad.py").write_text("from mruntime.engine import passes\nimport mreport.formats\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert violations("mshared") == ["shared/bad.py imports mreport.formats",
                                     "shared/bad.py imports mruntime.engine.passes"]
