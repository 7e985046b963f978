"""mreport's core: what a report says about a study, and the reports of study directories.

``report_studies`` is the whole of the mreport command but its output: study directories in,
their reports in any of ``OUTPUT_FORMATS`` out, one study after the other.  The rest is pure
(plain data in and out, ``now`` is given): a report has three views, the steps (the default), the
summary only, or counts grouped by parameter values.  Filters (--state, --step) choose the steps
listed, grouped and checked; the summary always counts the whole study and says how many steps
were chosen.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from operator import itemgetter, methodcaller
from typing import Iterator

from mshared import states as S
from mshared.contracts import REPORT_SCHEMA, REPORT_VERSION
from mshared.states import study_status
from mshared.errors import EXIT_USAGE, MError
from mshared.printable import visible
from mshared.times import iso_utc
from mshared.statefile import initial_step
from mshared.statusrows import Times, format_duration

from . import reused

# Every output format (mreport --format, maestro status --format); mreport.formats.render draws them.
OUTPUT_FORMATS = ("table", "json", "ndjson", "csv", "md", "dot")
LAYOUTS = ("flat", "narrow", "legacy")
# which views each format can show; the CLI turns anything else into a usage error
VIEWS = {"table": {"steps", "summary", "groups"}, "md": {"steps", "summary", "groups"},
         "json": {"steps", "summary", "groups"}, "ndjson": {"steps", "summary", "groups"},
         "csv": {"steps", "groups"}, "dot": {"steps"}}
# formats that put a blank line between the reports of two studies
SEPARATED = ("table", "md")

# Bundles (many steps in one batch job, one worker a node): a bundled step's state entry names the
# allocation (``alloc``, the scheduler's id of that batch job) and the ``node`` it ran on.  Tables
# get these columns after Job ID, and the CSV at its end, only for a study with a bundled step;
# JSON step records get the fields where they are known.
BUNDLE_FIELDS = ("alloc", "node")
BUNDLE_HEADERS = ("Allocation", "Node")
NO_VALUE = "--"

# mreport --check: the exit code of one study, and of several (the first that applies wins)
CHECK_FINISHED, CHECK_ACTIVE, CHECK_FAILED = 0, 3, 4
WHY_STATES = S.FAILURES   # FAILED, TIMEDOUT, CANCELLED


class BadOption(MError):
    """An option that does not fit the study (e.g. --group-by a parameter no step uses)."""

    exit_code = EXIT_USAGE


@dataclass
class StudyFiles:
    """What a report reads of a study directory (mreport.load.read_study)."""

    root: str                 # absolute
    state: dict
    dag: dict | None = None   # read only when the report needs it; the pass view when enough
    unmonitored: str | None = None   # why no conductor runs ("no conductor.pid"); None: one runs


@dataclass
class Report:
    study: StudyFiles
    now: datetime
    ids: list[str]                          # the chosen steps, in DAG order when there is a DAG
    summary: dict
    check: int
    group_by: list[str] = field(default_factory=list)
    groups: list[dict] | None = None
    results: dict | None = None             # id -> {"result", "result_error"} (--result)


@dataclass
class StudyOutput:
    """One study's part of ``report_studies``: its report, or the error that stopped it."""

    path: str                      # as given
    output: bytes                  # the report in the chosen format (b"" after an error)
    check: int | None              # its --check code (None after an error)
    error: MError | None = None


def report_studies(paths, *, now: datetime, fmt: str = "table", view: str = "steps", layout: str = "flat",
                   width: int | None = None, states=(), steps=(), group_by=(),
                   why_lines: int | None = None, keep_going: bool = False,
                   result: str | None = None) -> Iterator[StudyOutput]:
    """The report of each study directory in ``paths``, in order, in the output format ``fmt``
    (one of OUTPUT_FORMATS) and ``view`` ("steps", "summary" or "groups"; see VIEWS).

    ``layout`` (LAYOUTS) and ``width`` (None: no limit) shape tables; ``states``, ``steps`` and
    ``group_by`` are mreport's filters; ``why_lines`` (N) adds the --why details with the last N
    lines of stderr.  ``result`` names a file in each workspace whose content the json and ndjson
    step records show (``result``, ``result_error``; at most RESULT_BYTES); without it the spec's
    extend.result, if any.  In the table and md formats a blank line leads every report but the first.
    Studies are read without the lock and never changed.  An MError (InvalidInput, 65: not a
    study, a newer version; BadOption, 2) is raised, or with ``keep_going`` yielded as the
    study's ``error`` and the next study is reported.  CLI twins: `mreport`, `maestro status`.
    """
    from . import load
    from .formats import render

    first = True
    for path in paths:
        try:
            try:
                study = load.read_study(path, with_dag=needs_dag(view, steps, fmt),
                                        source=dag_source(fmt, view, layout, group_by, why_lines is not None))
                report = build(study, now, states=states, steps=steps, group_by=group_by)
                tails = None if why_lines is None else load.stderr_tails(study, why_ids(report), why_lines)
                name = result_file(study, result) if fmt in ("json", "ndjson") and view == "steps" else None
                if name:
                    report.results = load.read_results(study, report.ids, name)
                output = render(report, fmt, view, layout=layout, width=width, tails=tails)
            except (TypeError, ValueError, KeyError, AttributeError) as err:
                raise load.unexpected_shape(path, err) from err
        except MError as err:
            if not keep_going:
                raise
            yield StudyOutput(path, b"", None, err)
            continue
        if not first and fmt in SEPARATED:
            output = b"\n" + output
        first = False
        yield StudyOutput(path, output, report.check)


def result_file(study: StudyFiles, given: str | None) -> str | None:
    """The result file a JSON step list shows: --result, else the spec's extend.result."""
    if given:
        return given
    return ((study.dag or {}).get("study", {}).get("extend") or {}).get("result")


def overall_check(codes) -> int:
    """--check over several studies: active if one is, else failed if one is, else finished."""
    codes = set(codes)
    return CHECK_ACTIVE if CHECK_ACTIVE in codes else CHECK_FAILED if CHECK_FAILED in codes else CHECK_FINISHED


def needs_dag(view: str, steps: tuple, fmt: str) -> bool:
    """The summary needs only state.json, and reading dag.json is much of a report's time."""
    return view != "summary" or bool(steps) or fmt == "dot"


# How much of the DAG a report reads (load.read_study): the report view, the pass view, dag.json.
DAG_SOURCES = ("report", "pass", "dag")


def dag_source(fmt: str, view: str, layout: str, group_by, why: bool) -> str:
    """The least a report can read of the DAG (DAG_SOURCES): dag.json for --group-by (the
    study's parameter list) and dot (parents, the study's name); the pass view for the CSV
    (its Params cells) and --why (stems); else the report view (ids, names, workspaces,
    parameters, rounds: every table layout and the JSON step records), unless the report
    needs parameters too, when only dag.json has both."""
    if group_by or fmt == "dot":
        return "dag"
    params = (fmt in ("json", "ndjson") and view == "steps") or (fmt in ("table", "md") and layout == "narrow")
    if fmt == "csv" or why:
        return "dag" if params else "pass"
    return "report"


def build(study: StudyFiles, now: datetime, *, states=(), steps=(), group_by=()) -> Report:
    ids = select(study, states, steps)
    entries = study.state["steps"]
    summary = summarise(study.state, len(ids), now)
    chosen = summary["counts"] if len(ids) == summary["total"] else (entries[i]["state"] for i in ids)
    report = Report(study, now, ids, summary, check_code(chosen), list(group_by))
    if group_by:
        report.groups = group_counts(study, ids, list(group_by))
    return report


def select(study: StudyFiles, states=(), steps=()) -> list[str]:
    """Ids of the steps in any of ``states`` (all when empty) whose spec step name or id matches
    one of ``steps`` (exact, or a shell pattern such as 'sim*')."""
    entries = study.state["steps"]
    if study.dag is not None:
        ids = [s["id"] for s in study.dag["steps"]]
    else:
        ids = list(entries)
    if states:
        wanted = {s.upper() for s in states}
        ids = [i for i in ids if entries[i]["state"] in wanted]
    if steps:
        index = {s["id"]: s for s in study.dag["steps"]}
        ids = [i for i in ids if _matches(index[i], steps)]
    return ids


def _matches(step: dict, patterns) -> bool:
    for pattern in patterns:
        if pattern in (step["step"], step["id"]):
            return True
        if any(c in pattern for c in "*?[") and (fnmatchcase(step["step"], pattern)
                                                 or fnmatchcase(step["id"], pattern)):
            return True
    return False


def ordered_counts(values) -> dict[str, int]:
    """State -> count in Maestro's State order (then any other name, sorted); no zeros."""
    counts = Counter(values)
    known = [s for s in S.ALL if counts.get(s)]
    return {s: counts[s] for s in known + sorted(set(counts) - set(S.ALL))}


_ID, _STATE, _ENDED = itemgetter("id"), itemgetter("state"), methodcaller("get", "ended")


def summarise(state: dict, selected: int, now: datetime) -> dict:
    """The whole study at a glance: status, counts per state, and elapsed time since the study
    was created, up to now while it is active, else up to the last step's end."""
    entries = state["steps"].values()
    counts = ordered_counts(map(_STATE, entries))
    status = study_status(state, counts)
    created = state["study"].get("created")
    # map: no bytecode per step; the set: most steps end in a second some other step ended in
    last_end = max(filter(None, set(map(_ENDED, entries))), default=None)
    until = None if status == "RUNNING" else (last_end or state.get("updated"))
    summary = {
        "status": status,
        "total": len(state["steps"]),
        "counts": counts,
        "selected": selected,
        "created": created,
        "last_end": last_end,
        "elapsed_seconds": Times(now).seconds(created, until),
    }
    brought = reused.count(entries)
    if brought:      # steps a --reuse run brought over (FINISHED): only when there are some
        summary["reused"] = brought
    return summary


def check_code(step_states) -> int:
    """--check: 3 while any chosen step can still change, else 4 if one ended FAILED, TIMEDOUT
    or CANCELLED, else 0 (all FINISHED, or DRYRUN)."""
    seen = set(step_states)
    if seen - S.TERMINAL:
        return CHECK_ACTIVE
    return CHECK_FAILED if seen & S.FAILURES else CHECK_FINISHED


def group_counts(study: StudyFiles, ids: list[str], params: list[str]) -> list[dict]:
    """Counts per state for each combination of values of ``params`` (None: the step does not
    use that parameter), in the order the values first appear."""
    index = {s["id"]: s for s in study.dag["steps"]}
    if ids and not any(p in index[i]["params"] for i in ids for p in params):
        known = (study.dag["study"].get("parameters") or {}).get("order") or []
        missing = ", ".join(params)
        raise BadOption(f"--group-by {missing}: no chosen step uses this parameter; the study's "
                        f"parameters are: {', '.join(known) or 'none'}")
    entries = study.state["steps"]
    groups: dict[tuple, list[str]] = {}
    for i in ids:
        values = index[i]["params"]
        key = tuple(_hashable(values.get(p)) for p in params)
        groups.setdefault(key, []).append(entries[i]["state"])
    out = []
    for key, found in groups.items():
        out.append({"values": dict(zip(params, key)), "total": len(found), "counts": ordered_counts(found)})
    return out


def _hashable(value):
    return value if not isinstance(value, (list, dict)) else repr(value)


def step_records(steps: list[dict], entries: dict, times: Times) -> list[dict]:
    """The steps as the JSON report shows them: DAG facts, state entry, durations in seconds."""
    got = [entries[s["id"]] for s in steps]
    started = [e.get("started") for e in got]
    submitted = [e.get("submitted") for e in got]
    finish = times.finish([e.get("ended") for e in got])
    return list(map(_record, steps, got, times.spans(started, finish), times.spans(submitted, finish)))


# A state entry as the tools write it (statefile.initial_step), and with where a bundled step ran
_ENTRY_KEYS = frozenset(initial_step())
_BUNDLED_KEYS = _ENTRY_KEYS | set(BUNDLE_FIELDS)
_ENTRY_ONLY = ("intent", "not_before")        # the state's own: not in a record
_RECORD_STEP_KEYS = frozenset(("id", "step", "workspace", "params", "round"))   # a report view's step


def _record(s: dict, e: dict, run: int | None, wait: int | None) -> dict:
    """One step record.  A step of the report view with an entry as the tools write it is
    merged as it stands (the record is the two less the state's own fields: the inner loop of a
    large JSON report, ~1.6x faster); anything else is picked field by field.  Both give the
    same record (tests/unit/test_report_records.py)."""
    keys = e.keys()
    if (s.keys() == _RECORD_STEP_KEYS and (keys == _ENTRY_KEYS or keys == _BUNDLED_KEYS and e["alloc"] and e["node"])
            and type(e["jobs"]) is list):
        record = {**e, **s, "run_seconds": run, "elapsed_seconds": wait}
        del record["intent"], record["not_before"]
        return record
    return _record_by_field(s, e, run, wait)


def _record_by_field(s: dict, e: dict, run: int | None, wait: int | None) -> dict:
    record = {
        "id": s["id"], "step": s["step"], "state": e["state"], "job_id": e.get("job_id"),
        "jobs": e.get("jobs") or [], "workspace": s["workspace"], "params": s["params"],
        "exit_code": e.get("exit_code"), "submitted": e.get("submitted"), "started": e.get("started"),
        "ended": e.get("ended"), "run_seconds": run, "elapsed_seconds": wait, "restarts": e.get("restarts", 0),
        "attempts": e.get("attempts", 0), "reason": e.get("reason"), "round": s.get("round", 1),
    }
    if "alloc" in e or "node" in e:      # a bundled step: where it ran, as far as known
        record.update((k, e[k]) for k in BUNDLE_FIELDS if e.get(k))
    return record


def bundled(state: dict) -> bool:
    """Whether a step of the study went in a bundle (its entry has an ``alloc``): then tables
    and the CSV show the Allocation and Node columns, for every chosen step."""
    return any(e.get("alloc") for e in state["steps"].values())


def bundle_columns(steps: list[dict], entries: dict) -> list[list[str]]:
    """The Allocation and Node cells of ``steps`` ('--' where not known)."""
    got = list(map(entries.__getitem__, map(_ID, steps)))
    return [[value or NO_VALUE for value in map(methodcaller("get", key), got)] for key in BUNDLE_FIELDS]


def why_ids(report: Report) -> list[str]:
    """The chosen steps that ended FAILED, TIMEDOUT or CANCELLED (--why tells why)."""
    entries = report.study.state["steps"]
    return [i for i in report.ids if entries[i]["state"] in WHY_STATES]


def chosen_steps(report: Report) -> list[dict]:
    """The DAG steps of the report's chosen ids, in order."""
    if len(report.ids) == len(report.study.dag["steps"]):
        return report.study.dag["steps"]     # nothing filtered out (ids come from the DAG)
    index = {s["id"]: s for s in report.study.dag["steps"]}
    return [index[i] for i in report.ids]


def why_record(entry: dict, tail: dict | None) -> dict:
    """Why a step ended badly: exit code, the state's reason, the end of its stderr file."""
    tail = tail or {}
    return {"exit_code": entry.get("exit_code"), "reason": entry.get("reason"),
            "stderr": tail.get("path"), "tail": tail.get("lines", [])}


def study_info(study: StudyFiles) -> dict:
    info = study.state["study"]
    out = {"name": info.get("name"), "root": study.root, "scheduler": info.get("scheduler"),
           "created": info.get("created"), "updated": study.state.get("updated")}
    extension = extension_info(study)
    if extension is not None:
        out["extension"] = extension
    return out


def extension_info(study: StudyFiles) -> dict | None:
    """How the study grew (state.extension, mshared.extension), for a study that did or can."""
    record = study.state.get("extension")
    if record is None:
        return None
    return {"round": record.get("round", 1), "max_rounds": record.get("max_rounds"),
            "done": bool(record.get("done")), "rounds": record.get("rounds", []),
            "requests": record.get("requests", {})}


def report_doc(report: Report, steps: list[dict] | None) -> dict:
    """The maestro.report document (docs/mreport.md); ``steps`` None leaves them out."""
    doc = {"schema": REPORT_SCHEMA, "version": REPORT_VERSION, "generated": iso_utc(report.now),
           "study": study_info(report.study), "summary": report.summary}
    if report.groups is not None:
        doc["group_by"] = report.group_by
        doc["groups"] = report.groups
    if steps is not None:
        doc["steps"] = steps
    return doc


def conductor_line(report: Report) -> str | None:
    """For a study still RUNNING that no conductor monitors: one line saying so and how to resume
    (the table and md layouts show it under the summary)."""
    why = report.study.unmonitored
    if report.summary["status"] != "RUNNING" or why is None:
        return None
    return visible(f"No conductor is running ({why}): unless mmonitor runs it from cron or with --loop, "
                   f"nothing monitors this study; resume with: maestro conductor {report.study.root}")


def summary_line(report: Report) -> str:
    """'name (root): STATUS, elapsed D:HH:MM:SS; N steps: n STATE, ...[; k chosen]'."""
    s = report.summary
    counts = ", ".join(f"{n:,} {state}" for state, n in s["counts"].items())
    line = (f"{report.study.state['study'].get('name')} ({report.study.root}): {s['status']}, "
            f"elapsed {format_duration(s['elapsed_seconds'])}; {s['total']:,} steps: {counts}")
    if s.get("reused"):
        line += f" ({s['reused']:,} reused)"
    if s["selected"] != s["total"]:
        line += f"; {s['selected']:,} chosen"
    return visible(line)
