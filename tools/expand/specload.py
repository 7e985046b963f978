"""Read and load a YAML spec safely: bounded reads, safe loader only, with caps on size, nesting
depth and alias expansion."""

import math
import os

import yaml

from mshared.errors import InvalidInput
from mshared.reading import read_regular

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 5_000_000
# Items the parser would build (commas and lines bound them from above), checked before parsing:
# a huge list takes very long and much memory to parse, long before the node cap could look at it.
MAX_ITEMS = 2_000_000
_SCAN_DEPTH = 400  # guard in front of the C parser, which has no depth limit of its own

try:  # libyaml is much faster; the pure-Python loader is the fallback
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader


def read_limited(handle, source: str) -> bytes:
    """Read a spec from a binary file object, never more than MAX_BYTES + 1 bytes: a huge file (or
    an endless pipe) is refused after reading just past the limit, in bounded time and memory."""
    data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{source}: the file is larger than {MAX_BYTES} bytes, the limit for a spec; "
                           "is it a spec?")
    return data


def read_spec(spec: str, stdin) -> tuple[str, str, str | None]:
    """(text, source name for messages, absolute path or None) of ``spec`` ('-' reads ``stdin``)."""
    if spec == "-":
        source, path = "<stdin>", None
        data = read_limited(stdin, source)
    else:
        path, source = os.path.abspath(spec), spec
        try:
            data = read_regular(spec, MAX_BYTES, "the spec")   # a FIFO or a device is refused at once
        except OSError as err:
            raise InvalidInput(f"{spec}: cannot read the spec: {err.strerror}") from None
    try:
        return data.decode("utf-8"), source, path
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{source}: not UTF-8 text (byte {err.start}); save the spec as UTF-8") from None


def load_yaml(text: str, source: str):
    """Parse ``text`` (from ``source``, for messages) into plain Python data."""
    if len(text) > MAX_BYTES:
        raise InvalidInput(f"{source}: the file is {len(text)} bytes; specs are limited to {MAX_BYTES}")
    if "\x00" in text:
        raise InvalidInput(f"{source}: the file contains a NUL byte; is it a YAML spec?")
    _scan_nesting(text, source)
    items = text.count(",") + text.count("\n")
    if items > MAX_ITEMS:
        raise InvalidInput(f"{source}: the spec has about {items} YAML items; specs are limited to "
                           f"{MAX_ITEMS} (use a pgen for very large parameter sets)")
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or "invalid YAML"
        raise InvalidInput(f"{source}: YAML syntax error{where}: {problem}; fix the YAML and try again") from None
    except yaml.YAMLError as err:
        raise InvalidInput(f"{source}: YAML error: {err}") from None
    except RecursionError:
        raise InvalidInput(f"{source}: nesting is too deep (limit {MAX_DEPTH} levels)") from None
    _check_shape(data, source)
    return data


def _scan_nesting(text: str, source: str) -> None:
    """Cheap over-estimate of nesting, so a hostile file cannot exhaust the C parser's stack."""
    if text.count("[") + text.count("{") > _SCAN_DEPTH:
        _scan_flow_nesting(text, source)
    widest = max((len(line) - len(line.lstrip(" ")) for line in text.splitlines()), default=0)
    if widest > 4 * _SCAN_DEPTH:
        raise InvalidInput(f"{source}: a line is indented {widest} spaces; nesting is too deep")


def _scan_flow_nesting(text: str, source: str) -> None:
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif char in "]}":
            depth = max(depth - 1, 0)
    if deepest > _SCAN_DEPTH:
        raise InvalidInput(f"{source}: nesting is too deep (limit {MAX_DEPTH} levels)")


def _check_shape(data, source: str) -> None:
    """Refuse deep nesting and alias bombs (a few anchors that expand to millions of nodes), and
    non-finite numbers (YAML's .nan and .inf: the DAG's JSON has no such numbers)."""
    sizes: dict[int, int] = {}

    def size(node, depth: int, key=None) -> int:
        if isinstance(node, float) and not math.isfinite(node):
            where = f" (at {key!r})" if key is not None else ""
            raise InvalidInput(f"{source}: the value {node}{where} is not a finite number; quote it to "
                               "use it as text")
        if depth > MAX_DEPTH:
            raise InvalidInput(f"{source}: nesting is deeper than {MAX_DEPTH} levels")
        if isinstance(node, (dict, list)):
            key = id(node)
            if key in sizes:
                return sizes[key]
            items = node.items() if isinstance(node, dict) else enumerate(node)
            total = 1
            mapping = isinstance(node, dict)
            for k, v in items:
                total += size(v, depth + 1, k if mapping else key) + (1 if mapping else 0)
                if total > MAX_EXPANDED_NODES:
                    raise InvalidInput(
                        f"{source}: the document expands to more than {MAX_EXPANDED_NODES} nodes "
                        "(YAML aliases?); refusing it"
                    )
            sizes[key] = total
            return total
        return 1

    size(data, 0)
