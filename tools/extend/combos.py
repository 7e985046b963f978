"""Parameter combinations as mextend reads them: JSON lines (one object a line) or CSV with a
header, each combination with the line it came from (for messages)."""

import csv
import io
import re

import orjson

from mshared.errors import InvalidInput

MAX_BYTES = 64 * 1024 * 1024        # an input larger than this is refused unread past the limit
MAX_COMBINATIONS = 1_000_000        # as many as a spec may make (mexpand's cap)
FORMATS = ("auto", "jsonl", "csv")
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


def read_limited(handle, source: str) -> bytes:
    data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{source}: larger than {MAX_BYTES} bytes, the limit of one extension; "
                           "split it into several")
    return data


def parse(data: bytes, source: str, fmt: str = "auto") -> list[tuple[int, object]]:
    """[(line number, combination)] of ``data``; a combination is what the line holds (mexpand
    checks its parameters and values).  ``fmt`` is jsonl, csv, or auto: CSV when ``source`` ends
    in .csv or the first line that is not blank has a comma and does not start with '{', else
    JSON lines."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{source}: not UTF-8 text (byte {err.start}); write the combinations as UTF-8") from None
    if fmt == "auto":
        first = next((line.strip() for line in text.split("\n") if line.strip()), "")
        fmt = "csv" if source.endswith(".csv") or ("," in first and not first.startswith("{")) else "jsonl"
    rows = _json_lines(text, source) if fmt == "jsonl" else _csv_rows(text, source)
    if len(rows) > MAX_COMBINATIONS:
        raise InvalidInput(f"{source}: more than {MAX_COMBINATIONS} combinations in one extension; split them")
    return rows


def _json_lines(text: str, source: str) -> list[tuple[int, object]]:
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rows.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as err:
            raise InvalidInput(f"{source}:{number}: not JSON ({err.msg}); write one JSON object a line, "
                               'such as {"X": 1, "Y": "a"}') from None
    return rows


def _csv_rows(text: str, source: str) -> list[tuple[int, object]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    rows = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                if len(set(header)) != len(header) or not all(header):
                    raise InvalidInput(f"{source}:{reader.line_num}: the CSV header must name each "
                                       "parameter once")
                continue
            if len(record) != len(header):
                raise InvalidInput(f"{source}:{reader.line_num}: {len(record)} values for {len(header)} "
                                   "columns; give one value per column of the header")
            rows.append((reader.line_num, {key: _cell(cell) for key, cell in zip(header, record)}))
    except csv.Error as err:
        raise InvalidInput(f"{source}:{reader.line_num}: not CSV ({err}); give a header line of parameter "
                           "names, then one line of values per combination") from None
    return rows


def _cell(cell: str):
    """A CSV value: a number where it reads as one (as YAML reads `values: [1, 2.5]`), else text."""
    if _INT.fullmatch(cell):
        return int(cell)
    if _FLOAT.fullmatch(cell):
        value = float(cell)
        return value
    return cell
