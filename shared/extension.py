"""The state's record of a study that grows (mextend, decide steps): ``state["extension"]``.

    {"round": 3, "max_rounds": 10, "done": false,
     "rounds": [{"round": 2, "at": "...Z", "by": "mextend", "combinations": 2, "added": 5}, ...],
     "requests": {"decide_ROUND.2": {"status": "applied", "round": 3, "file": "...", "added": 5}}}

``round`` is the newest round: a study as rendered is round 1 (round 0 when it has no instance
yet), each extension adds one.  ``max_rounds`` is the last round a request or mextend may start
(null: no limit).  ``requests`` has an entry for every decide instance whose request was read,
written in the same commit as what it added.  mrender writes the record for a spec with an extend
block; mextend writes it when another study first grows.  A state without it never grew.
"""

KEY = "extension"


def new_record(has_steps: bool, max_rounds: int | None = None) -> dict:
    return {"round": 1 if has_steps else 0, "max_rounds": max_rounds, "done": False, "rounds": [],
            "requests": {}}
