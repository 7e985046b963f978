"""Repeat passes until every study has ended: `mmonitor --loop`, `maestro run -fg`, `maestro conductor`.

The wait between passes adapts: while local jobs run, a finished one is noticed within a fraction
of a second (the loop waits on its own children, or polls briefly); otherwise it waits the
study's poll interval.  The lock is never held while waiting.
"""

import gc
import time

from mshared.errors import SchedulerUnavailable, StateBusy
from mshared.times import utcnow

from . import transitions as T
from .passes import close_adapters, cores, run_pass
from .records import LoopMemory

FAST = 0.02     # first wait while local jobs are in flight
SLOW_LOCAL = 1.0
CSV_EVERY = 1.0  # seconds: status.csv is derived data; in a loop it is refreshed at most this often


def run_loop(roots: list[str], *, interval: float | None = None, submit: bool = True, clock=utcnow,
             on_pass=None, sleep=time.sleep, local_slots: int | None = None, on_outage=None) -> dict[str, str]:
    """Run passes over ``roots`` until each study ends; returns root -> final study status.

    A scheduler that cannot be reached does not end the loop (a study runs for weeks; a
    controller restarts in minutes): ``on_outage(root, message or None)`` is told when an outage
    starts and when it ends, and the loop keeps trying at the poll interval.
    """
    outages: dict[str, str] = {}
    adapters = {root: {} for root in roots}
    memories = {root: LoopMemory() for root in roots}
    slow_default = 60.0
    status = {root: "RUNNING" for root in roots}
    wait = FAST
    rounds = 0
    default_slots = cores()
    try:
        while any(s == "RUNNING" for s in status.values()):
            rounds += 1
            gc.collect(0 if rounds % 500 else 2)   # the CLI turned automatic collection off
            changed = False
            local_jobs = 0
            for root in roots:
                if status[root] != "RUNNING":
                    continue
                slots = local_slots if local_slots is not None else default_slots + _quick(adapters[root])
                try:
                    result = run_pass(root, poll_jobs=True, submit=submit, clock=clock, adapters=adapters[root],
                                      local_slots=slots, memory=memories[root], csv_every=CSV_EVERY)
                except StateBusy:
                    local_jobs += 1  # another pass (cron, another loop) is on it: look again soon
                    continue
                except SchedulerUnavailable as err:
                    if root not in outages and on_outage:
                        on_outage(root, str(err))
                    outages[root] = str(err)
                    continue
                if outages.pop(root, None) is not None and on_outage:
                    on_outage(root, None)
                status[root] = result.status
                slow_default = float(result.poll_interval)
                changed = changed or bool(result.events)
                local_jobs += result.local_in_flight
                if on_pass:
                    on_pass(root, result.events, result.status)
            if not any(s == "RUNNING" for s in status.values()):
                break
            slow = max(interval if interval is not None else slow_default, 0.1)
            if not local_jobs:
                sleep(slow)
                continue
            wait = FAST if changed else min(wait * 2, SLOW_LOCAL, slow)
            mine = [a["local"] for a in adapters.values() if a.get("local") is not None and a["local"].running_here]
            if mine:
                mine[0].wait_any(wait)   # our own children: wake the moment one ends
            else:
                sleep(wait)
        return status
    finally:
        close_adapters(adapters.values())
        for memory in memories.values():
            memory.lock.close()


def _quick(adapters: dict) -> int:
    """1 while the study's local jobs are short: one more in flight than there are cores keeps
    every core busy while the loop notices an end and starts the next job; 0 otherwise (long
    jobs get one core each, as without it)."""
    local = adapters.get("local")
    return int(local is not None and local.quick())


def exit_code(statuses: dict[str, str]) -> int:
    """Maestro's StudyStatus codes: 0 finished, 2 failure, 3 cancelled (the worst study wins)."""
    codes = [T.STUDY_EXIT[s] for s in statuses.values()]
    return 3 if 3 in codes else (2 if 2 in codes else max(codes, default=0))
