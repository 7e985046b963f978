"""Maestro's status rows (mshared.statusrows): formats, local time, and the column-wise fast path."""

import os
import time
from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from mshared import statusrows as R
from mshared.printable import csv_cell

NOW = datetime(2026, 11, 25, 12, 0, 0, 600000, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def utc_minus_5():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "EST+5"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_formats():
    assert R.format_duration(None) == "--:--:--"
    assert R.format_duration(0) == "0d:00h:00m:00s"
    assert R.format_duration(2 * 86400 + 3 * 3600 + 4 * 60 + 5) == "2d:03h:04m:05s"
    assert R.Times(NOW).local(None) == "--" and R.Times(NOW).local("2026-11-25T10:00:00Z") == "2026-11-25 05:00:00"
    assert R.iso_seconds("1970-01-02T00:00:01Z") == 86401
    with pytest.raises(ValueError):
        R.iso_seconds("2026-11-25 10:00:00")


def test_durations_count_to_now_while_going_and_never_go_negative():
    times = R.Times(NOW)
    assert times.seconds("2026-11-25T11:59:00Z", None) == 61   # 60.6 s rounds to 61
    assert times.seconds("2026-11-25T11:00:00Z", "2026-11-25T10:00:00Z") == 0
    assert times.seconds(None, "2026-11-25T10:00:00Z") is None


def test_status_csv_header_quoting_and_params():
    steps = [{"id": "a", "workspace": "a", "params": {}},
             {"id": "b_X.1", "workspace": "b/X.1", "params": {"X": "1,2", "A": 3}}]
    entries = {"a": {"state": "FINISHED", "job_id": "9", "submitted": "2026-11-25T10:00:00Z",
                     "started": "2026-11-25T10:00:01Z", "ended": "2026-11-25T10:00:11Z", "restarts": 0},
               "b_X.1": {"state": "INITIALIZED"}}
    assert R.status_csv(steps, entries, NOW) == (
        "Step Name,Job ID,Workspace,State,Run Time,Elapsed Time,Start Time,Submit Time,End Time,"
        "Number Restarts,Params\n"
        "a,9,a,FINISHED,0d:00h:00m:10s,0d:00h:00m:11s,2026-11-25 05:00:01,2026-11-25 05:00:00,"
        "2026-11-25 05:00:11,0,\n"
        'b_X.1,--,b/X.1,INITIALIZED,--:--:--,--:--:--,--,--,--,0,"A:3;X:1,2"\n')


stamps = st.one_of(st.none(), st.integers(min_value=1_700_000_000, max_value=1_900_000_000).map(
    lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))))


def _parse_iso(text):
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _local_time(text):
    moment = _parse_iso(text)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "--"


def _slow_row(step, entry, now):
    """The row as the first statusrows wrote it, one strptime/strftime per cell: the oracle of
    the column-wise fast path."""
    def duration(start, end):
        begin = _parse_iso(start)
        if begin is None:
            return "--:--:--"
        seconds = max(int(round(((_parse_iso(end) or now) - begin).total_seconds())), 0)
        return R.format_duration(seconds)

    params = ";".join(f"{k}:{v}" for k, v in sorted(step.get("params", {}).items()))
    return [step["id"], entry.get("job_id") or "--", step["workspace"], entry["state"],
            duration(entry.get("started"), entry.get("ended")), duration(entry.get("submitted"), entry.get("ended")),
            _local_time(entry.get("started")), _local_time(entry.get("submitted")),
            _local_time(entry.get("ended")), str(entry.get("restarts", 0)), params]


@given(st.lists(st.tuples(stamps, stamps, stamps, st.sampled_from([None, "12"]), st.integers(0, 3)),
                min_size=1, max_size=30))
def test_columns_match_the_cell_by_cell_rows(entries):
    steps, by_id = [], {}
    for i, (sub, start, end, job, restarts) in enumerate(entries):
        steps.append({"id": f"s{i}", "workspace": f"s/{i}", "params": {"P": i}})
        by_id[f"s{i}"] = {"state": "RUNNING", "submitted": sub, "started": start, "ended": end,
                          "job_id": job, "restarts": restarts}
    times = R.Times(NOW)
    rows = [list(r) for r in zip(*times.columns(steps, by_id))]
    assert rows == [_slow_row(s, by_id[s["id"]], NOW) for s in steps]
    assert times.columns(steps, by_id, params=False) == [list(c) for c in zip(*(
        _slow_row(s, by_id[s["id"]], NOW)[:10] for s in steps))]


FEW_STAMPS = st.sampled_from([None, "", "2026-01-02T03:04:05Z", "2026-01-02T03:04:06Z", "2026-01-02T01:00:00Z"])


@given(st.lists(st.tuples(FEW_STAMPS, FEW_STAMPS, FEW_STAMPS, st.sampled_from(["PENDING", "RUNNING", "FINISHED"]),
                          st.integers(0, 1)), min_size=1, max_size=40))
def test_rows_that_share_their_fields_share_their_cells_and_match_the_cell_by_cell_rows(entries):
    """Times.columns formats each distinct (state, times, restarts) once: rows that share them
    (drawn here from few values, so most do) are still every one the row the slow path writes."""
    steps, by_id = [], {}
    for i, (sub, start, end, state, restarts) in enumerate(entries):
        steps.append({"id": f"s{i}", "workspace": f"s/{i}", "params": {}})
        by_id[f"s{i}"] = {"state": state, "submitted": sub, "started": start, "ended": end,
                          "job_id": f"j{i}", "restarts": restarts}
    rows = [list(r) for r in zip(*R.Times(NOW).columns(steps, by_id))]
    assert rows == [_slow_row(s, by_id[s["id"]], NOW) for s in steps]


TEXT = st.text(alphabet='ab,"\n\r x.:;', min_size=1, max_size=6)


@given(st.lists(st.tuples(TEXT, TEXT, st.dictionaries(TEXT, st.one_of(st.integers(), TEXT), max_size=2),
                          st.sampled_from(["untouched", "restarted", "running", "finished"]),
                          st.integers(0, 2), stamps), min_size=1, max_size=25, unique_by=lambda t: t[0]))
def test_status_csv_is_every_row_written_by_the_csv_module(rows):
    # the file is put together from templates and joined lines where nothing needs quoting; it
    # must be byte for byte what csv.writer makes of the cell-by-cell rows
    import csv
    import io

    steps, by_id = [], {}
    for sid, workspace, params, kind, restarts, stamp in rows:
        steps.append({"id": sid, "workspace": workspace, "params": params})
        entry = {"state": "INITIALIZED", "job_id": None, "submitted": None, "started": None,
                 "ended": None, "restarts": restarts}
        if kind == "running":
            entry.update(state="RUNNING", job_id="7", submitted=stamp, started=stamp)
        elif kind == "finished":
            entry.update(state="FINISHED", job_id="8", submitted=stamp, started=stamp, ended=stamp)
        elif kind == "restarted":
            entry.update(reason="timed out; restarting")
        by_id[sid] = entry
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(R.COLUMNS)
    for step in steps:
        row = _slow_row(step, by_id[step["id"]], NOW)
        writer.writerow([csv_cell(c) if at in (0, 1, 2, 3, 9, 10) else c for at, c in enumerate(row)])
    assert R.status_csv(steps, by_id, NOW) == expected.getvalue()


def test_entries_of_an_earlier_release_without_some_fields_give_the_same_file():
    """Entries as the tools write them have every field the rows need (taken in one sweep);
    one without restarts or job_id (an earlier release's) takes the field-by-field path."""
    steps = [{"id": f"s{i}", "workspace": f"s/{i}", "params": {"P": i}} for i in range(3)]
    full = {s["id"]: {"state": "RUNNING", "job_id": "5", "submitted": "2026-11-25T11:00:00Z",
                      "started": None, "ended": None, "restarts": 0} for s in steps}
    sparse = {sid: {k: v for k, v in entry.items() if k not in ("restarts", "started", "ended")}
              for sid, entry in full.items()}
    sparse["s1"]["job_id"] = None
    full["s1"]["job_id"] = None
    assert R.status_csv(steps, sparse, NOW) == R.status_csv(steps, full, NOW)
    assert "s1,--,s/1,RUNNING" in R.status_csv(steps, full, NOW)


@pytest.mark.parametrize("cell,shown", [
    ("=1+1", "'=1+1"), ("+cmd", "'+cmd"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"), ("\tx", "\\tx"), ("\rx", "\\rx"),
    ("a\x1b[31mb", "a\\x1b[31mb"), ("x\x9by", "x\\x9by"), ("=\x1b", "'=\\x1b"),
    ("--", "--"), ("--:--:--", "--:--:--"), ("-5", "-5"), ("-2.5", "-2.5"), ("sim_X.1", "sim_X.1"),
])
def test_csv_cells_are_neither_formulas_nor_terminal_controls(cell, shown):
    assert csv_cell(cell) == shown


def test_status_csv_neutralises_formulas_and_controls_in_every_user_cell():
    """F15: Maestro writes these cells raw; a spreadsheet would run `=...` and `cat` would
    colour the terminal."""
    steps = [{"id": "=1+1", "workspace": "@w", "params": {"P": "=cmd|' /C calc'!A0", "Q": "\x1b]0;pwned\x07"}},
             {"id": "-x", "workspace": "w2", "params": {}}]
    entries = {"=1+1": {"state": "INITIALIZED", "restarts": 0},
               "-x": {"state": "RUNNING", "job_id": "+7", "submitted": "2026-01-01T00:00:00Z",
                      "started": "2026-01-01T00:00:00Z", "restarts": 0}}
    text = R.status_csv(steps, entries, NOW)
    assert "\x1b" not in text and "\x07" not in text
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert rows[0][0] == "'=1+1" and rows[0][2] == "'@w"
    assert rows[0][10] == "P:=cmd|' /C calc'!A0;Q:\\x1b]0;pwned\\x07"
    assert rows[1][0] == "'-x" and rows[1][1] == "'+7"
    for row in rows:
        assert not any(cell[:1] and cell[0] in "=+-@" and cell not in ("--", "--:--:--") for cell in row), row


@given(st.lists(st.tuples(FEW_STAMPS, st.sampled_from(["PENDING", "RUNNING", "FINISHED"]),
                          st.sampled_from([None, "", "7", "8"]), st.sampled_from([None, "n1", "n2"]),
                          st.booleans()), min_size=1, max_size=30))
def test_the_bundle_columns_made_with_the_rows_are_the_cell_by_cell_ones(entries):
    """Times.columns with ``extra`` (mreport's Allocation and Node, formatted with the row's
    shared cells) gives the columns without it, then the cells field by field ('--': none)."""
    from mreport.core import BUNDLE_FIELDS, bundle_columns

    steps, by_id = [], {}
    for i, (stamp, state, alloc, node, has) in enumerate(entries):
        steps.append({"id": f"s{i}", "workspace": f"s/{i}", "params": {}})
        entry = {"state": state, "submitted": stamp, "started": stamp, "ended": None, "job_id": f"j{i}",
                 "restarts": 0}
        if has:
            entry.update(alloc=alloc, node=node)
        by_id[f"s{i}"] = entry
    times = R.Times(NOW)
    assert times.columns(steps, by_id, params=False, extra=BUNDLE_FIELDS) == (
        times.columns(steps, by_id, params=False) + bundle_columns(steps, by_id))
