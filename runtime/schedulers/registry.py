"""Scheduler name -> adapter class, imported only when asked for (start-up stays fast)."""

import importlib

from mshared.errors import InvalidInput

ADAPTERS = {
    "local": ("mruntime.schedulers.local", "LocalAdapter"),
    "slurm": ("mruntime.schedulers.slurm", "SlurmAdapter"),
    "lsf": ("mruntime.schedulers.lsf", "LsfAdapter"),
    "flux": ("mruntime.schedulers.flux", "FluxAdapter"),
    "pbs": ("mruntime.schedulers.pbs", "PbsAdapter"),
}


def adapter_class(name: str):
    if name not in ADAPTERS:
        raise InvalidInput(f"unknown scheduler '{name}'; known: {', '.join(ADAPTERS)}")
    module, attr = ADAPTERS[name]
    return getattr(importlib.import_module(module), attr)


def get_adapter(name: str, batch: dict | None = None, **kwargs):
    return adapter_class(name)(batch or {}, **kwargs)
