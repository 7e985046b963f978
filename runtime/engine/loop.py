"""Repeat passes until every study has ended: `mmonitor --loop`, `maestro run -fg`, `maestro conductor`.

The wait between passes adapts: while local jobs run, a finished one is noticed within a fraction
of a second (the loop waits on its own children, or polls briefly); otherwise it waits the
study's poll interval.  The lock is never held while waiting.
"""

import gc
import os
import time

from mruntime.schedulers.base import WAITS_HERE
from mshared import states as S
from mshared.errors import SchedulerUnavailable, StateBusy
from mshared.times import utcnow

from . import bundling, signals
from .passes import close_adapters, cores, run_pass
from .records import LoopMemory

FAST = 0.02     # first wait while local jobs are in flight
SLOW_LOCAL = 1.0
WAKE_SLICE = 0.05      # seconds: how often a loop waiting on its own jobs asks ``wake``
FULL_COLLECT = 60.0   # seconds between full garbage collections in a loop
CSV_EVERY = 1.0  # seconds: status.csv is derived data; in a loop it is refreshed at most this often


def run_loop(roots: list[str], *, interval: float | None = None, submit: bool = True, clock=utcnow,
             on_pass=None, sleep=time.sleep, local_slots: int | None = None, on_outage=None,
             wake=None) -> dict[str, str]:
    """Run passes over ``roots`` until each study ends; returns root -> final study status.

    A scheduler that cannot be reached does not end the loop (a study runs for weeks; a
    controller restarts in minutes): ``on_outage(root, message or None)`` is told when an outage
    starts and when it ends, and the loop keeps trying at the poll interval.  SIGTERM and SIGHUP
    end the loop between passes with Interrupted (SIGINT with KeyboardInterrupt), never within one.
    ``wake()``, when given, is asked every WAKE_SLICE seconds while the loop waits on its own
    jobs: True makes the next pass at once (a study grew: mmonitor's rounds).  ``sleep`` is the
    other waits, and may return early itself.
    """
    loop = _Loop(roots, interval=interval, submit=submit, clock=clock, on_pass=on_pass,
                 local_slots=local_slots, on_outage=on_outage, wake=wake)
    try:
        with signals.ending_signals_raise():
            while loop.running():
                changed, local_jobs = loop.round()
                if not loop.running():
                    break
                loop.wait(changed, local_jobs, sleep)
            return loop.status
    finally:
        loop.close()


class _Loop:
    """The passes of a loop: one round passes over every running study, then a wait."""

    def __init__(self, roots, *, interval, submit, clock, on_pass, local_slots, on_outage, wake=None):
        self.roots, self.interval, self.submit, self.clock = roots, interval, submit, clock
        self.on_pass, self.on_outage, self.local_slots = on_pass, on_outage, local_slots
        self.wake = wake
        self.status = {root: "RUNNING" for root in roots}
        self.outages: dict[str, str] = {}
        self.adapters: dict[str, dict] = {root: {} for root in roots}
        self.memories = {root: LoopMemory() for root in roots}
        self.poll_interval = 60.0
        self.pause = FAST
        self.rounds = 0
        self.collected_at = time.monotonic()
        self.default_slots = cores()

    def _collect(self) -> None:
        """The CLI turned automatic collection off: collect the young objects every round, and
        everything at most once per FULL_COLLECT seconds (a full collection walks every object
        of the kept state, whose cost grows with the study, not with what changed)."""
        gc.collect(0)
        now = time.monotonic()
        if now - self.collected_at >= FULL_COLLECT:
            gc.collect(2)
            self.collected_at = now

    def running(self) -> bool:
        return any(s == "RUNNING" for s in self.status.values())

    def round(self) -> tuple[bool, int]:
        """One pass over each running study: (whether any logged events, local jobs in flight)."""
        self.rounds += 1
        self._collect()
        changed, local_jobs = False, 0
        for root in self.roots:
            if self.status[root] != "RUNNING":
                continue
            slots = self.local_slots if self.local_slots is not None else self.default_slots + _quick(self.adapters[root])
            try:
                result = run_pass(root, poll_jobs=True, submit=self.submit, clock=self.clock,
                                  adapters=self.adapters[root], local_slots=slots, memory=self.memories[root],
                                  csv_every=CSV_EVERY)
            except StateBusy:
                local_jobs += 1  # another pass (cron, another loop) is on it: look again soon
                continue
            except SchedulerUnavailable as err:
                if root not in self.outages and self.on_outage:
                    self.on_outage(root, str(err))
                self.outages[root] = str(err)
                continue
            if self.outages.pop(root, None) is not None and self.on_outage:
                self.on_outage(root, None)
            self.status[root] = result.status
            self.poll_interval = float(result.poll_interval)
            changed = changed or bool(result.events)
            local_jobs += result.local_in_flight
            if self.on_pass:
                self.on_pass(root, result.events, result.status)
        return changed, local_jobs

    def wait(self, changed: bool, local_jobs: int, sleep) -> None:
        """The poll interval, or while local jobs run a short wait that grows while nothing
        changes (on our own children: until one ends)."""
        slow = max(self.interval if self.interval is not None else self.poll_interval, 0.1)
        if not local_jobs:
            watched = [d for d in (bundling.ends_dir(r) for r in self.roots if self.status[r] == "RUNNING") if d]
            if watched:
                _wait_for_an_end(watched, slow, sleep)
            else:
                sleep(slow)
            return
        self.pause = FAST if changed else min(self.pause * 2, SLOW_LOCAL, slow)
        mine = [a for group in self.adapters.values() for a in group.values()
                if a.offers(WAITS_HERE) and a.running_here]
        if mine:                           # our own children: wake the moment one ends
            if self.wake is None:
                mine[0].wait_any(self.pause)
                return
            deadline = time.monotonic() + self.pause
            while not mine[0].wait_any(min(WAKE_SLICE, max(deadline - time.monotonic(), 0))):
                if self.wake() or time.monotonic() >= deadline:
                    return
        else:
            sleep(self.pause)

    def close(self) -> None:
        close_adapters(self.adapters.values())
        for memory in self.memories.values():
            memory.lock.close()


def _wait_for_an_end(directories: list[str], timeout: float, sleep) -> None:
    """Wait up to ``timeout`` seconds, less once a bundle's worker recorded a step's end (a new
    name in one of ``directories`` changes its modification time): its children may be ready."""
    def stamp():
        out = []
        for directory in directories:
            try:
                out.append(os.stat(directory).st_mtime_ns)
            except OSError:
                out.append(None)
        return out

    before, deadline = stamp(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        sleep(min(WAKE_SLICE, max(deadline - time.monotonic(), 0)))
        if stamp() != before:
            return


def _quick(adapters: dict) -> int:
    """1 while the study's local jobs are short: one more in flight than there are cores keeps
    every core busy while the loop notices an end and starts the next job; 0 otherwise (long
    jobs get one core each, as without it)."""
    return int(any(a.offers(WAITS_HERE) and a.quick() for a in adapters.values()))


def exit_code(statuses: dict[str, str]) -> int:
    """Maestro's StudyStatus codes: 0 finished, 2 failure, 3 cancelled (the worst study wins)."""
    codes = [S.STUDY_EXIT[s] for s in statuses.values()]
    return 3 if 3 in codes else (2 if 2 in codes else max(codes, default=0))
