"""mreport's JSON step records: the merge of a report view's step with a state entry (the fast
path, mreport.core._record) gives the record picked field by field (_record_by_field)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from mreport.core import _record, _record_by_field
from mshared.statefile import initial_step

TIMES = st.sampled_from([None, "2026-01-02T03:04:05Z", "2026-01-02T03:04:09Z"])
MAYBE_TEXT = st.sampled_from([None, "", "2", "vm", "b-1.run_X.0"])
ENTRY_FIELDS = {
    "state": st.sampled_from(["INITIALIZED", "PENDING", "RUNNING", "FINISHED", "FAILED", "CANCELLED"]),
    "job_id": MAYBE_TEXT, "jobs": st.one_of(st.none(), st.lists(st.text(max_size=3), max_size=2)),
    "attempts": st.integers(0, 3), "restarts": st.one_of(st.none(), st.integers(0, 3)),
    "submitted": TIMES, "started": TIMES, "ended": TIMES, "exit_code": st.sampled_from([None, 0, 1]),
    "reason": MAYBE_TEXT, "not_before": TIMES, "intent": st.sampled_from([None, {"job_id": "7"}]),
}


@st.composite
def entries(draw):
    """State entries as the tools write them, with or without where a bundled step ran, and
    ones that are not: fields missing, others added."""
    entry = {key: draw(value) for key, value in ENTRY_FIELDS.items()}
    assert entry.keys() == initial_step().keys()
    for key in ("alloc", "node"):
        if draw(st.booleans()):
            entry[key] = draw(MAYBE_TEXT)
    for key in draw(st.lists(st.sampled_from(sorted(entry)), max_size=2)):
        entry.pop(key, None)
    if draw(st.booleans()):
        entry["reused_from"] = {"study": "old"}
    return entry


STEPS = st.fixed_dictionaries({"id": st.just("run_X.0"), "step": st.just("run"), "workspace": st.just("run/X.0"),
                               "params": st.dictionaries(st.sampled_from("XY"), st.integers(0, 9)),
                               "round": st.integers(1, 3)},
                              optional={"stem": st.just("run_X.0")})


@settings(max_examples=400, deadline=None)
@given(step=STEPS, entry=entries(), run=st.one_of(st.none(), st.integers(0, 99)),
       wait=st.one_of(st.none(), st.integers(0, 99)))
def test_a_merged_record_is_the_record_picked_field_by_field(step, entry, run, wait):
    if "state" not in entry:
        entry["state"] = "PENDING"       # every entry has a state (read_state checks the shape)
    assert _record(step, entry, run, wait) == _record_by_field(step, entry, run, wait)


def test_the_merge_is_taken_for_entries_as_the_tools_write_them():
    """The fast path is not dead code: an entry as written, bundled or not, takes it."""
    import mreport.core as core

    step = {"id": "a", "step": "a", "workspace": "a", "params": {}, "round": 1}
    plain = {**initial_step(), "state": "PENDING", "job_id": "t", "jobs": ["t"]}
    bundled = {**plain, "alloc": "2", "node": "vm"}
    calls = []
    real, core._record_by_field = core._record_by_field, lambda *a: calls.append(a) or real(*a)
    try:
        for entry in (plain, bundled):
            assert "intent" not in _record(step, entry, 1, 2)
        assert calls == []
        _record(step, {**plain, "alloc": None, "node": None}, 1, 2)
        assert len(calls) == 1
    finally:
        core._record_by_field = real
