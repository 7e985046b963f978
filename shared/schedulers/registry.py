"""Scheduler name -> adapter class, imported only when asked for (start-up stays fast)."""

import importlib

from ..errors import InvalidInput

ADAPTERS = {
    "local": ("mshared.schedulers.local", "LocalAdapter"),
    "slurm": ("mshared.schedulers.slurm", "SlurmAdapter"),
    "lsf": ("mshared.schedulers.lsf", "LsfAdapter"),
    "flux": ("mshared.schedulers.flux", "FluxAdapter"),
    "pbs": ("mshared.schedulers.pbs", "PbsAdapter"),
}


def adapter_class(name: str):
    if name not in ADAPTERS:
        raise InvalidInput(f"unknown scheduler '{name}'; known: {', '.join(ADAPTERS)}")
    module, attr = ADAPTERS[name]
    return getattr(importlib.import_module(module), attr)


def get_adapter(name: str, batch: dict | None = None, **kwargs):
    return adapter_class(name)(batch or {}, **kwargs)
