"""Reading the views of dag.json the passes leave in `<root>/meta` (made by mruntime.engine.view).

- The pass view, `meta/dag-view.json`: what a pass needs of dag.json and no more: each step's
  id, name, stem, workspace, parents, flags, its Params cell, and the batch and bundle blocks.
  mreport's CSV and its tables with --why read it too.
- The report view, `meta/report-view.json`: what a report shows of a step: each step's id,
  name, workspace, parameters and round, and the study's extend block.  mreport's tables (every
  layout) and its JSON step lists read it: a fifth of dag.json on a large study, and its steps
  are the DAG's share of a JSON step record as they stand.

- The CSV view, `meta/csv-view.json`: the step ids in order, and each step's Workspace and
  Params cells of status.csv as written there (made safe for spreadsheets already): a pass
  rewriting status.csv, and mreport's CSV, read it instead of formatting them again.

A view is used only while dag.json is the file it was made from (same size, modification time
and inode, and the DAG checksum the state records); it is derived data, and anything but a sound
view is None here (the reader then takes dag.json).
"""

import os

from .contracts import MAX_DAG_BYTES
from .errors import InvalidInput
from .jsonio import loads
from .reading import read_regular

FILE = os.path.join("meta", "dag-view.json")
SCHEMA, VERSION = "maestro.dag-view", 2
REPORT_FILE = os.path.join("meta", "report-view.json")
REPORT_SCHEMA, REPORT_VERSION = "maestro.report-view", 1
CSV_FILE = os.path.join("meta", "csv-view.json")
CSV_SCHEMA, CSV_VERSION = "maestro.csv-view", 1


def signature(info: os.stat_result) -> list:
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def load(root: str, dag_sha256: str | None, dag_info: os.stat_result) -> dict | None:
    """The pass view, as a DAG with slim steps, if it was made from this very dag.json; else None."""
    return _load(os.path.join(root, FILE), SCHEMA, VERSION, dag_sha256, dag_info)


def load_report(root: str, dag_sha256: str | None, dag_info: os.stat_result) -> dict | None:
    """The report view, as a DAG with slim steps, if it was made from this very dag.json; else None."""
    return _load(os.path.join(root, REPORT_FILE), REPORT_SCHEMA, REPORT_VERSION, dag_sha256, dag_info)


def load_csv(root: str, dag_sha256: str | None, dag_info: os.stat_result) -> dict | None:
    """The CSV view ({"ids", "workspaces", "params"}: lists of the same length), if it was made
    from this very dag.json; else None."""
    doc = _load(os.path.join(root, CSV_FILE), CSV_SCHEMA, CSV_VERSION, dag_sha256, dag_info, "ids")
    if doc is None or not all(isinstance(doc.get(key), list) and len(doc[key]) == len(doc["ids"])
                              for key in ("workspaces", "params")):
        return None
    return doc


def _load(path: str, schema: str, version: int, dag_sha256: str | None, dag_info: os.stat_result,
          listed: str = "steps") -> dict | None:
    if not dag_sha256:
        return None
    try:       # derived data: anything but a sound regular file is made again
        doc = loads(read_regular(path, MAX_DAG_BYTES, "a view of dag.json"))
    except (OSError, ValueError, InvalidInput):
        return None
    if (not isinstance(doc, dict) or doc.get("schema") != schema or doc.get("version") != version
            or doc.get("dag_sha256") != dag_sha256 or doc.get("dag_file") != signature(dag_info)
            or not isinstance(doc.get(listed), list) or not isinstance(doc.get("study", {}), dict)):
        return None
    return doc
