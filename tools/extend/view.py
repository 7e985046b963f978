"""What a loop must know of a study's DAG after each pass, kept small: the DAG's extend block and
the ids of the decide steps' instances, in `meta/extend-view.json`.

A pass that saw a decide instance finish applies its request (mmonitor).  Finding out which ids
those are needs the DAG, and parsing it after every pass of a large study costs more than the
pass; this file, made from dag.json and valid while dag.json is the same file (size,
modification time, inode), answers with one small read.  Derived data: deleting it costs one
parse of dag.json.
"""

import os

from mshared.contracts import MAX_DAG_BYTES
from mshared.errors import InvalidInput
from mshared.jsonio import dumps, loads, write_atomic
from mshared.reading import read_regular

FILE = os.path.join("meta", "extend-view.json")
SCHEMA, VERSION = "maestro.extend-view", 1
EXTEND_KEY = b'"extend":{"decide":['


def signature(root: str) -> list | None:
    try:
        info = os.stat(os.path.join(root, "dag.json"))
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def load(root: str) -> dict:
    """{"extend": the DAG's study.extend or None, "decide": ids of the decide instances}."""
    mark = signature(root)
    if mark is None:
        return {"extend": None, "decide": []}
    try:
        doc = loads(read_regular(os.path.join(root, FILE), MAX_DAG_BYTES, "the extend view"))
        if isinstance(doc, dict) and doc.get("schema") == SCHEMA and doc.get("version") == VERSION \
                and doc.get("dag_file") == mark and isinstance(doc.get("decide"), list):
            return {"extend": doc.get("extend"), "decide": doc["decide"]}
    except (OSError, ValueError, InvalidInput):
        pass
    try:       # a dag.json that is not a sound regular file: no extend block (the pass refuses it)
        data = read_regular(os.path.join(root, "dag.json"), MAX_DAG_BYTES, "the DAG")
        # the tools write dag.json compact with sorted keys, and a quote inside a string is
        # escaped: without these bytes there is no extend block, and no need to parse a large DAG
        dag = loads(data) if EXTEND_KEY in data else {}
    except (OSError, ValueError, InvalidInput):
        return {"extend": None, "decide": []}
    extend = (dag.get("study") or {}).get("extend")
    names = set((extend or {}).get("decide") or ())
    found = {"extend": extend, "decide": [s["id"] for s in dag.get("steps") or () if s.get("step") in names]}
    try:
        write_atomic(os.path.join(root, FILE), dumps({"schema": SCHEMA, "version": VERSION, "dag_file": mark,
                                                      **found}), durable=False)
    except OSError:
        pass     # a study directory that takes no new file: the next look parses dag.json again
    return found


def decide_ids(root: str) -> list[str]:
    """The ids of the study's decide instances (none for a study without extend.decide)."""
    return load(root)["decide"]
