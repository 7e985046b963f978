"""The registry is the one list of schedulers: the schemas, mexpand's validator, the units, the
docs and the scripts all agree with it."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mexpand.validate import validate_spec
from mruntime import scripts
from mruntime.schedulers import registry
from mruntime.schedulers.base import Adapter, Scheduler
from mshared.errors import InvalidInput

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = sorted((REPO / "shared" / "schemas").glob("*.json"))


def batch_type_enums(node, where="$"):
    """(path, values) of every enum in a schema that lists a scheduler key."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list) and set(value) & set(registry.keys()):
                yield where, value
            else:
                yield from batch_type_enums(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from batch_type_enums(value, f"{where}[{i}]")


def rewrite_enum(text: str, old: list, new: list) -> str:
    """``text`` with the JSON list ``old`` replaced by ``new``, keeping its layout."""
    pattern = r"\[(\s*)" + r"(\s*,\s*)".join(re.escape(json.dumps(v)) for v in old) + r"(\s*)\]"

    def put(match):
        sep = match.group(2) if len(old) > 1 else ", "
        return "[" + match.group(1) + sep.join(json.dumps(v) for v in new) + match.group(match.lastindex) + "]"

    return re.sub(pattern, put, text)


def test_every_schema_enum_of_batch_types_is_the_registry(update_goldens):
    """The schemas publish the registry's keys; `pytest --update-goldens` rewrites them."""
    keys = list(registry.keys())
    found = {}
    for path in SCHEMAS:
        text = path.read_text()
        for where, values in batch_type_enums(json.loads(text)):
            found[f"{path.name}:{where}"] = values
            if values != keys and update_goldens:
                text = rewrite_enum(text, values, keys)
                path.write_text(text)
                found[f"{path.name}:{where}"] = keys
    # dag.v1 (study.batch.type) and state.v1 (study.scheduler) at least
    assert {name.split(":")[0] for name in found} >= {"dag.v1.schema.json", "state.v1.schema.json"}
    for name, values in found.items():
        assert values == keys, (f"{name} lists {values}; the registry has {keys}: run "
                                "pytest --update-goldens tests/unit/test_sched_registry.py")


def test_the_schema_enums_are_rewritten_in_their_layout():
    inline = '{"type": {"enum": ["local", "slurm"]}}'
    listed = '"enum": [\n    "local",\n    "slurm"\n  ],'
    assert rewrite_enum(inline, ["local", "slurm"], ["local", "slurm", "sge"]) == \
        '{"type": {"enum": ["local", "slurm", "sge"]}}'
    assert rewrite_enum(listed, ["local", "slurm"], ["local", "slurm", "sge"]) == \
        '"enum": [\n    "local",\n    "slurm",\n    "sge"\n  ],'


def spec(kind):
    return {"description": {"name": "n", "description": "d"}, "batch": {"type": kind},
            "study": [{"name": "a", "description": "d", "run": {"cmd": "true"}}]}


@pytest.mark.parametrize("kind", registry.keys())
def test_the_validator_accepts_every_registered_batch_type(kind):
    validate_spec(spec(kind), "s.yaml")


def test_the_validator_refuses_anything_else_and_lists_the_registry():
    with pytest.raises(InvalidInput) as exc:
        validate_spec(spec("sge"), "s.yaml")
    assert str(exc.value) == ("s.yaml: batch.type 'sge' is not a known scheduler; use one of "
                              + ", ".join(registry.keys()))
    for odd in ([], {"a": 1}, None, 3):       # not even a string: the same one clear error
        with pytest.raises(InvalidInput, match="is not a known scheduler"):
            validate_spec(spec(odd), "s.yaml")
        assert odd not in scripts.FORMATS
        with pytest.raises(InvalidInput, match="unknown scheduler"):
            registry.unit(odd)


@pytest.mark.parametrize("kind", registry.keys())
def test_each_module_declares_the_unit_of_its_key(kind):
    unit = registry.unit(kind)
    assert isinstance(unit, Scheduler) and unit.key == kind
    assert issubclass(unit.adapter, Adapter) and unit.adapter.unit is unit
    adapter = registry.get_adapter(kind, {})
    assert isinstance(adapter, unit.adapter) and adapter.key == kind
    assert adapter.script_suffix == "." + unit.extension
    assert scripts.script_names({"stem": "s"}, kind) == (f"s.{unit.extension}", None)
    assert (unit.header is None) == (unit.parallelize is None) == (not unit.batch)
    assert kind in scripts.FORMATS and scripts.FORMATS[kind] is unit


def test_suffixes_are_distinct_and_unknown_keys_are_refused():
    extensions = [registry.unit(kind).extension for kind in registry.keys()]
    assert len(set(extensions)) == len(extensions)
    with pytest.raises(InvalidInput, match="unknown scheduler 'sge'; known: local, slurm"):
        registry.unit("sge")
    assert "sge" not in scripts.FORMATS and list(scripts.FORMATS) == list(registry.keys())


@pytest.mark.parametrize("kind", registry.keys())
def test_each_scheduler_has_its_docs_section(kind):
    text = (REPO / "docs" / "schedulers.md").read_text()
    ext = registry.unit(kind).extension
    assert re.search(rf"^## .+ \(`{kind}`, scripts `<step>\.{re.escape(ext)}`\)$", text, re.M), \
        f"docs/schedulers.md has no section '## <Name> (`{kind}`, scripts `<step>.{ext}`)'"


def test_listing_the_schedulers_imports_none_of_them():
    # mexpand checks batch.type at start-up: that must not import every scheduler module
    code = ("import sys; from mexpand import validate; from mruntime.schedulers import registry; "
            "registry.keys(); validate.validate_spec({'description': {'name': 'n', 'description': 'd'}, "
            "'batch': {'type': 'pbs'}, 'study': [{'name': 'a', 'description': 'd', 'run': {'cmd': 'x'}}]}, 's'); "
            "print(sorted(m for m in sys.modules if m.startswith('mruntime.schedulers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['mruntime.schedulers.registry']"
