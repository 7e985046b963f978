"""The study graph as the passes need it: parents, children, which adapter runs a step, its scripts."""

import os
from dataclasses import dataclass
from functools import cached_property

from ..scripts import runs_scheduled, script_names


@dataclass
class Graph:
    """Index over a DAG's steps, built once per pass (plain dicts: fast for 100,000 steps)."""

    steps: dict            # id -> DAG step
    order: list            # ids in topological order
    children: dict         # id -> [child ids]
    scheduler: str         # the study's batch.type
    adapter_keys: dict     # id -> adapter that runs it

    @classmethod
    def from_dag(cls, dag: dict) -> "Graph":
        order = [s["id"] for s in dag["steps"]]
        steps = dict(zip(order, dag["steps"]))
        children: dict[str, list[str]] = {sid: [] for sid in order}
        for step in dag["steps"]:
            if step["depends"]:
                sid = step["id"]
                for parent in step["depends"]:
                    children[parent].append(sid)
        scheduler = (dag["study"].get("batch") or {}).get("type", "local")
        # Steps without nodes/procs run locally even under a batch scheduler, as in Maestro.
        if scheduler == "local":
            keys = dict.fromkeys(order, "local")
        else:
            keys = {sid: scheduler if runs_scheduled(step, scheduler) else "local" for sid, step in steps.items()}
        return cls(steps, order, children, scheduler, keys)

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
