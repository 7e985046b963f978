"""`maestro cancel`, `update` and `rerun`: requests and settings written into the study's state
under its lock (mmonitor.core, msubmit.core).

The running loop (or the next `mmonitor` pass) carries them out; these commands also run one pass
themselves, so a study without a conductor still reacts at once.
"""

from mshared.errors import StateBusy

# `maestro update` option -> (state setting, its name in messages)
SETTINGS = {"throttle": ("throttle", "throttle"), "rlimit": ("rlimit", "restart limit"),
            "sleep": ("poll_interval", "poll interval"),
            # a bundle's: written into settings.bundle (msubmit.core.update_settings)
            "allocations": ("allocations", "most allocations in flight")}


def update_settings(root: str, values: dict) -> list[str]:
    """Apply {"throttle"|"rlimit"|"sleep"|"allocations": int}; 0 is a valid value but for
    allocations, which a study without a bundle refuses.  Returns what changed, in words."""
    from msubmit.core import update_settings as write_settings

    changed = write_settings(root, {SETTINGS[name][0]: value for name, value in values.items()})
    names = {key: words for key, words in SETTINGS.values()}
    return [f"Updating {names[key]} from {old} to {new}" for key, (old, new) in changed.items() if key in names]


def one_pass(root: str, submit: bool = True):
    """Run one monitoring pass now; quietly leave it to the running loop if the lock is held."""
    from mmonitor.core import monitor_study

    try:
        return monitor_study(root, submit=submit)
    except StateBusy:
        return None
