"""Text tables for mreport: Maestro's flat, narrow and legacy layouts, fitted to a width.

The flat table is prettytable's default style.  prettytable is slow per row, so a table of
more than FAST_ROWS rows gets its title, header and bottom rule from prettytable and its body
from a format string: tests/unit/test_report_layouts.py checks that both give the same text.
A step table's State, time, Restarts (and Allocation, Node) columns come as SharedColumns
(mshared.statusrows): when nothing folds, each distinct tuple of them is drawn once, as one
piece of its rows (``_shared_grid``; the same test module checks it against the columns).
"""

import re
import textwrap
from itertools import groupby

from mshared.printable import visible_column
from mshared.statusrows import TABLE_COLUMNS, SharedColumn

from . import reused
from .core import BUNDLE_HEADERS

FAST_ROWS = 1000
# Columns the flat table may fold to fit the terminal, and the narrowest they get (Job ID: a
# bundled step's ticket, <bundle>.<stem>, is as long as its name; scheduler ids are shorter).
TEXT_FLOORS = {"Step Name": 16, "Job ID": 16, "Workspace": 16, "Reused From": 16}
TIME_FLOORS = {"Start Time": 10, "Submit Time": 11, "End Time": 10}   # date over time
_LAST_BREAK = re.compile(r"[._/:-][^._/:-]*$")   # with endpos: the last break before it


def fold(text: str, width: int) -> list[str]:
    """Cut ``text`` into lines of at most ``width``: at spaces when it has some (a time becomes
    date over time), else after the last '.', '_', '/', '-' or ':' that keeps a line at least
    half full, else every ``width`` characters (as Maestro's tables fold)."""
    if len(text) <= width:
        return [text]
    if " " in text:
        head, _, rest = text.partition(" ")
        if len(head) <= width and len(rest) <= width and " " not in rest:
            return [head, rest]            # the common case, a time: textwrap is much slower
        return textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    out = []
    while len(text) > width:
        found = _LAST_BREAK.search(text, 0, width)
        cut = found.start() + 1 if found and found.start() + 1 > width // 2 else width
        out.append(text[:cut])
        text = text[cut:]
    return out + [text] if text else out


def fit_widths(headers, natural: list[int], limit: int | None) -> list[int]:
    """Column widths so that the table is at most ``limit`` wide: first fold the time columns
    that must go, then share what is left between Step Name and Workspace (widest first).
    A table that cannot fit keeps its narrowest widths and is wider than ``limit``."""
    widths = list(natural)
    budget = None if limit is None else limit - (3 * len(widths) + 1)
    if budget is None or sum(widths) <= budget:
        return widths
    text = [i for i, h in enumerate(headers) if h in TEXT_FLOORS]
    floor = {i: max(len(headers[i]), min(natural[i], TEXT_FLOORS[headers[i]])) for i in text}
    for i, head in enumerate(headers):
        if head in TIME_FLOORS and sum(widths) - sum(widths[t] - floor[t] for t in text) > budget:
            widths[i] = max(len(head), min(natural[i], TIME_FLOORS[head]))
    while sum(widths) > budget:
        wide = max((i for i in text if widths[i] > floor[i]), key=lambda i: widths[i], default=None)
        if wide is None:
            break
        widths[wide] -= 1
    return widths


def grid(headers, columns: list[list[str] | SharedColumn], limit: int | None = None, title: str | None = None) -> str:
    """A prettytable table of ``columns`` (one list of cells per header, or a SharedColumn of
    cells not yet made visible) with a title, at most ``limit`` characters wide where it can be."""
    if any(isinstance(c, SharedColumn) for c in columns):
        drawn = _shared_grid(headers, columns, limit, title)
        if drawn is not None:
            return drawn
        columns = materialised(columns)
    columns = [list(c) for c in columns] if columns else [[] for _ in headers]
    natural = _natural(headers, columns)
    widths = fit_widths(headers, natural, limit)
    plain = _plain(columns)
    folded = [i for i, w in enumerate(widths) if w < natural[i]]
    for i in folded:
        width, seen = widths[i], {}    # times repeat: fold each distinct one once
        for k, cell in enumerate(columns[i]):
            if len(cell) > width:
                done = seen.get(cell)
                if done is None:
                    done = seen[cell] = "\n".join(fold(cell, width))
                columns[i][k] = done
    title = _folded_title(title, widths)
    if len(columns[0]) > FAST_ROWS and plain:
        return _fast_grid(headers, columns, widths, title, folded)
    table = _prettytable(headers, widths, title, ruled=bool(folded))
    table.add_rows([list(r) for r in zip(*columns)])
    return table.get_string()


def _natural(headers, columns) -> list[int]:
    """Each column's width without folding: its header's or its widest cell's."""
    return [max(len(h), max(map(len, c), default=0)) for h, c in zip(headers, columns)]


def _folded_title(title: str | None, widths: list[int]) -> str | None:
    """A long title folded to the table's width: prettytable would widen every column to fit it."""
    return "\n".join(fold(title, sum(widths) + 3 * len(widths) - 3)) if title else title


def _prettytable(headers, widths, title, ruled: bool):
    """``ruled``: a rule under every row, or folded rows would run together."""
    from prettytable import HRuleStyle, PrettyTable

    table = PrettyTable(list(headers), hrules=HRuleStyle.ALL if ruled else HRuleStyle.FRAME)
    table.align = "l"
    table.min_width = dict(zip(headers, widths))
    table.max_width = dict(zip(headers, widths))
    if title:
        table.title = title
    return table


def _plain(columns) -> bool:
    """Printable ASCII: one character is one column, as str.ljust assumes; anything else goes
    through prettytable, which measures with wcwidth."""
    return all((text := "".join(c)).isascii() and text.isprintable() for c in columns)


def materialised(columns) -> list[list[str]]:
    """``columns`` with each SharedColumn a list of its cells, made visible."""
    return [visible_column(c.cells()) if isinstance(c, SharedColumn) else c for c in columns]


def _frame(headers, widths, title, ruled: bool):
    """prettytable's lines above the body, its rule between rows, its bottom rule, and the
    column widths it drew (wider than ``widths`` when the title needed it)."""
    frame = _prettytable(headers, widths, title, ruled=ruled)
    frame.add_row(["x" * w for w in widths])
    lines = frame.get_string().split("\n")
    head, rule, bottom = lines[:-2], lines[-3], lines[-1]
    return head, rule, bottom, [len(part) - 2 for part in bottom.split("+")[1:-1]]


def _shared_grid(headers, columns, limit, title) -> str | None:
    """``grid`` of a large table with SharedColumns, or None when it takes the general path
    (few rows, a column to fold, a cell not printable ASCII).  Each run of SharedColumns of one
    SharedCells is drawn once per distinct tuple, and a row is its own cells and those pieces."""
    shared = next(c.shared for c in columns if isinstance(c, SharedColumn))
    if len(shared.index) <= FAST_ROWS:
        return None
    cells = [c.distinct() if isinstance(c, SharedColumn) else c for c in columns]
    if not _plain(cells):
        return None
    natural = _natural(headers, cells)
    if fit_widths(headers, natural, limit) != natural:
        return None
    head, _, bottom, real = _frame(headers, natural, _folded_title(title, natural), ruled=False)
    fields, args = [], []
    # runs of columns of one SharedCells (None: the rows' own columns, each a field of its own)
    for owner, run in groupby(range(len(columns)), key=lambda k: getattr(columns[k], "shared", None)):
        run = list(run)
        if owner is None:
            fields += ["%%-%ds" % real[k] for k in run]
            args += [columns[k] for k in run]
            continue
        piece = " | ".join("%%-%ds" % real[k] for k in run).__mod__
        positions = [columns[k].position for k in run]
        pieces = [piece(tuple(row[p] for p in positions)) for row in owner.distinct]
        fields.append("%s")
        args.append(list(map(pieces.__getitem__, owner.index)))
    line = ("| " + " | ".join(fields) + " |").__mod__
    return "\n".join(head + list(map(line, zip(*args))) + [bottom])


def _fast_grid(headers, columns, widths, title, folded: list[int]) -> str:
    head, rule, bottom, real = _frame(headers, widths, title, ruled=bool(folded))
    line = ("| " + " | ".join("%%-%ds" % w for w in real) + " |").__mod__   # %: faster than format
    if not folded:
        return "\n".join(head + list(map(line, zip(*columns))) + [bottom])
    # Folded rows: draw the first line of every row, then the second of every row, ... (column
    # by column, with map: a loop over rows and their cells costs twice as much), then interleave.
    count = len(columns[0])
    parts = {i: [c.split("\n") for c in columns[i]] for i in folded}
    heights = [max(h) for h in zip(*([len(p) for p in parts[i]] for i in folded))]
    levels = []
    for y in range(max(heights)):
        cols = [[p[y] if y < len(p) else "" for p in parts[i]] if i in parts
                else (columns[i] if y == 0 else [""] * count) for i in range(len(columns))]
        levels.append(list(map(line, zip(*cols))))
    body = []
    add = body.append
    for k, height in enumerate(heights):
        for y in range(height):
            add(levels[y][k])
        add(rule)
    body[-1] = bottom
    return "\n".join(head + body)


def flat(title: str, columns: list[list[str] | SharedColumn], limit: int | None, headers=TABLE_COLUMNS) -> str:
    """Maestro's default layout: one table titled 'Study: <path>', every column but Params
    (``headers``: those columns, and any added after them)."""
    return grid(headers, columns, limit, f"Study: {title}")


def legacy(title: str, columns: list[list[str]], headers=TABLE_COLUMNS) -> str:
    """Maestro's legacy layout: tabulate's 'simple' table between '=' rules (numbers right)."""
    numeric = [bool(c) and all(v.isdigit() and v.isascii() for v in c) for c in columns]
    widths = [max(len(h) + 2, max(map(len, c), default=0)) for h, c in zip(headers, columns)]
    line = "  ".join("%%%s%ds" % ("" if n else "-", w) for n, w in zip(numeric, widths)).__mod__
    table = [line(headers), "  ".join("-" * w for w in widths)] + list(map(line, zip(*columns)))
    rule = "=" * len(table[1])
    return "\n".join([rule, title, rule] + table + [rule])


_DETAILS = ("State", "Job ID", "Run Time", "Elapsed Time")
_SCHEDULER = ("Submit Time", "Start Time", "End Time", "Number Restarts")
# lines under STEP and WORKSPACE, each for a step that has a value ('--': none) in its column
_OPTIONAL = tuple(zip(("ALLOCATION:", "NODE:", "REUSED FROM:"), (*BUNDLE_HEADERS, reused.HEADER)))


def narrow(title: str, columns: list[list[str]], params: list[dict], limit: int | None,
           headers=TABLE_COLUMNS) -> str:
    """Maestro's narrow layout: one block a step (docs/mreport.md shows one); ``params`` are
    the steps' parameters, in the order of the rows; ``headers`` name the ``columns`` (the
    table's, with any optional ones: Allocation, Node, Reused From)."""
    rule = "-" * min(limit or 100, 100)
    out = [f"STUDY: {title}".center(len(rule)).rstrip(), ""]
    room = max((limit or 0) - 15, 20) if limit else None
    index = {name: i for i, name in enumerate(headers)}
    optional = [(label, index[name]) for label, name in _OPTIONAL if name in index]
    for r, step_params in zip(zip(*columns), params):
        lines = [("STEP:", r[index["Step Name"]]), ("WORKSPACE:", r[index["Workspace"]])]
        lines += [(label, r[i]) for label, i in optional if r[i] != "--"]
        for label, value in lines:
            parts = fold(value, room) if room else [value]
            out.append(f"  {label:<13}{parts[0]}")
            out.extend(" " * 15 + p for p in parts[1:])
        left = max([19] + [len(r[index[k]]) + 2 for k in _DETAILS])
        out.append(" " * 25 + "Step Details" + " " * (left + 5) + "Scheduler Details")
        for d, s in zip(_DETAILS, _SCHEDULER):
            out.append(f"{'':17}{d:<15}{r[index[d]]:<{left}}{s:<18}{r[index[s]]}".rstrip())
        if step_params:
            out.append(" " * 24 + "Step Parameters")
            items = [(str(k), str(v)) for k, v in sorted(step_params.items())]
            pairs = [items[i:i + 2] for i in range(0, len(items), 2)]
            cols: list[list[str]] = [[], [], [], []]     # name, value, name, value
            for pair in pairs:
                for j, (name, value) in enumerate(pair):
                    cols[2 * j].append(name)
                    cols[2 * j + 1].append(value)
            width = [max(map(len, c), default=0) for c in cols]
            for pair in pairs:
                cells = []
                for j, (name, value) in enumerate(pair):
                    cells += [name.ljust(width[2 * j]), value.rjust(width[2 * j + 1])]
                out.append(" " * 17 + "   ".join(cells).rstrip())
        out.append(rule)
    return "\n".join(out)
