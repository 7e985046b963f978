"""The pass view, `<root>/meta/dag-view.json`: what a pass needs of dag.json, and no more.

A pass needs each step's id, name, stem, workspace, parents, the flags that decide how it runs
(scheduled, restart, after_failed_parents), its Params cell for status.csv, and the batch block.
dag.json also holds every command, description and resource, and parsing all of it was a large
share of a monitoring pass on big studies (bench/README.md, "Figures behind the code").  The
first pass that reads dag.json writes this view beside it; later passes read the view instead,
as long as dag.json is the file it was made from (same size, modification time and inode, and
the DAG checksum the state records; only a rewrite in place of the same size within one clock
tick would slip by, which no tool of ours does).  It is derived data: deleting it only costs the
next pass a full read.
"""

import os

from mshared.contracts import MAX_DAG_BYTES
from mshared.errors import InvalidInput
from mshared.jsonio import dumps, loads, write_atomic
from mshared.reading import read_regular
from mshared.statusrows import params_text

from .graph import NEEDS   # of a scheduled step: what decides whether it fits a bundle

FILE = os.path.join("meta", "dag-view.json")
SCHEMA, VERSION = "maestro.dag-view", 2
_FLAGS = ("after_failed_parents", "restart", "scheduled")


def signature(info: os.stat_result) -> list:
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def load(root: str, dag_sha256: str | None, dag_info: os.stat_result) -> dict | None:
    """The view, as a DAG with slim steps, if it was made from this very dag.json; else None."""
    if not dag_sha256:
        return None
    try:       # derived data: anything but a sound regular file is made again
        doc = loads(read_regular(os.path.join(root, FILE), MAX_DAG_BYTES, "the pass view"))
    except (OSError, ValueError, InvalidInput):
        return None
    if (not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("version") != VERSION
            or doc.get("dag_sha256") != dag_sha256 or doc.get("dag_file") != signature(dag_info)
            or not isinstance(doc.get("steps"), list) or not isinstance(doc.get("study"), dict)):
        return None
    return doc


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


def save(root: str, view: dict) -> None:
    """Write the view for the next passes; a study directory that takes no new file is no error."""
    try:
        os.makedirs(os.path.join(root, "meta"), exist_ok=True)
        write_atomic(os.path.join(root, FILE), dumps(view), durable=False)
    except OSError:
        pass
