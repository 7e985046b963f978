"""msubmit's core: one submission pass (the engine in mshared does the work)."""

from mruntime.engine.passes import PassResult, run_pass
from mshared.times import utcnow
from mshared.statefile import lock_study, read_state, write_state


def update_settings(root: str, changes: dict) -> bool:
    """Persist new study settings (throttle, attempts, ...); returns True when something changed."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return False
    with lock_study(root, wait=True, timeout=10):
        state = read_state(root)
        if all(state["settings"].get(k) == v for k, v in changes.items()):
            return False
        state["settings"].update(changes)
        return write_state(root, state)


def submit_study(root: str, *, clock=utcnow, adapters: dict | None = None) -> PassResult:
    """Submit every step whose parents all finished, up to the throttle, exactly once."""
    return run_pass(root, poll_jobs=False, submit=True, clock=clock, adapters=adapters)
