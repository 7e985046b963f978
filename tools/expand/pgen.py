"""Custom parameter generators (--pgen): Maestro's get_custom_generator(env, **kwargs) contract.

A pgen written for Maestro imports `from maestrowf.datastructures.core import ParameterGenerator`.
When maestrowf is not installed we provide that module, with a compatible ParameterGenerator,
so the file runs unchanged.  Running it executes the user's Python: that is what --pgen asks for.
"""

import contextlib
import math
import os
import sys
import types

from mshared.errors import Interrupted, InvalidInput
from mshared.reading import read_regular

from .params import LABEL_TOKEN, MAX_COMBINATIONS, label_for
from .specload import MAX_BYTES

# orjson writes integers from -2**63 to 2**64 - 1; a larger one cannot go into the DAG
_INT_RANGE = (-(2 ** 63), 2 ** 64 - 1)


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
    """Execute the pgen file and return {"filename", "text", "pargs", "table"}.

    The pgen is user code and may do anything: what it prints goes to stderr (stdout carries the
    DAG), and whatever it raises, sys.exit included, becomes one InvalidInput line naming the
    file (Ctrl-C stays an interruption).  Only os._exit cannot be caught: the process ends there.
    """
    try:
        data = read_regular(path, MAX_BYTES, "the pgen file")
    except OSError as err:
        raise InvalidInput(f"pgen file {path}: {err.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"pgen file {path}: not UTF-8 text (byte {err.start})") from None
    _provide_maestrowf()
    with _user_code(path), _stdout_to_stderr():
        module = types.ModuleType("custom_gen")
        module.__file__ = path
        exec(compile(text, path, "exec"), module.__dict__)   # the text we read and copy, run once
        if not hasattr(module, "get_custom_generator"):
            raise InvalidInput(f"pgen file {path} has no get_custom_generator(env, **kwargs) function")
        kwargs = dict(pargs, OUTPUT_PATH=output_path, SPECROOT=_Variable("SPECROOT", specroot))
        generator = module.get_custom_generator(_Environment(env_values), **kwargs)
        table = _table_from_generator(generator, path)
    return {"filename": os.path.basename(path), "text": text, "pargs": pargs, "table": table}


@contextlib.contextmanager
def _user_code(path: str):
    """Whatever the pgen raises is one InvalidInput naming it; Ctrl-C and our own errors pass."""
    try:
        yield
    except (InvalidInput, KeyboardInterrupt, Interrupted):
        raise
    except SystemExit as err:
        raise InvalidInput(f"pgen file {path} called sys.exit({_shown(err.code)}); a pgen must return "
                           "a ParameterGenerator from get_custom_generator") from None
    except BaseException as err:  # noqa: BLE001 - user code: report it in one line
        raise InvalidInput(f"pgen file {path} failed: {type(err).__name__}: {_shown(err)}") from None


def _shown(value) -> str:
    """str(value), which user code may have made raise."""
    try:
        return str(value)
    except Exception as err:  # noqa: BLE001
        return f"(cannot be shown: its __str__ raised {type(err).__name__})"


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what the pgen writes to stdout to stderr: print() (sys.stdout), and writes to file
    descriptor 1 by the pgen's C code or children, which would otherwise go into the DAG."""
    real = sys.__stdout__
    fd = None
    try:
        if sys.stdout is real and real is not None:
            real.flush()
            fd = os.dup(1)
            os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        fd = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if fd is not None:
            try:
                real.flush()            # what the pgen left in sys.__stdout__'s buffer: to stderr too
            except (OSError, ValueError):
                pass
            os.dup2(fd, 1)
            os.close(fd)


def _table_from_generator(generator, path) -> dict:
    for attr in ("parameters", "labels", "names"):
        if not isinstance(getattr(generator, attr, None), dict):
            raise InvalidInput(f"pgen file {path}: get_custom_generator must return a ParameterGenerator")
    order = list(generator.parameters)
    count = len(generator.parameters[order[0]]) if order else 0
    if count > MAX_COMBINATIONS:
        raise InvalidInput(f"pgen file {path}: the generator makes {count:,} combinations, more than "
                           f"the {MAX_COMBINATIONS:,} a study may have; reduce them")
    params = {}
    for key in order:
        raw = list(generator.parameters[key])
        if len(raw) != count:
            raise InvalidInput(f"pgen file {path}: parameter '{key}' has {len(raw)} values, others {count}")
        values = [_plain(v, key, path) for v in raw]
        template = generator.labels[key]
        labels = [label_for(template, value, i) for i, value in enumerate(values)]
        params[key] = {"name": str(generator.names[key]), "values": values, "labels": labels}
    return {"order": order, "count": count, "params": params}


def _plain(value, key, path):
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"pgen file {path}: parameter '{key}' has the value {value}; values must be "
                           "finite numbers or strings")
    if isinstance(value, int) and not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
        raise InvalidInput(f"pgen file {path}: parameter '{key}' has an integer of {value.bit_length()} bits, "
                           "too large for the DAG (64 bits); return it as a string")
    for kind, plain in ((str, str.__str__), (int, int.__int__), (float, float.__float__)):
        if isinstance(value, kind):      # a subclass (an enum, a str with its own __str__): its
            return plain(value)          # plain value, without calling the subclass's methods
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
