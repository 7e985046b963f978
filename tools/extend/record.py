"""Reading and changing the state's extension record (its shape: mshared.extension).

``requests`` holds one entry per decide instance whose request was read, written in the same
commit as what it added: the record that makes applying a request happen exactly once.
"""

from mruntime.engine.requests import cancel_pending
from mshared.extension import KEY, new_record


def get(state: dict) -> dict:
    """The record as it stands (a fresh one, not stored, for a study that never grew)."""
    record = state.get(KEY)
    if record is None:
        return new_record(bool(state["steps"]))
    return record


def stored(state: dict) -> dict:
    """The record, stored in the state (to be changed)."""
    if KEY not in state:
        state[KEY] = get(state)
    return state[KEY]


def limit(state: dict, dag: dict) -> int | None:
    """The last round a request or mextend may start: the state's (the spec's extend.max_rounds
    as rendered, or a command line's since), else the spec's."""
    record = state.get(KEY) or {}
    if "max_rounds" in record:
        return record["max_rounds"]
    return (dag["study"].get("extend") or {}).get("max_rounds")


def cancelled(state: dict) -> bool:
    return cancel_pending(state["requests"])


def next_round(state: dict) -> int:
    return get(state)["round"] + 1


def add_round(state: dict, round_no: int, *, at: str, by: str, combinations: int, added: int) -> None:
    """Record round ``round_no`` (``next_round``): when, by whom, how much it added."""
    record = stored(state)
    record["round"] = round_no
    record["rounds"].append({"round": round_no, "at": at, "by": by, "combinations": combinations,
                             "added": added})
