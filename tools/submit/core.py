"""msubmit's core: one submission pass (mruntime's engine does the work), and the study settings
it takes (throttle, attempts, ...) written into the state under the lock."""

from mruntime.engine.passes import PassResult, run_pass
from mshared.times import utcnow

__all__ = ["submit_study", "update_settings"]


def update_settings(root: str, changes: dict) -> dict:
    """Write new settings of the study at ``root`` ({"throttle": 4, "poll_interval": 30, ...}; a
    None value is left out) into its state under the lock, after checking the study.  Returns
    {setting: (old, new)} for those that changed (empty when none did, and nothing is written).

    Raises InvalidInput (65) for a study that is not sound, StateBusy (75) when the lock stays
    held.  CLI twins: `msubmit -t/-a`, `maestro update`.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return {}

    def change(state, _dag):
        settings = state["settings"]
        changed = {k: (settings.get(k), v) for k, v in changes.items() if settings.get(k) != v}
        settings.update(changes)
        return changed

    from mshared.studydir import edit_state   # here: a pass does not need it

    return edit_state(root, change)


def submit_study(root: str, *, clock=utcnow, adapters: dict | None = None) -> PassResult:
    """Submit every step whose parents all finished, up to the throttle, exactly once.
    CLI twin: `msubmit STUDY_DIR`."""
    return run_pass(root, poll_jobs=False, submit=True, clock=clock, adapters=adapters)
