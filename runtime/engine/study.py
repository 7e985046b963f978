"""What one pass works on: a study's state (changed in place), its graph, its adapters, its index."""

from __future__ import annotations

from typing import TYPE_CHECKING

import re

from mruntime.bundle import files as bundle_files
from mruntime.schedulers.base import JobRef
from mruntime.schedulers.registry import get_adapter

from .graph import BUNDLE
from .records import Changes

if TYPE_CHECKING:
    from .graph import Graph
    from .index import StepIndex
    from .store import Store


def adapter_for(adapters: dict, key: str, batch: dict):
    """The pass's adapter for scheduler ``key``, made when first needed."""
    if key not in adapters:
        adapters[key] = get_adapter(key, batch)
    return adapters[key]


class PassStudy:
    """The working set of one pass.  ``state`` is the state document, changed in place by the
    transitions; ``changes`` collects the events and what else the pass changed; ``store`` writes
    them.  ``dag`` is the pass view of the DAG (``view``), or the DAG itself for a state that
    records no DAG checksum."""

    def __init__(self, root: str, state: dict, graph: Graph, dag: dict, adapters: dict,
                 index: StepIndex, store: Store):
        self.root, self.state, self.graph, self.dag = root, state, graph, dag
        self.adapters = adapters      # adapter key -> adapter, made when first needed
        self.index = index
        self.store = store
        self.changes = Changes()
        self.held = None              # the signals held while the pass runs (signals.HeldSignals)
        self.answers: dict = {}       # scheduler key -> answers already asked for in this pass
        self.now = None               # the pass's time (set by do_work)
        self._bundle = None           # the bundle's adapter, made when first needed (per pass)

    def interrupted(self) -> bool:
        """A signal that ends the command came during the pass: stop at the next whole state."""
        return self.held is not None and self.held.arrived()

    @property
    def events(self) -> list[dict]:
        """The pass's events so far (the list the transitions append to)."""
        return self.changes.events

    def synced_index(self) -> StepIndex:
        """The index, with this pass's events applied."""
        self.index.follow(self.changes.events)
        return self.index

    @property
    def scripts_dir(self) -> str | None:
        return self.state["study"].get("scripts_dir")

    def adapter(self, step_id: str):
        return self.adapter_by_key(self.graph.adapter_key(step_id))

    def adapter_by_key(self, key: str):
        batch = self.dag["study"].get("batch") or {}
        if key != BUNDLE:
            return adapter_for(self.adapters, key, batch)
        if self._bundle is None:
            from mruntime.bundle.adapter import BundleAdapter
            from mshared.times import utcnow

            inner = adapter_for(self.adapters, self.graph.scheduler, batch)
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.state["study"].get("name") or "study")
            self._bundle = BundleAdapter(self.root, self.graph.bundle, inner, self.graph.scheduler, batch,
                                         name, self.now or utcnow(),
                                         self.state["settings"].get("poll_interval", 60))
        return self._bundle

    def reuse_bundle(self, adapter) -> None:
        """Take the bundle adapter an earlier part of this pass made (it has asked the
        scheduler about the allocations already: once per pass)."""
        self._bundle = adapter

    def local_in_flight(self) -> int:
        """Local jobs in flight.  A bundle's ticket is none, told by its id before any adapter
        lookup: 100,000 queued tickets cost no lookups."""
        keys, index = self.graph.adapter_keys, self.synced_index()
        return sum(1 for sid in index.own_jobs_in_flight() if keys[sid] == "local")

    def job_key(self, step_id: str) -> str:
        """The adapter that has the step's current job: a ticket is the bundle's, whatever the
        settings say now (bundling may have been turned on or off since it was submitted)."""
        if bundle_files.is_ticket(self.state["steps"][step_id].get("job_id")):
            return BUNDLE
        key = self.graph.adapter_key(step_id)
        return self.graph.scheduler if key == BUNDLE else key

    def ref(self, step_id: str) -> JobRef:
        return JobRef(self.state["steps"][step_id]["job_id"], self.graph.workspace(step_id, self.root),
                      self.graph.steps[step_id]["stem"])
