"""A decide step's request for the next round, read from its instance's workspace.

An instance of a step named in the spec's ``extend.decide`` may write, in its workspace, one of

- ``next.jsonl``: the next round's combinations, one JSON object a line (as mextend reads them);
  an empty file asks for nothing;
- ``encore.yaml``, the shape of Maestro's MEP-001 "Encore" draft: ``is_done: true`` ends the
  loop; ``is_done: false`` with ``child_specs: [{parameters: {X: {values: [...]}, ...}}]`` asks
  for those combinations (values zipped by index, as global.parameters).  Other studies,
  ``pgen`` and ``env`` in a child spec cannot apply to a running study and are refused.

Writing neither asks for nothing.  ``read`` turns the files into a ``Request``.
"""

from dataclasses import dataclass, field
import os

from mshared.errors import InvalidInput
from mshared.reading import open_regular

from . import combos

NEXT_FILE = "next.jsonl"
ENCORE_FILE = "encore.yaml"
MAX_BYTES = 16 * 1024 * 1024
SELF_NAMES = ("$(CURRENT_SPEC)", "$(CURRENT_STUDY_SPECIFICATION)")


@dataclass
class Request:
    file: str | None                  # the file it came from (relative to the study root), or None
    rows: list[tuple[int, object]] = field(default_factory=list)   # (line or index, combination)
    done: bool = False                # is_done: true
    unit: str = "line"                # what the numbers in ``rows`` count: lines, or combinations

    def where(self, number: int) -> str:
        return f"{self.file}:{number}" if self.unit == "line" else f"{self.file}: combination {number}"


def read(root: str, workspace: str, spec_names: tuple[str, ...]) -> Request:
    """The request of the instance whose workspace is ``workspace``; InvalidInput for a file
    that cannot be read or does not have the shape above."""
    found = [name for name in (NEXT_FILE, ENCORE_FILE) if os.path.isfile(os.path.join(root, workspace, name))]
    if not found:
        return Request(None)
    if len(found) > 1:
        raise InvalidInput(f"{workspace}: both {NEXT_FILE} and {ENCORE_FILE}; write one of them")
    name = f"{workspace}/{found[0]}"
    try:
        with open(open_regular(os.path.join(root, name), "a decide step's request"), "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise InvalidInput(f"{name}: cannot read: {err.strerror}") from None
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{name}: larger than {MAX_BYTES} bytes; ask for fewer combinations a round")
    if found[0] == NEXT_FILE:
        return Request(name, combos.parse(data, name, "jsonl"))
    return _encore(data, name, spec_names)


def _encore(data: bytes, name: str, spec_names: tuple[str, ...]) -> Request:
    from mexpand.core import parse_yaml as load_yaml

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name}: not UTF-8 text") from None
    doc = load_yaml(text, name)
    if not isinstance(doc, dict) or not isinstance(doc.get("is_done"), bool):
        raise InvalidInput(f"{name}: needs 'is_done: true' or 'is_done: false' (Maestro's encore.yaml)")
    if doc["is_done"]:
        return Request(name, done=True)
    children = doc.get("child_specs") or []
    if not isinstance(children, list):
        raise InvalidInput(f"{name}: child_specs must be a list of {{name, parameters}}")
    rows: list[tuple[int, object]] = []
    for index, child in enumerate(children):
        here = f"{name}: child_specs[{index}]"
        if not isinstance(child, dict):
            raise InvalidInput(f"{here} must be a mapping with parameters")
        other = child.get("name")
        if other is not None and other not in spec_names + SELF_NAMES:
            raise InvalidInput(f"{here}: names the spec '{other}'; a study grows only with its own spec "
                               f"({', '.join(spec_names)})")
        for key in ("pgen", "pgen_args", "env", "depends"):
            if key in child:
                raise InvalidInput(f"{here}: '{key}' cannot change a running study; give 'parameters' only")
        rows += _zipped(child.get("parameters"), here, len(rows))
    return Request(name, rows, unit="combination")


def _zipped(params, here: str, start: int) -> list[tuple[int, object]]:
    if not isinstance(params, dict) or not params:
        raise InvalidInput(f"{here}: parameters must be a mapping of PARAMETER: {{values: [...]}}")
    columns = {}
    for key, entry in params.items():
        values = entry.get("values") if isinstance(entry, dict) else None
        if not isinstance(values, list):
            raise InvalidInput(f"{here}: parameters.{key} needs a list of values")
        columns[key] = values
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise InvalidInput(f"{here}: the parameters' values lists differ in length; they are zipped by index")
    count = lengths.pop()
    return [(start + i + 1, {key: values[i] for key, values in columns.items()}) for i in range(count)]
