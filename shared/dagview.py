"""Reading the pass view, `<root>/meta/dag-view.json` (made by the passes: mruntime.engine.view).

The view is what a pass needs of dag.json and no more: each step's id, name, stem, workspace,
parents, flags, its Params cell, and the batch and bundle blocks.  A report that shows no more
than that (mreport's flat, legacy and md tables, its CSV and dot output) reads it too: it is half
the size of dag.json on a large study.  The view is used only while dag.json is the file it was
made from (same size, modification time and inode, and the DAG checksum the state records); it
is derived data, and anything but a sound view is None here (the reader then takes dag.json).
"""

import os

from .contracts import MAX_DAG_BYTES
from .errors import InvalidInput
from .jsonio import loads
from .reading import read_regular

FILE = os.path.join("meta", "dag-view.json")
SCHEMA, VERSION = "maestro.dag-view", 2


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
