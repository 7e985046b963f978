"""Loops over studies that grow: decide steps' requests applied after passes, new combinations
(mextend) noticed at once, open studies waited for.

The engine's loop (mruntime.engine.loop.run_loop) runs passes until every study has ended.  Around
it, ``Rounds``:
- after each pass in which a decide instance finished, applies its request through mextend's
  core (``apply_requests``, exactly once: the state records it), and when the study grew the
  loop's next wait returns at once;
- gives the loop a wait that returns early when a study asks for a pass (``mextend.core.woken``:
  mextend made `meta/wake` after its commit), so new instances are submitted within a fraction
  of a second, not at the next poll;
- when the engine's loop ends, looks at each study again: one that grew in the meantime runs on;
  an open study (extend.open) that is not done waits for mextend, watching state.json and the
  wake file, without holding anything; the others have ended.
Requests left by a loop that was killed are applied when the next loop or pass starts.
"""

from __future__ import annotations

import time

from mextend.core import apply_requests, decide_ids, extend_block, loop_verdict, woken
from mruntime.engine import signals
from mruntime.engine.loop import run_loop
from mshared.states import study_status
from mshared import states as S
from mshared.errors import MError
from mshared.statefile import head_checksum, read_state
from mshared.times import utcnow

WATCH = 0.02     # seconds between looks at a waiting study's wake file and state.json


class _Regroup(Exception):
    """A study the engine's loop no longer passes over asked for a pass: start that loop again."""


class Rounds:
    """What the loops add for growing studies; ``on_round(root, outcomes)`` hears of every request
    read (the records of mextend.core.apply_requests) and of problems ({"status": "error"})."""

    def __init__(self, roots, on_round=None, clock=utcnow):
        self.on_round, self.clock = on_round, clock
        self.behind = set(roots)      # requests may wait to be applied (at start, after an error)
        self.kicked: set[str] = set()  # grown by us after a pass: the next wait returns at once
        self.status: dict[str, str] = {}
        self.waiting: dict[str, bytes | None] = {}   # root -> state.json head it waits on

    # -------------------------------------------------------------- requests
    def catch_up(self, root: str) -> None:
        """Apply what a loop killed before applying it left (cheap for a study without decide steps)."""
        if root in self.behind:
            self.apply(root)

    def apply(self, root: str) -> bool:
        """Apply the finished decide instances' requests; True when the study grew."""
        if not decide_ids(root):
            self.behind.discard(root)
            return False
        try:
            outcomes = apply_requests(root, now=self.clock())
        except MError as err:           # locked for long, or a study made unsound under us
            self.behind.add(root)
            self._tell(root, [{"step": None, "status": "error", "reason": str(err)}])
            return False
        self.behind.discard(root)
        self._tell(root, outcomes)
        grew = any(o["status"] == "applied" for o in outcomes)
        if grew:
            self.kicked.add(root)
        return grew

    def _tell(self, root: str, outcomes: list[dict]) -> None:
        if outcomes and self.on_round:
            self.on_round(root, outcomes)

    def on_pass(self, user_on_pass):
        """The engine loop's ``on_pass``: the caller's, then the requests of what finished."""
        def hook(root, events, status):
            self.status[root] = status
            if user_on_pass:
                user_on_pass(root, events, status)
            ids = None
            if root in self.behind or any(e["to"] == S.FINISHED for e in events):
                ids = set(decide_ids(root))
            if ids and (root in self.behind or any(e["to"] == S.FINISHED and e["step"] in ids for e in events)):
                self.apply(root)
        return hook

    # -------------------------------------------------------------- waiting
    def sleep(self, seconds: float) -> None:
        """The engine loop's wait between passes: ``seconds``, or less when a study asks for a pass."""
        deadline = time.monotonic() + seconds
        while True:
            roots = self.kicked | {root for root in self.status if woken(root)}
            self.kicked = set()
            if roots:
                if any(self.status.get(root, "RUNNING") != "RUNNING" for root in roots):
                    raise _Regroup()      # the loop passes over it no more: start it again
                return
            if any(self._changed(root) for root in self.waiting):
                raise _Regroup()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(WATCH, left))

    def woken(self) -> bool:
        """A study the loop passes over asked for a pass (the loop asks while its own jobs run)."""
        return bool(self.kicked) or any(woken(root) for root in self.status)

    def wait(self) -> None:
        """Until a waiting study changes or asks for a pass (no timeout: it waits for mextend)."""
        while not any(self._changed(root) for root in self.waiting):
            time.sleep(WATCH)

    def _changed(self, root: str) -> bool:
        return woken(root) or head_checksum(root) != self.waiting[root]

    def verdict(self, root: str) -> tuple[str, str]:
        """("run" | "wait" | "end", the study's status) for a study the engine's loop left."""
        self.catch_up(root)
        head = head_checksum(root)       # before reading: a change after it shows as a new head
        state = read_state(root)
        verdict = loop_verdict(state, extend_block(root))
        if verdict == "wait":
            self.waiting[root] = head
        else:
            self.waiting.pop(root, None)
        return verdict, study_status(state)


def monitor_loop(roots: list[str], *, interval=None, submit=True, on_pass=None, on_outage=None, on_round=None,
                 clock=utcnow) -> dict[str, str]:
    """mmonitor.core.monitor_loop with growing studies (see the module docstring)."""
    rounds = Rounds(roots, on_round, clock)
    for root in roots:
        rounds.catch_up(root)
    active, final = list(roots), {}
    while active or rounds.waiting:
        if active:
            try:
                statuses = run_loop(active, interval=interval, submit=submit, on_pass=rounds.on_pass(on_pass),
                                    on_outage=on_outage, sleep=rounds.sleep, wake=rounds.woken)
            except _Regroup:
                statuses = {root: rounds.status.get(root, "RUNNING") for root in active}
        else:
            with signals.ending_signals_raise():   # SIGTERM/SIGHUP end a waiting loop as a running one
                rounds.wait()
            statuses = {}
        again = []
        for root in active + list(rounds.waiting):
            if statuses.get(root) == "RUNNING":
                again.append(root)
                continue
            verdict, status = rounds.verdict(root)
            if verdict == "run":
                again.append(root)
            elif verdict == "end":
                final[root] = status
        active = again
    return {root: final[root] for root in roots}
