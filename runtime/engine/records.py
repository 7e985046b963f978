"""The engine's named records: what a pass changed, what it hands back, what a loop remembers.

A pass works on a ``PassStudy`` (study.py) and collects its ``Changes``; the ``Store`` (store.py)
writes them; a loop (loop.py) keeps one ``LoopMemory`` per study between its passes.  A single
pass (msubmit, mmonitor from cron) has no memory: it reads everything from disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from mshared.studylock import KeptLock

from .transitions import StepLog

if TYPE_CHECKING:
    from .graph import Graph
    from .index import StepIndex


@dataclass
class Changes:
    """What a pass changed in the state it holds: the steps (``events.touched``, with the events
    of those whose state changed) and the other top-level fields (``fields``: "requests")."""

    events: StepLog = field(default_factory=StepLog)
    fields: set[str] = field(default_factory=set)

    def any(self) -> bool:
        return bool(self.events.touched or self.fields)


@dataclass(frozen=True)
class FilesKey:
    """What tells a loop that no other process wrote since its last pass: the checksum at the
    head of state.json (a new state.json has a new one) and the size of its journal (only
    appended to, emptied only after a write of state.json)."""

    checksum: bytes | None
    journal_size: int


@dataclass
class KeptState:
    """The state a loop's last pass left in memory: reused while the files are still ``files``."""

    files: FilesKey
    state: dict
    index: StepIndex
    base: str                # the checksum of state.json, which the journal's lines apply to
    snapshot_size: int       # the size of state.json


class FileId(NamedTuple):
    """What tells that a file is still the one that was read (no tool of ours rewrites dag.json
    in place with the same size within one clock tick)."""

    inode: int
    size: int
    mtime_ns: int


@dataclass
class KeptDag:
    """The pass view of dag.json a loop parsed: reused while dag.json is the same file."""

    file: FileId
    dag: dict
    graph: Graph


@dataclass
class LoopMemory:
    """What a loop remembers of one study between its passes."""

    lock: KeptLock = field(default_factory=KeptLock)   # the lock file, kept open
    dag: KeptDag | None = None
    state: KeptState | None = None
    csv_at: float = 0.0      # when it last wrote status.csv (seconds since the epoch)
    csv_stale: bool = True   # status.csv does not show every logged event yet

    def forget_state(self) -> None:
        """Drop the kept state: it is read again from disk.  Another process wrote, or a pass
        ended in an error."""
        self.state = None


@dataclass
class PassResult:
    """What a pass hands back to its caller."""

    events: list[dict]       # the events this pass logged in events.jsonl
    status: str              # the study's: RUNNING, FINISHED, FAILURE or CANCELLED
    local_in_flight: int     # local jobs in flight after the pass
    in_flight: int           # all jobs in flight after the pass
    poll_interval: float = 60    # the study's setting (seconds between scheduler polls)
