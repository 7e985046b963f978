"""The schedulers: batch.type -> the module that declares its unit (``UNIT``), one line each.

Everything else about a scheduler (its script format, its adapter, its file suffixes, the
batch.type values mexpand accepts) derives from that unit.  Listing the keys imports nothing, so
mexpand can check batch.type at start-up; a scheduler's module is imported when its unit is
first asked for.  docs/schedulers.md ("Adding a scheduler") has the recipe.
"""

import importlib
import sys

from mshared.errors import InvalidInput

SCHEDULERS = {
    "local": "mruntime.schedulers.local",
    "slurm": "mruntime.schedulers.slurm",
    "lsf": "mruntime.schedulers.lsf",
    "flux": "mruntime.schedulers.flux",
    "pbs": "mruntime.schedulers.pbs",
}


def keys() -> tuple[str, ...]:
    """Every batch.type, in registry order."""
    return tuple(SCHEDULERS)


def known(key) -> bool:
    """``key`` is a registered batch.type (any value may be asked about: a spec may hold a list)."""
    return isinstance(key, str) and key in SCHEDULERS


def unit(key: str):
    """The Scheduler unit of ``key`` (its module is imported on first use)."""
    path = SCHEDULERS.get(key) if isinstance(key, str) else None
    if path is None:
        raise InvalidInput(f"unknown scheduler '{key}'; known: {', '.join(SCHEDULERS)}")
    module = sys.modules.get(path) or importlib.import_module(path)   # cheap when loaded: hot in mrender
    return module.UNIT


def adapter_class(key: str):
    return unit(key).adapter


def get_adapter(key: str, batch: dict | None = None, **kwargs):
    return unit(key).adapter(batch or {}, **kwargs)
