"""mreport's table layouts: folding, fitting a width, and the fast path that draws big tables."""

import pytest
from hypothesis import given, strategies as st
from prettytable import PrettyTable

from mreport import layouts
from mshared.statusrows import TABLE_COLUMNS


def test_fold():
    assert layouts.fold("short", 10) == ["short"]
    assert layouts.fold("2026-11-25 16:15:59", 10) == ["2026-11-25", "16:15:59"]
    assert layouts.fold("hello_world_GREETING.Hello.NAME.Pam", 16) == ["hello_world_", "GREETING.Hello.", "NAME.Pam"]
    assert layouts.fold("abcdefghijklmnopqrstuvwxyz", 10) == ["abcdefghij", "klmnopqrst", "uvwxyz"]
    assert layouts.fold("a.bcdefghijklmnop", 10) == ["a.bcdefghi", "jklmnop"]   # no cut under half a line
    assert layouts.fold("Study: /a/very long/title here", 12) == ["Study:", "/a/very", "long/title", "here"]


@given(st.text(alphabet="ab._/- :", min_size=1, max_size=60), st.integers(min_value=1, max_value=20))
def test_fold_keeps_lines_within_the_width(text, width):
    lines = layouts.fold(text, width)
    assert all(len(line) <= width for line in lines)
    if " " not in text:
        assert "".join(lines) == text      # nothing is lost without spaces


def test_fit_widths_folds_times_then_shares_between_names():
    natural = [40, 6, 40, 8, 14, 14, 19, 19, 19, 15]
    assert layouts.fit_widths(TABLE_COLUMNS, natural, None) == natural
    assert layouts.fit_widths(TABLE_COLUMNS, natural, 300) == natural
    wide = layouts.fit_widths(TABLE_COLUMNS, natural, 200)    # names only: 200 - 31 = 169
    assert wide[6:9] == [19, 19, 19] and sum(wide) == 169 and abs(wide[0] - wide[2]) <= 1
    narrow = layouts.fit_widths(TABLE_COLUMNS, natural, 160)  # times fold (date over time) until it fits
    assert narrow == [16, 6, 16, 8, 14, 14, 10, 11, 19, 15] and sum(narrow) == 160 - 31
    least = layouts.fit_widths(TABLE_COLUMNS, natural, 80)    # cannot fit: the narrowest it gets
    assert least == [16, 6, 16, 8, 14, 14, 10, 11, 10, 15]


def _reference(headers, columns, widths, title, ruled):
    """The same table drawn by prettytable alone."""
    from prettytable import HRuleStyle

    table = PrettyTable(list(headers), hrules=HRuleStyle.ALL if ruled else HRuleStyle.FRAME)
    table.align = "l"
    table.min_width = dict(zip(headers, widths))
    table.max_width = dict(zip(headers, widths))
    table.title = title
    table.add_rows([list(r) for r in zip(*columns)])
    return table.get_string()


cells = st.text(alphabet="abcXYZ019._/-: ", min_size=0, max_size=30)


@given(st.lists(st.lists(cells, min_size=10, max_size=10), min_size=1, max_size=12),
       st.sampled_from([None, 60, 100, 150, 250]), st.text(alphabet="ab /:", min_size=1, max_size=200))
def test_fast_path_draws_exactly_what_prettytable_draws(rows, limit, title):
    columns = [list(c) for c in zip(*rows)]
    slow = layouts.grid(TABLE_COLUMNS, columns, limit, title)
    old = layouts.FAST_ROWS
    layouts.FAST_ROWS = 0
    try:
        fast = layouts.grid(TABLE_COLUMNS, columns, limit, title)
    finally:
        layouts.FAST_ROWS = old
    assert fast == slow


def test_the_slow_path_is_prettytable_itself():
    columns = [["a_very_long_step_name_indeed", "b"]] + [["x", "y"]] * 9
    out = layouts.grid(TABLE_COLUMNS, columns, 120, "Study: /s")
    folded = [["a_very_long_\nstep_name_indeed", "b"]] + columns[1:]
    assert out == _reference(TABLE_COLUMNS, folded, [16, 6, 9, 5, 8, 12, 10, 11, 8, 15], "Study: /s", ruled=True)


def test_non_ascii_cells_go_through_prettytable(monkeypatch):
    monkeypatch.setattr(layouts, "FAST_ROWS", 0)
    columns = [["日本語", "b"]] + [["x", "y"]] * 9
    out = layouts.grid(TABLE_COLUMNS, columns, None, "t")
    assert out == _reference(TABLE_COLUMNS, columns, [9, 6, 9, 5, 8, 12, 10, 11, 8, 15], "t", ruled=False)


def test_legacy_is_tabulates_simple_table():
    columns = [["a", "bb"], ["12", "--"], ["a", "bb"], ["FINISHED", "FAILED"], ["0d:00h:00m:01s"] * 2,
               ["0d:00h:00m:01s"] * 2, ["--"] * 2, ["--"] * 2, ["--"] * 2, ["0", "10"]]
    lines = layouts.legacy("/s", columns).split("\n")
    assert lines[0] == lines[2] == lines[-1] == "=" * len(lines[3]) and lines[1] == "/s"
    assert lines[3].startswith("Step Name    Job ID    Workspace    State     Run Time ")
    assert lines[3].endswith("  Number Restarts")             # numbers are right-aligned
    assert lines[5].startswith("a            12        a            FINISHED  ")
    assert lines[6].endswith("                 10")


def test_narrow_blocks():
    columns = [["s_P.1"], ["7"], ["s/P.1"], ["RUNNING"], ["0d:00h:00m:05s"], ["0d:00h:01m:00s"],
               ["2026-11-25 10:00:00"], ["2026-11-25 09:59:05"], ["--"], ["2"]]
    out = layouts.narrow("/s", columns, [{"P": 1, "LONGER": "value"}], 100).split("\n")
    assert out[0].strip() == "STUDY: /s"
    assert out[2:4] == ["  STEP:        s_P.1", "  WORKSPACE:   s/P.1"]
    assert out[5] == " " * 17 + "State          RUNNING            Submit Time       2026-11-25 09:59:05"
    assert out[8] == " " * 17 + "Elapsed Time   0d:00h:01m:00s     Number Restarts   2"
    assert out[10] == " " * 17 + "LONGER   value   P   1"
    assert out[11] == "-" * 100


@pytest.mark.parametrize("limit", [None, 40])
def test_narrow_folds_long_names_to_the_width(limit):
    name = "x" * 60
    columns = [[name], ["--"], [name], ["INITIALIZED"]] + [["--"]] * 5 + [["0"]]
    out = layouts.narrow("/s", columns, [{}], limit).split("\n")
    folded = [line for line in out if line.startswith(" " * 15 + "x")]   # 25 + 25 + 10 for each name
    assert len(folded) == (0 if limit is None else 4)
    assert limit is None or all(len(line) <= limit for line in out[2:8])


shared_cells = st.text(alphabet="abcXYZ019._/-: \x1b\u00e9", min_size=0, max_size=24)


@given(st.lists(st.tuples(cells, cells, cells), min_size=1, max_size=12),
       st.lists(st.tuples(shared_cells, shared_cells, shared_cells, shared_cells), min_size=1, max_size=4),
       st.data(), st.sampled_from([None, 60, 100, 250]), st.sampled_from([0, 1000]))
def test_shared_columns_draw_what_their_cells_draw(own, distinct, data, limit, fast_rows):
    """A table with SharedColumns (each distinct tuple drawn once) is the table of their cells,
    made visible: with runs of shared columns split by a column of the rows' own, on the fast
    path (FAST_ROWS 0) and the general one, folded or not, plain or not."""
    from mshared.printable import visible_column
    from mshared.statusrows import SharedCells

    drawn = data.draw(st.lists(st.integers(0, len(distinct) - 1), min_size=len(own), max_size=len(own)))
    used = sorted(set(drawn))               # every distinct tuple is some row's, as in shared_rows
    distinct = [distinct[i] for i in used]
    index = [used.index(i) for i in drawn]
    shared = SharedCells(distinct, index, 4)
    first, second, third, fourth = shared.columns()
    names, jobs, spaces = (list(c) for c in zip(*own))
    columns = [names, first, jobs, second, spaces, third, fourth]   # runs of one and of two
    headers = ("Step Name", "Allocation", "Job ID", "Node", "Workspace", "State", "Run Time")
    plain = [c if isinstance(c, list) else visible_column([distinct[i][c.position] for i in index]) for c in columns]
    old = layouts.FAST_ROWS
    layouts.FAST_ROWS = fast_rows
    try:
        assert layouts.grid(headers, columns, limit, "Study: /s") == layouts.grid(headers, plain, limit, "Study: /s")
    finally:
        layouts.FAST_ROWS = old
