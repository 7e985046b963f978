"""msubmit's core: one submission pass (mruntime's engine does the work), and the study settings
it takes (throttle, attempts, ...) written into the state under the lock."""

from mruntime.engine.passes import PassResult, run_pass
from mshared.errors import InvalidInput
from mshared.times import utcnow

__all__ = ["submit_study", "update_settings"]


def update_settings(root: str, changes: dict) -> dict:
    """Write new settings of the study at ``root`` ({"throttle": 4, "poll_interval": 30, ...}; a
    None value is left out) into its state under the lock, after checking the study.  Returns
    {setting: (old, new)} for those that changed (empty when none did, and nothing is written).

    "bundle" is an override of the spec's bundle block, as ``mshared.bundlesettings.parse_override``
    makes it ({"off": True}, or some of the block's keys): merged into the one the state holds
    (``merge_override``).  "allocations" (`maestro update --allocations`) changes the most
    allocations in flight of a study that has a bundle, written into that override.  Either is
    checked with the DAG (``bundlesettings.check_study``: its study.bundle, batch.type and
    steps) before anything is written: a bad value, an incomplete override of a study without a
    bundle block, or allocations for a study without a bundle raise InvalidInput and change
    nothing.

    Raises InvalidInput (65) for a study that is not sound, StateBusy (75) when the lock stays
    held.  CLI twins: `msubmit -t/-a/--bundle/--no-bundle`, `maestro update`.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return {}

    def change(state, dag):
        settings = state["settings"]
        new = dict(changes)
        changed = {}
        if "bundle" in new or "allocations" in new:
            changed = _bundle_changes(root, settings, dag, new)
        changed.update({k: (settings.get(k), v) for k, v in new.items() if settings.get(k) != v})
        settings.update(new)
        return changed

    from mshared.studydir import edit_state   # here: a pass does not need it

    return edit_state(root, change)


def _bundle_changes(root: str, settings: dict, dag: dict, new: dict) -> dict:
    """Turn ``new``'s "bundle" and "allocations" into the state's new settings.bundle (in
    ``new``), checked; returns {"allocations": (old, new)} when allocations changed."""
    from mshared import bundlesettings

    spec = dag["study"].get(bundlesettings.BLOCK)
    override = settings.get("bundle")
    changed = {}
    if "bundle" in new:
        given = new.pop("bundle")
        bundlesettings.check_override(given, "--bundle")
        override = bundlesettings.merge_override(override, given)
        bundlesettings.check_study(dag["study"], dag["steps"], override, f"{root}: --bundle")
    if "allocations" in new:
        count = new.pop("allocations")
        current = bundlesettings.effective(spec, override, f"{root}: settings.bundle")
        if current is None:
            why = ("its bundle is turned off (--no-bundle)" if override and override.get(bundlesettings.OFF)
                   else "its spec has no bundle block and none was given with --bundle")
            raise InvalidInput(f"{root}: --allocations changes a bundle's allocations, and this study has no "
                               f"bundle: {why}")
        override = bundlesettings.merge_override(override, {"allocations": count})
        bundlesettings.effective(spec, override, f"{root}: --allocations")   # the rest was checked
        if current["allocations"] != count:
            changed["allocations"] = (current["allocations"], count)
    if override is not None:
        new["bundle"] = override
    return changed


def submit_study(root: str, *, clock=utcnow, adapters: dict | None = None) -> PassResult:
    """Submit every step whose parents all finished, up to the throttle, exactly once.
    CLI twin: `msubmit STUDY_DIR`."""
    return run_pass(root, poll_jobs=False, submit=True, clock=clock, adapters=adapters)
