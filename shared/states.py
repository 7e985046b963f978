"""Maestro's state names, used as plain upper-case strings everywhere (no other states)."""

INITIALIZED = "INITIALIZED"
PENDING = "PENDING"
WAITING = "WAITING"
RUNNING = "RUNNING"
FINISHING = "FINISHING"
FINISHED = "FINISHED"
QUEUED = "QUEUED"
FAILED = "FAILED"
INCOMPLETE = "INCOMPLETE"
HWFAILURE = "HWFAILURE"
TIMEDOUT = "TIMEDOUT"
UNKNOWN = "UNKNOWN"
CANCELLED = "CANCELLED"
NOTFOUND = "NOTFOUND"
DRYRUN = "DRYRUN"

ALL = (
    INITIALIZED, PENDING, WAITING, RUNNING, FINISHING, FINISHED, QUEUED, FAILED,
    INCOMPLETE, HWFAILURE, TIMEDOUT, UNKNOWN, CANCELLED, NOTFOUND, DRYRUN,
)
# A job in one of these is with the scheduler and must be polled.
IN_FLIGHT = frozenset({PENDING, WAITING, RUNNING, FINISHING, QUEUED})
# Nothing more will happen to a step in one of these unless a user asks for a re-run.
TERMINAL = frozenset({FINISHED, FAILED, TIMEDOUT, CANCELLED, DRYRUN})
FAILURES = frozenset({FAILED, TIMEDOUT, CANCELLED})


def study_status(state: dict, counts: dict | None = None) -> str:
    """RUNNING while anything can still happen (a step has not ended, or a control request
    waits to be carried out); then CANCELLED, FAILURE or FINISHED, as Maestro.  ``counts``: the
    steps per state, when the caller has them (a sweep over the steps less); no state in it
    with a count of 0 (it would count as a step in that state)."""
    values = counts if counts is not None else [e["state"] for e in state["steps"].values()]
    if any(v not in TERMINAL for v in values) or state["requests"].get("queue"):
        return "RUNNING"
    if state["requests"].get("cancel") or CANCELLED in values:
        return "CANCELLED"
    if any(v in (FAILED, TIMEDOUT) for v in values):
        return "FAILURE"
    return "FINISHED"


# Maestro's StudyStatus exit codes, by study status
STUDY_EXIT = {"FINISHED": 0, "RUNNING": 1, "FAILURE": 2, "CANCELLED": 3}
