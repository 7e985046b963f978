"""Content keys of step instances: two instances with the same key do the same work.

The key of an instance (format KEY_FORMAT, docs/contracts.md, "meta/keys.json") is the sha256 of
  - its scripts as mrender writes them (header and command, the restart script too), rendered
    for a study whose root is the literal text ROOT, so that no path of the study directory is in
    it: the key does not change when the same study is rendered elsewhere;
  - its resolved parameters (canonical JSON);
  - its declared input files (the spec's `reuse` block): path, size and mtime, or path and the
    sha256 of the bytes for those compared by content;
  - the keys of its parents, sorted: a change anywhere above an instance changes its key.
Nothing else: not the study's name or directory, not the spec's other text, not the time.

Besides the key, each record keeps short digests of the parts (``parts``), so that a later run
can tell which part changed (mrender.reuse explains its plan with them), the instance's workspace
(where a later run copies its files from) and its inputs as they were seen.
"""

import hashlib
import os
import stat

from mruntime.scripts import step_scripts
from mshared.errors import InvalidInput
from mshared.jsonio import dumps
from mshared.root_tokens import resolve_root_tokens

KEY_FORMAT = 1
ROOT = "$(OUTPUT_PATH)"      # the study root as the key sees it: no real path enters a key
PART_CHARS = 16              # a part's digest is only compared to explain a change, never to reuse
_READ = 1 << 20


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


KEY_TAG = f"maestro.key/{KEY_FORMAT}"
NO_INPUTS = _sha(b"[]")


def observe_input(item: dict) -> dict:
    """What the key sees of a declared input: path and size and mtime (ns), or path and sha256."""
    path = item["path"]
    try:
        if item.get("content"):
            return {"path": path, "sha256": _file_sha(path)}
        info = os.stat(path)
    except FileNotFoundError:
        raise InvalidInput(f"declared input '{path}' does not exist; create it or fix the spec's reuse block") from None
    except IsADirectoryError:
        raise InvalidInput(f"declared input '{path}' is a directory; declare the files in it") from None
    except OSError as err:
        raise InvalidInput(f"declared input '{path}': {err.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"declared input '{path}' is not a regular file; declare the files it stands for")
    return {"path": path, "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def _file_sha(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def instance_keys(dag: dict, *, known: dict | None = None, observe=observe_input) -> dict[str, dict]:
    """The key record of every instance of ``dag`` (checked by parse_dag), by id, in DAG order:
    ``{"key", "workspace", "parts": {"header", "command", "spacing", "params", "inputs"}}``, and
    ``"inputs"`` (as seen now) for instances that declare inputs.

    ``known`` gives the keys (id -> key) of parents that are not in ``dag`` (a study grown later
    computes its new instances' keys with the old ones here).  Declared input files are read
    (stat, or their bytes when compared by content); a missing one is InvalidInput (65).
    ``observe`` turns a declared input ({"path", "content"}) into what the key sees of it.
    """
    batch = dict(dag["study"].get("batch") or {})
    batch["type"] = batch.get("type") or "local"
    keys = dict(known or {})
    headers: dict[str, str] = {}      # most instances of a study share their header
    out: dict[str, dict] = {}
    sha, cut, no_inputs = hashlib.sha256, PART_CHARS, NO_INPUTS[:PART_CHARS]
    for step in dag["steps"]:         # the loop of a 100,000-instance plan: plain, inlined work
        sid = step["id"]
        header, command = _scripts(step, batch)
        head = headers.get(header)
        if head is None:
            head = headers[header] = sha(header.encode("utf-8", "surrogatepass")).hexdigest()
        body = sha(command.encode("utf-8", "surrogatepass")).hexdigest()
        params = sha(dumps(step["params"])).hexdigest()
        spacing = sha(" ".join(command.split()).encode("utf-8", "surrogatepass")).hexdigest()
        inputs = NO_INPUTS
        record = {"workspace": step["workspace"]}
        if step.get("inputs"):
            record["inputs"] = [observe(item) for item in step["inputs"]]
            inputs = sha(dumps(record["inputs"])).hexdigest()
        try:
            parents = [keys[parent] for parent in step["depends"]]
        except KeyError as err:
            raise InvalidInput(f"step '{sid}': parent {err} has no key; give its key in 'known'") from None
        if len(parents) > 1:
            parents.sort()
        record["parts"] = {"header": head[:cut], "command": body[:cut], "spacing": spacing[:cut],
                           "params": params[:cut], "inputs": inputs[:cut] if inputs is not NO_INPUTS else no_inputs}
        record["key"] = keys[sid] = sha("\n".join([KEY_TAG, head, body, params, inputs, *parents]).encode()).hexdigest()
        out[sid] = record
    return out


def _scripts(step: dict, batch: dict) -> tuple[str, str]:
    """(header, command) of the step's scripts as mrender writes them, for a study at ROOT; the
    command part holds the restart script's command too, after a NUL."""
    cmd, restart = step["cmd"], step.get("restart")
    if "$(" in cmd:
        cmd = resolve_root_tokens(cmd, step, ROOT)
    if restart and "$(" in restart:
        restart = resolve_root_tokens(restart, step, ROOT)
    scripts = step_scripts(step, batch, cmd, restart)
    header, _, command = scripts[0][1].partition("\n\n")    # every script is <header>\n\n<command>\n
    for _name, text in scripts[1:]:
        command += "\0" + text.partition("\n\n")[2]
    return header, command


# ------------------------------------------------------------------ meta/keys.json
KEYS_SCHEMA, KEYS_VERSION = "maestro.keys", KEY_FORMAT
KEYS_FILE = "meta/keys.json"


def keys_document(records: dict, dag_sha256: str) -> dict:
    """The `maestro.keys` document of a study rendered from the DAG with that sha256."""
    return {"schema": KEYS_SCHEMA, "version": KEYS_VERSION, "dag_sha256": dag_sha256, "steps": records}


def read_keys(root: str, state: dict) -> dict | None:
    """The key records of the study at ``root`` (id -> record), from its meta/keys.json; None when
    the study has none, or has keys of an older format (made before keys existed, or before the
    key changed): the caller computes them again from the study's dag.json.  InvalidInput when the
    file is damaged, newer than this tool, or not the keys of the study's DAG."""
    from mshared.contracts import check_envelope
    from mshared.jsonio import loads

    path = os.path.join(root, KEYS_FILE)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise InvalidInput(f"{path}: cannot read: {err.strerror}") from None
    try:
        doc = loads(data)
    except ValueError:
        raise InvalidInput(f"{path}: not valid JSON (truncated or edited by hand?); restore it, or remove "
                           "it to have the keys computed again from dag.json") from None
    check_envelope(doc, KEYS_SCHEMA, KEYS_VERSION, path)
    if doc["version"] < KEYS_VERSION:
        return None
    steps = doc.get("steps")
    if doc.get("dag_sha256") != state["study"].get("dag_sha256") or not isinstance(steps, dict) \
            or len(steps) != len(state["steps"]):
        raise InvalidInput(f"{path}: these are not the keys of the study's dag.json (edited or copied from "
                           "another study?); remove the file to have them computed again")
    known = state["steps"]
    for sid, record in steps.items():      # what a plan reads of every record (the rest: when used)
        if sid not in known or type(record) is not dict or type(record.get("key")) is not str \
                or type(record.get("parts")) is not dict:
            raise InvalidInput(f"{path}: step '{sid}' has no valid key record; remove the file to have the keys "
                               "computed again from dag.json")
    return steps


def workspace_of(records: dict, sid: str, path: str) -> str:
    """The workspace a record gives, checked to stay inside its study (a hand-edited file must not
    make a run copy files from elsewhere)."""
    workspace = records[sid].get("workspace")
    if not _inside(workspace):
        raise InvalidInput(f"{path}: step '{sid}' has no valid workspace ({workspace!r}); remove the file to have "
                           "the keys computed again from dag.json")
    return workspace


def _inside(workspace) -> bool:
    """A relative path that stays inside its study."""
    return isinstance(workspace, str) and bool(workspace) and not workspace.startswith("/") \
        and ".." not in workspace.split("/") and "\x00" not in workspace
