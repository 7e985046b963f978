"""The study graph as the passes need it: parents, children, which adapter runs a step, its scripts."""

import os
from functools import cached_property

from mruntime.schedulers import registry
from mshared.bundlesettings import bundled

from ..scripts import runs_scheduled, script_names

BUNDLE = "bundle"   # the adapter key of steps handed to the study's bundle (mruntime.bundle)
NEEDS = ("nodes", "procs", "cores_per_task", "gpus", "walltime")   # what bundlesettings.needs reads


class _AdapterKeys(dict):
    """id -> the adapter that runs it, worked out on first use (a pass looks at few steps)."""

    def __init__(self, steps: dict, scheduler: str, bundle: dict | None = None):
        super().__init__()
        self._steps, self._scheduler, self._bundle = steps, scheduler, bundle
        self._fits: dict[tuple, bool] = {}    # bundled(), by what decides it: instances share it

    def __missing__(self, sid: str) -> str:
        # Steps without nodes/procs run locally even under a batch scheduler, as in Maestro.
        step = self._steps[sid]
        if not runs_scheduled(step, self._scheduler):
            key = "local"
        elif self._bundle is not None and self._bundled(step):
            key = BUNDLE
        else:
            key = self._scheduler
        self[sid] = key
        return key

    def _bundled(self, step: dict) -> bool:
        resources = step.get("resources") or {}
        what = (step["step"], *(resources.get(k) for k in NEEDS))
        fits = self._fits.get(what)
        if fits is None:
            fits = self._fits[what] = bundled(step, self._bundle)
        return fits


class _AllLocal:
    """id -> "local", for a study whose batch.type runs nothing on a scheduler (every step is
    local): no per-step work, whatever the size of the study."""

    def __getitem__(self, sid: str) -> str:
        return "local"


class Graph:
    """Index over a DAG's steps (plain dicts: fast for large studies).  What only some passes
    need (children, positions, adapters of steps not looked at) is worked out on first use."""

    def __init__(self, steps: dict, order: list, scheduler: str):
        self.steps = steps            # id -> DAG step
        self.order = order            # ids in topological order
        self.scheduler = scheduler    # the study's batch.type
        self.bundle: dict | None = None   # the bundle settings in force (bundlesettings.effective)
        self.adapter_keys = (_AdapterKeys(steps, scheduler) if registry.unit(scheduler).batch
                             else _AllLocal())

    def use_bundle(self, settings: dict | None) -> bool:
        """Hand the steps that fit to a bundle under ``settings`` (None: none); True when that
        changed which adapter runs a step."""
        if settings == self.bundle or not registry.unit(self.scheduler).batch:
            return False
        self.bundle = settings
        self.adapter_keys = _AdapterKeys(self.steps, self.scheduler, settings)
        return True

    @classmethod
    def from_dag(cls, dag: dict) -> "Graph":
        order = [s["id"] for s in dag["steps"]]
        return cls(dict(zip(order, dag["steps"])), order, (dag["study"].get("batch") or {}).get("type", "local"))

    @cached_property
    def children(self) -> dict:
        """id -> [child ids]"""
        children: dict[str, list[str]] = {sid: [] for sid in self.order}
        for sid, step in self.steps.items():
            for parent in step["depends"]:
                children[parent].append(sid)
        return children

    @cached_property
    def position(self) -> dict:
        """id -> index in ``order`` (to keep sets of steps in graph order)."""
        return {sid: i for i, sid in enumerate(self.order)}

    def adapter_key(self, step_id: str) -> str:
        return self.adapter_keys[step_id]

    def descendants(self, step_id: str) -> list[str]:
        seen: dict[str, None] = {}
        stack = list(self.children[step_id])
        while stack:
            sid = stack.pop()
            if sid not in seen:
                seen[sid] = None
                stack.extend(self.children[sid])
        return list(seen)

    def script(self, step_id: str, root: str, scripts_dir: str | None, restart: bool) -> str:
        step = self.steps[step_id]
        main, again = script_names(step, self.scheduler)
        name = again if restart and again else main
        base = scripts_dir if scripts_dir and scripts_dir != root else os.path.join(root, step["workspace"])
        return os.path.join(base, name)

    def workspace(self, step_id: str, root: str) -> str:
        return os.path.join(root, self.steps[step_id]["workspace"])
