"""mmonitor's core: one pass (poll, apply Maestro's transitions, submit what became ready)."""

from mruntime.engine.loop import exit_code, run_loop
from mruntime.engine.passes import PassResult, run_pass
from mshared.times import utcnow

__all__ = ["monitor_study", "monitor_loop", "exit_code"]


def monitor_study(root: str, *, submit: bool = True, clock=utcnow, adapters: dict | None = None) -> PassResult:
    return run_pass(root, poll_jobs=True, submit=submit, clock=clock, adapters=adapters)


def monitor_loop(roots: list[str], *, interval: float | None = None, submit: bool = True, on_pass=None,
                 on_outage=None) -> dict:
    return run_loop(roots, interval=interval, submit=submit, on_pass=on_pass, on_outage=on_outage)
