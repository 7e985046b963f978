"""Making the views of dag.json: the pass view, `<root>/meta/dag-view.json` (what a pass needs
of dag.json, and no more), the report view, `<root>/meta/report-view.json` (what mreport
shows of each step; ``make_report``) and the CSV view, `<root>/meta/csv-view.json` (the cells of
status.csv that only the DAG decides; ``make_csv``).

A pass needs each step's id, name, stem, workspace, parents, the flags that decide how it runs
(scheduled, restart, after_failed_parents), its Params cell for status.csv, and the batch block.
dag.json also holds every command, description and resource, and parsing all of it was a large
share of a monitoring pass on big studies (bench/README.md, "Figures behind the code").  The
first pass that reads dag.json writes this view beside it; later passes (and mreport's slim
reports) read it instead, as long as dag.json is the file it was made from (same size,
modification time and inode, and the DAG checksum the state records; only a rewrite in place of
the same size within one clock tick would slip by, which no tool of ours does): the reading is
``mshared.dagview``.  All are derived data: deleting one only costs the next pass a full read of
dag.json (and a report, until then, the same).
"""

import os

from mshared.dagview import (CSV_FILE, CSV_SCHEMA, CSV_VERSION, FILE, REPORT_FILE, REPORT_SCHEMA,  # noqa: F401
                             REPORT_VERSION, SCHEMA, VERSION, load, load_csv, signature)
from mshared.printable import csv_column
from mshared.jsonio import dumps, write_atomic
from mshared.statusrows import params_text

from .graph import NEEDS   # of a scheduled step: what decides whether it fits a bundle

_FLAGS = ("after_failed_parents", "restart", "scheduled")


def make(dag: dict, dag_sha256: str, dag_info: os.stat_result) -> dict:
    steps = []
    for step in dag["steps"]:
        slim = {"id": step["id"], "step": step["step"], "stem": step["stem"], "workspace": step["workspace"],
                "depends": step["depends"], "params_text": params_text(step)}
        slim.update((flag, True) for flag in _FLAGS if step.get(flag))
        if step.get("scheduled"):
            resources = step.get("resources") or {}
            slim["resources"] = {key: resources[key] for key in NEEDS if key in resources}
        steps.append(slim)
    study = {"batch": dag["study"].get("batch")}
    if dag["study"].get("bundle"):
        study["bundle"] = dag["study"]["bundle"]
    return {"schema": SCHEMA, "version": VERSION, "dag_sha256": dag_sha256, "dag_file": signature(dag_info),
            "study": study, "steps": steps}


def make_report(dag: dict, dag_sha256: str, dag_info: os.stat_result) -> dict:
    """The report view: each step as a JSON step record shows the DAG's side of it (id, name,
    workspace, parameters, round), and the study's extend block (its result file)."""
    steps = [{"id": step["id"], "step": step["step"], "workspace": step["workspace"], "params": step["params"],
              "round": step.get("round", 1)} for step in dag["steps"]]
    study = {"extend": dag["study"]["extend"]} if dag["study"].get("extend") else {}
    return {"schema": REPORT_SCHEMA, "version": REPORT_VERSION, "dag_sha256": dag_sha256,
            "dag_file": signature(dag_info), "study": study, "steps": steps}


def make_csv(dag: dict, dag_sha256: str, dag_info: os.stat_result) -> dict:
    """The CSV view: the step ids in order, their Workspace and Params cells as status.csv has them."""
    steps = dag["steps"]
    return {"schema": CSV_SCHEMA, "version": CSV_VERSION, "dag_sha256": dag_sha256, "dag_file": signature(dag_info),
            "ids": [step["id"] for step in steps], "workspaces": csv_column([step["workspace"] for step in steps]),
            "params": csv_column([params_text(step) for step in steps])}


def others_there(root: str) -> bool:
    """Whether the report and CSV views are there beside the pass view (made with it)."""
    return os.path.exists(os.path.join(root, REPORT_FILE)) and os.path.exists(os.path.join(root, CSV_FILE))


def save(root: str, view: dict, name: str = FILE) -> None:
    """Write a view (``name``: FILE, REPORT_FILE or CSV_FILE) for the next readers; a study directory that
    takes no new file is no error."""
    try:
        os.makedirs(os.path.join(root, "meta"), exist_ok=True)
        write_atomic(os.path.join(root, name), dumps(view), durable=False)
    except OSError:
        pass
