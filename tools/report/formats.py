"""A report as bytes in each output format (mreport.core.OUTPUT_FORMATS; docs/mreport.md)."""

import csv
import io
import re

from mshared import jsonio
from mshared.dot import dag_to_dot
from mshared.printable import csv_cell, csv_column, visible, visible_column
from mshared.statusrows import TABLE_COLUMNS, Times, status_csv

from . import core, layouts, reused


def render(report: core.Report, fmt: str, view: str, *, layout: str = "flat", width: int | None = None,
           tails: dict | None = None) -> bytes:
    """``tails`` (step id -> stderr tail, from load.stderr_tails) asks for the --why details."""
    if fmt in ("json", "ndjson"):
        return _json(report, view, tails, lines=fmt == "ndjson")
    if fmt == "dot":
        return _dot(report)
    if fmt == "csv":
        if view == "groups":
            return _groups_csv(report)
        steps, entries = core.chosen_steps(report), report.study.state["steps"]
        text = status_csv(steps, entries, report.now)
        if core.bundled(report.study.state):    # status.csv's columns stay Maestro's: these go after
            text = _add_csv_columns(text, core.BUNDLE_HEADERS, core.bundle_columns(steps, entries))
        extra = reused.column(steps, entries) if report.summary.get("reused") else None
        return (text if extra is None else reused.add_csv_column(text, extra)).encode("utf-8")
    md = fmt == "md"
    title = f"Study: {visible(report.study.root)}"
    parts = [f"## {title}", "", core.summary_line(report)] if md else [core.summary_line(report)]
    unmonitored = core.conductor_line(report)
    if unmonitored:
        parts.append(unmonitored)
    if view == "groups":
        parts += ["", _groups_table(report, md, width)]
    elif view == "steps":
        parts += ["", _steps_table(report, md, layout, width)]
        if tails is not None:
            parts += ["", _why_text(report, tails, md)]
    return ("\n".join(parts) + "\n").encode("utf-8")


def _add_csv_columns(text: str, headers, columns: list[list[str]]) -> str:
    """CSV ``text`` (header + one row per step, in order) with ``columns`` appended."""
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0] + list(headers))
    writer.writerows(row + list(cells) for row, cells in zip(rows[1:], zip(*map(csv_column, columns))))
    return out.getvalue()


# ------------------------------------------------------------------ JSON
# Step records are made and serialised this many at a time: a large study's records, all at
# once, are most of a JSON report's memory, and the kernel's time to hand it out most of its
# system time (bench/README.md).
RECORDS_AT_ONCE = 2000


def _json(report, view, tails, lines: bool) -> bytes:
    root = report.study.root
    if lines and view == "summary":
        name = report.study.state["study"].get("name")
        return _json_visible(jsonio.dumps({"study": root, "name": name, **report.summary}))
    if lines:
        chunks = [report.groups] if view == "groups" else _record_chunks(report, tails)
        return _json_visible(b"".join(jsonio.dumps({"study": root, **r}) for chunk in chunks for r in chunk))
    if view != "steps":
        return _json_visible(jsonio.dumps(core.report_doc(report, None)))
    return _json_visible(jsonio.dumps_spliced(core.report_doc(report, []), "steps",
                                              map(jsonio.dumps_list_items, _record_chunks(report, tails))))


def _record_chunks(report, tails):
    """The JSON step records of the report's chosen steps, RECORDS_AT_ONCE at a time."""
    times = Times(report.now)
    entries = report.study.state["steps"]
    steps = core.chosen_steps(report)
    for at in range(0, len(steps), RECORDS_AT_ONCE):
        records = core.step_records(steps[at:at + RECORDS_AT_ONCE], entries, times)
        if report.summary.get("reused"):
            reused.annotate(records, entries)
        if report.results is not None:
            for record in records:
                record.update(report.results[record["id"]])
        if tails is not None:
            for record in records:
                if record["state"] in core.WHY_STATES:
                    record["why"] = core.why_record(entries[record["id"]], tails.get(record["id"]))
        yield records


_RAW_IN_JSON = re.compile(rb"\x7f|\xc2[\x80-\x9f]")   # DEL and C1 (U+0080-U+009F) in UTF-8


def _json_visible(data: bytes) -> bytes:
    """JSON escapes C0 controls but may leave DEL and C1 (CSI is U+009B) raw: write them as
    \\u escapes, the same document for a parser, inert on a terminal."""
    if b"\x7f" not in data and b"\xc2" not in data:
        return data
    return _RAW_IN_JSON.sub(lambda m: b"\\u%04x" % ord(m.group().decode("utf-8")), data)


# ------------------------------------------------------------------ tables
def _steps_table(report, md: bool, layout: str, width) -> str:
    times = Times(report.now)
    entries = report.study.state["steps"]
    steps = core.chosen_steps(report)
    bundled = core.bundled(report.study.state)
    ids, jobs, workspaces, shared = times.shared_rows(steps, entries, extra=core.BUNDLE_FIELDS if bundled else ())
    # the shared cells are made visible by the layout (the flat one checks each distinct cell once)
    columns = [visible_column(ids), visible_column(jobs), visible_column(workspaces), *shared.columns()]
    root = visible(report.study.root)
    headers = TABLE_COLUMNS
    if bundled:                  # where bundled steps ran: two columns after Job ID
        at = TABLE_COLUMNS.index("Job ID") + 1
        headers = (*TABLE_COLUMNS[:at], *core.BUNDLE_HEADERS, *TABLE_COLUMNS[at:])
        columns[at:at] = columns[-2:]
        del columns[-2:]
    # steps brought over by --reuse: one more column, only then (the summary counted them)
    extra = reused.column(steps, entries) if report.summary.get("reused") else None
    if extra is not None:
        headers, columns = (*headers, reused.HEADER), columns + [visible_column(extra)]
    if layout == "flat" and not md:
        return layouts.flat(root, columns, width, headers)
    columns = layouts.materialised(columns)
    if md:
        return _markdown(headers, zip(*columns))
    if layout == "legacy":
        return layouts.legacy(root, columns, headers)
    if layout == "narrow":
        return layouts.narrow(root, columns, [_visible_params(s["params"]) for s in steps], width, headers)
    return layouts.flat(root, columns, width, headers)


def _group_rows(report):
    states = list(core.ordered_counts({s for g in report.groups for s in g["counts"]}))
    headers = list(report.group_by) + ["Steps"] + list(states)
    rows = [[("--" if v is None else visible(str(v))) for v in g["values"].values()] + [str(g["total"])]
            + [str(g["counts"].get(s, 0)) for s in states] for g in report.groups]
    return [visible(h) for h in headers], rows


def _groups_table(report, md: bool, width) -> str:
    headers, rows = _group_rows(report)
    if md:
        return _markdown(headers, rows)
    title = f"Steps by {', '.join(report.group_by)}"     # the summary line above names the study
    return layouts.grid(headers, [list(c) for c in zip(*rows)], width, title)


def _groups_csv(report) -> bytes:
    headers, rows = _group_rows(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in headers])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return out.getvalue().encode("utf-8")


def _visible_params(params: dict) -> dict:
    return {visible(str(k)): visible(str(v)) for k, v in params.items()}


def _markdown(headers, rows) -> str:
    def line(cells):
        return "| " + " | ".join(visible(c).replace("\\", "\\\\").replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), "|" + "---|" * len(headers)] + [line(r) for r in rows])


def _why_text(report, tails: dict, md: bool) -> str:
    entries = report.study.state["steps"]
    bad = core.why_ids(report)
    head = "### Why" if md else "Why:"
    if not bad:
        return f"{head}\n\nNo chosen step ended FAILED, TIMEDOUT or CANCELLED." if md else \
            "Why: no chosen step ended FAILED, TIMEDOUT or CANCELLED."
    out = [head, ""] if md else [head]
    for sid in bad:
        entry, tail = entries[sid], tails.get(sid) or {}
        what = entry["state"]
        if entry.get("exit_code") is not None:
            what += f", exit code {entry['exit_code']}"
        if entry.get("job_id"):
            what += f", job {entry['job_id']}"
        if entry.get("alloc"):      # a bundled step: where it ran
            what += f", allocation {entry['alloc']}" + (f" on node {entry['node']}" if entry.get("node") else "")
        if entry.get("reason") and entry["reason"] != f"exit code {entry.get('exit_code')}":
            what += f": {entry['reason']}"
        shown, what = visible(sid), visible(what)
        out.append(f"- `{shown}`: {what}" if md else f"  {shown}: {what}")
        if tail.get("path"):
            lines = tail.get("lines") or []     # made visible by load.tail
            note = f"last {len(lines)} lines" if lines else "empty"
            if md:
                out += [f"  stderr `{visible(tail['path'])}` ({note}):"]
                if lines:
                    out += ["", "  ```"] + [f"  {line}" for line in lines] + ["  ```", ""]
            else:
                out.append(f"    stderr {visible(tail['path'])} ({note})" + (":" if lines else ""))
                out += [f"      {line}" for line in lines]
    return "\n".join(out).rstrip("\n")


# ------------------------------------------------------------------ Graphviz
def _dot(report) -> bytes:
    dag, entries = report.study.dag, report.study.state["steps"]
    if len(report.ids) != len(dag["steps"]):   # filtered: the chosen steps and the edges among them
        keep = set(report.ids)
        steps = [{**s, "depends": [p for p in s["depends"] if p in keep]}
                 for s in dag["steps"] if s["id"] in keep]
        dag = {"study": dag["study"], "steps": steps}
    return dag_to_dot(dag, {s["id"]: entries[s["id"]]["state"] for s in dag["steps"]})
