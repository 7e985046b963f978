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


DOC_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2 ** 63, 2 ** 63 - 1), st.text(max_size=5)),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                     max_size=3), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.text(max_size=6), DOC_VALUES, max_size=4), items=st.lists(DOC_VALUES, max_size=9),
       size=st.integers(1, 4))
def test_a_document_serialised_a_part_of_its_list_at_a_time_is_the_whole_document(doc, items, size):
    """jsonio.dumps_spliced (the JSON report's step records, RECORDS_AT_ONCE at a time) gives
    the bytes of jsonio.dumps of the whole document, however the list is cut."""
    from mshared import jsonio

    parts = [jsonio.dumps_list_items(items[at:at + size]) for at in range(0, len(items), size)]
    doc = {**doc, "steps": []}
    assert jsonio.dumps_spliced(doc, "steps", parts) == jsonio.dumps({**doc, "steps": items})


def test_the_json_report_is_the_same_whatever_the_number_of_records_at_once(tmp_path, monkeypatch):
    """mreport --format json and ndjson of a study whose steps span several parts."""
    from datetime import datetime, timezone

    from engine_helpers import render_study
    from mreport import formats
    from mreport.core import report_studies

    spec = ("description: {name: parts, description: d}\n"
            "global.parameters:\n  P: {values: [1, 2, 3, 4, 5, 6, 7], label: P.%%}\n"
            "study:\n  - {name: sim, description: d, run: {cmd: echo $(P)}}\n")
    root = render_study(tmp_path, spec)
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    for fmt in ("json", "ndjson"):
        outputs = set()
        for size in (1, 2, 3, 100):
            monkeypatch.setattr(formats, "RECORDS_AT_ONCE", size)
            [one] = report_studies([root], now=now, fmt=fmt)
            outputs.add(one.output)
        assert len(outputs) == 1 and b"sim_P.7" in outputs.pop()
