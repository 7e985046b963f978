"""Text from a study shown to people: terminals and spreadsheets must not take it as commands.

Ids, step names, parameter values, paths, reasons and a job's stderr are user data.  A raw ESC or
CSI (C0 and C1 controls) in them would drive the terminal that shows a report (colours, titles,
cursor moves), and a CSV cell starting with `=`, `+`, `-`, `@`, tab or CR is a formula to a
spreadsheet (CSV injection).  ``visible`` escapes controls the way Python writes them (`\\x1b`,
`\\n`); ``csv_cell`` also neutralises a formula as OWASP recommends, with a leading `'`.
"""

import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional
# overrides and isolates (they reorder what a terminal shows)
CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# a line (one cell of a column joined with line breaks) that ``csv_cell`` would change
_FORMULA_LINE = re.compile(r"^(?:[=+@\t\r]|-(?!-$|-:--:--$|[0-9]+(?:\.[0-9]+)?$))", re.M)
# the tools' own cells that start with '-': "no time" and "no duration" in Maestro's columns
_PLACEHOLDERS = frozenset(("--", "--:--:--"))


def visible(text: str) -> str:
    """``text`` with every control character escaped (`\\x1b`, `\\n`, `\\t`, `\\u202e`)."""
    if text.isprintable():
        return text
    return CONTROL_TEXT.sub(_escape, text)


def visible_column(cells: list[str]) -> list[str]:
    """``visible`` over a column, checked once as a whole: a large report is all plain text."""
    if "".join(cells).isprintable():
        return cells
    return [visible(cell) for cell in cells]


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: controls escaped, and a leading `=`, `+`, `-`, `@`
    (or what was a tab or CR) neutralised with a `'`.  Numbers and the tools' placeholders
    (`--`, `--:--:--`) are left as they are."""
    if not text.isprintable():
        text = visible(text)
    if text and text[0] in _FORMULA_START and text not in _PLACEHOLDERS and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_column(cells: list[str]) -> list[str]:
    """``csv_cell`` over a column, checked once as a whole (a cell may hold a line break, which
    only sends the column the slow way)."""
    if "".join(cells).isprintable() and not _FORMULA_LINE.search("\n".join(cells)):
        return cells
    return [csv_cell(cell) for cell in cells]


def _escape(match) -> str:
    return repr(match.group())[1:-1]
