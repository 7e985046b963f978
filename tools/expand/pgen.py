"""Custom parameter generators (--pgen): Maestro's get_custom_generator(env, **kwargs) contract.

A pgen written for Maestro imports `from maestrowf.datastructures.core import ParameterGenerator`.
When maestrowf is not installed we provide that module, with a compatible ParameterGenerator,
so the file runs unchanged.  Running it executes the user's Python: that is what --pgen asks for.
"""

import importlib.util
import os
import sys
import types

from mshared.errors import InvalidInput

from .params import LABEL_TOKEN, label_for


class Combination:
    """One row of a ParameterGenerator, with Maestro's public methods."""

    def __init__(self, token="$"):
        self._params, self._labels, self._names, self._token = {}, {}, {}, token

    def add(self, key, name, value, label):
        self._params[f"{self._token}({key})"] = value
        self._labels[f"{self._token}({key}.label)"] = label
        self._names[f"{self._token}({key}.name)"] = name

    def __str__(self):
        return ".".join(str(v) for v in self._labels.values())

    def get_param_string(self, params):
        return ".".join(str(self._labels[f"{self._token}({k}.label)"]) for k in sorted(params))

    def get_param_values(self, params):
        for key in params:
            yield key, self._params[f"{self._token}({key})"]

    def apply(self, item):
        for table in (self._labels, self._params, self._names):
            for key, value in table.items():
                item = item.replace(key, str(value))
        return item


class ParameterGenerator:
    """Maestro's ParameterGenerator API: add_parameter, iteration by index, get_metadata."""

    def __init__(self, token="$", ltoken=LABEL_TOKEN):
        self.parameters, self.labels, self.names = {}, {}, {}
        self.label_token, self.token, self.length = ltoken, token, 0

    def add_parameter(self, key, values, label=None, name=None):
        values = list(values)
        if self.length == 0:
            self.length = len(values)
        elif len(values) != self.length and key not in self.parameters:
            raise ValueError(f"Length of values list must be the same size as the other parameters "
                             f"that exist in the generators. Length of '{name or key}' is {len(values)}. Aborting.")
        self.parameters[key] = values
        self.labels[key] = label if label else f"{key}.{self.label_token}"
        self.names[key] = name if name else key

    def __bool__(self):
        return bool(self.parameters)

    def __iter__(self):
        return self.get_combinations()

    def get_combinations(self):
        for i in range(self.length):
            combo = Combination(self.token)
            for key, values in self.parameters.items():
                combo.add(key, self.names[key], values[i], label_for(self.labels[key], values[i], i))
            yield combo

    def get_metadata(self):
        return {str(c): {"params": c._params, "labels": c._labels} for c in self.get_combinations()}


class _Variable:
    """What Maestro's StudyEnvironment.find() returns: .name and .value (and a path, for os.path)."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def __fspath__(self):
        return str(self.value)

    def __str__(self):
        return f"$({self.name})"


class _Environment:
    def __init__(self, values: dict):
        self._values = values

    def find(self, key):
        return _Variable(key, self._values[key]) if key in self._values else None


def parse_pargs(pargs) -> dict:
    out = {}
    for item in pargs:
        if ":" not in item:
            raise InvalidInput(f"--pargs '{item}' must look like KEY:VALUE")
        key, value = item.split(":", 1)
        out[key.strip()] = value.strip()
    return out


def run_pgen(path: str, pargs: dict, env_values: dict, output_path: str, specroot: str) -> dict:
    """Execute the pgen file and return {"filename", "text", "pargs", "table"}."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise InvalidInput(f"pgen file {path}: {err.strerror}") from None
    _provide_maestrowf()
    spec = importlib.util.spec_from_file_location("custom_gen", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        if not hasattr(module, "get_custom_generator"):
            raise InvalidInput(f"pgen file {path} has no get_custom_generator(env, **kwargs) function")
        kwargs = dict(pargs, OUTPUT_PATH=output_path, SPECROOT=_Variable("SPECROOT", specroot))
        generator = module.get_custom_generator(_Environment(env_values), **kwargs)
    except InvalidInput:
        raise
    except Exception as err:  # noqa: BLE001 - user code: report it in one line
        raise InvalidInput(f"pgen file {path} failed: {type(err).__name__}: {err}") from None
    table = _table_from_generator(generator, path)
    return {"filename": os.path.basename(path), "text": text, "pargs": pargs, "table": table}


def _table_from_generator(generator, path) -> dict:
    for attr in ("parameters", "labels", "names"):
        if not isinstance(getattr(generator, attr, None), dict):
            raise InvalidInput(f"pgen file {path}: get_custom_generator must return a ParameterGenerator")
    order = list(generator.parameters)
    count = len(generator.parameters[order[0]]) if order else 0
    params = {}
    for key in order:
        raw = list(generator.parameters[key])
        if len(raw) != count:
            raise InvalidInput(f"pgen file {path}: parameter '{key}' has {len(raw)} values, others {count}")
        template = generator.labels[key]
        labels = [label_for(template, value, i) for i, value in enumerate(raw)]
        params[key] = {"name": str(generator.names[key]), "values": [_plain(v, key, path) for v in raw],
                       "labels": labels}
    return {"order": order, "count": count, "params": params}


def _plain(value, key, path):
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise InvalidInput(f"pgen file {path}: parameter '{key}' has a value of type {type(value).__name__}; "
                       "use strings or numbers")


def _provide_maestrowf() -> None:
    """Make `from maestrowf.datastructures.core import ParameterGenerator` work without maestrowf."""
    try:
        import maestrowf.datastructures.core  # noqa: F401
        return
    except ImportError:
        pass
    names = ("maestrowf", "maestrowf.datastructures", "maestrowf.datastructures.core",
             "maestrowf.datastructures.core.parameters")
    modules = [types.ModuleType(name) for name in names]
    for module in modules[2:]:
        module.ParameterGenerator = ParameterGenerator
        module.Combination = Combination
    for parent, child in zip(modules, modules[1:]):
        setattr(parent, child.__name__.rsplit(".", 1)[1], child)
    for module in modules:
        sys.modules.setdefault(module.__name__, module)
