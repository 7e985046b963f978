"""What one pass works on: a study's state (changed in place), its graph, its adapters, its index."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mruntime.schedulers.base import JobRef
from mruntime.schedulers.registry import get_adapter

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
        return adapter_for(self.adapters, self.graph.adapter_key(step_id), self.dag["study"].get("batch") or {})

    def ref(self, step_id: str) -> JobRef:
        return JobRef(self.state["steps"][step_id]["job_id"], self.graph.workspace(step_id, self.root),
                      self.graph.steps[step_id]["stem"])
