"""`maestro cancel`, `update` and `rerun`: requests written into the study's state under its lock.

The running loop (or the next `mmonitor` pass) carries them out; these commands also run one pass
themselves, so a study without a conductor still reacts at once.
"""

import os

from mshared.errors import InvalidInput, StateBusy
from mshared.statefile import lock_study, write_state

LOCK_WAIT = 15  # seconds: a pass holds the lock briefly; wait for it rather than fail


def study_root(path: str) -> str:
    root = os.path.abspath(path)
    if not os.path.isfile(os.path.join(root, "state.json")):
        raise InvalidInput(f"'{root}': not a study directory (no state.json); give the directory "
                           "that mrender or maestro run created")
    return root


def _edit(root: str, change) -> object:
    from mruntime.engine.passes import load_study

    with lock_study(root, wait=True, timeout=LOCK_WAIT):
        # the whole study is checked (state against DAG, versions) before anything is written:
        # a request is never added to a state file the passes would refuse
        state = load_study(root).state
        result = change(state)
        write_state(root, state)
        return result


def instances(state_or_dag_steps, name: str) -> list[str]:
    """Step ids of the spec step ``name`` (all its instances), or ``name`` itself if it is an id."""
    ids = [s["id"] for s in state_or_dag_steps if s["step"] == name or s["id"] == name]
    if not ids:
        raise InvalidInput(f"no step or step instance named '{name}' in this study")
    return ids


def dag_steps(root: str) -> list[dict]:
    from mshared.contracts import parse_dag

    path = os.path.join(root, "dag.json")
    with open(path, "rb") as handle:
        return parse_dag(handle.read(), path)["steps"]


def request_cancel(root: str, step: str | None) -> None:
    if step is None:
        _edit(root, lambda state: state["requests"].update(cancel=True))
        return
    ids = instances(dag_steps(root), step)
    _edit(root, lambda state: state["requests"].update(
        cancel_steps=list(dict.fromkeys(state["requests"].get("cancel_steps", []) + ids))))


def request_rerun(root: str, step: str, subtree: bool) -> list[str]:
    ids = instances(dag_steps(root), step)

    def change(state):
        state["requests"]["rerun"] = state["requests"].get("rerun", []) + [
            {"step": sid, "subtree": subtree} for sid in ids]
        state["requests"].pop("cancel", None)
        state["requests"].pop("cancel_done", None)

    _edit(root, change)
    return ids


SETTING_NAMES = {"throttle": "throttle", "rlimit": "restart limit", "sleep": "poll interval"}
SETTING_KEYS = {"throttle": "throttle", "rlimit": "rlimit", "sleep": "poll_interval"}


def update_settings(root: str, values: dict) -> list[str]:
    """Apply {"throttle"|"rlimit"|"sleep": int}; 0 is a valid value.  Returns what changed, in words."""
    def change(state):
        lines = []
        for name, value in values.items():
            key = SETTING_KEYS[name]
            old = state["settings"].get(key)
            if old != value:
                state["settings"][key] = value
                lines.append(f"Updating {SETTING_NAMES[name]} from {old} to {value}")
        return lines

    return _edit(root, change)


def one_pass(root: str, submit: bool = True):
    """Run one monitoring pass now; quietly leave it to the running loop if the lock is held."""
    from mmonitor.core import monitor_study

    try:
        return monitor_study(root, submit=submit)
    except StateBusy:
        return None
