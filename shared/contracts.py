"""The documents the tools exchange: names, versions, and checks at the boundary.

A DAG is a contract that people pass around, so a tool never trusts one: ``validate_dag`` checks
every field that becomes a path (workspace, stem) or reaches a terminal (id, step name) as
strictly as mexpand makes it (mexpand.naming), whoever wrote the file.
"""

import re

from .errors import InvalidInput
from .jsonio import dumps, loads

DAG_SCHEMA, DAG_VERSION = "maestro.dag", 1
STATE_SCHEMA, STATE_VERSION = "maestro.state", 1
EVENT_SCHEMA, EVENT_VERSION = "maestro.event", 1
REPORT_SCHEMA, REPORT_VERSION = "maestro.report", 1

# Bytes a DAG may have (mrender's input, a study's dag.json): a 1,000,000-instance DAG of short
# commands is a few hundred MB (bench/README.md, "Figures behind the code"); this leaves room
# for long commands, and refuses an endless input after a bounded read.
MAX_DAG_BYTES = 2 * 1024 ** 3
# A name used as is in file names (mexpand.naming): leaves room for ".<jobid>.out" in 255 bytes.
MAX_NAME_BYTES = 200
# A stem is such a name, or the first MAX_NAME_BYTES of its safe characters, "~" and 8 hex digits.
MAX_STEM_BYTES = MAX_NAME_BYTES + 9
# A workspace component: a name as a stem is (a name made unique gets "~" and 8 hex digits after
# at most MAX_NAME_BYTES, as a hashed stem does)
MAX_COMPONENT_BYTES = MAX_STEM_BYTES
# A workspace: mexpand makes one or two components; room for more, never near PATH_MAX
MAX_WORKSPACE_BYTES = 1024
# C0, DEL and C1 controls: ESC (0x1b) and CSI (0x9b) drive a terminal; none belongs in a name
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BAD_IN_STEM = re.compile(r"[\x00-\x1f\x7f-\x9f/\\\"'`$]")
_BAD_IN_WORKSPACE = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
_INT_RESOURCES = ("nodes", "procs", "gpus", "cores_per_task", "tasks_per_rs", "rs_per_node", "cpus_per_rs")
_TEXT_RESOURCES = ("reservation", "qos", "bind", "bind_gpus")

_STEP_FIELDS = {"id": str, "step": str, "depends": list, "workspace": str, "stem": str, "cmd": str,
                "params": dict, "resources": dict, "scheduled": bool, "workspace_refs": dict}


def check_envelope(doc, schema: str, version: int, source: str) -> None:
    """Refuse a document of another kind or a newer version, with what to do about it."""
    if not isinstance(doc, dict) or "schema" not in doc:
        raise InvalidInput(f"{source}: not a {schema} document (no 'schema' field)")
    if doc["schema"] != schema:
        raise InvalidInput(f"{source}: expected a {schema} document, got {doc['schema']!r}")
    got = doc.get("version")
    if not isinstance(got, int) or isinstance(got, bool):
        raise InvalidInput(f"{source}: {schema} document has no integer 'version'")
    if got > version:
        raise InvalidInput(f"{source}: {schema} version {got} is newer than this tool understands "
                           f"({version}); upgrade maestro-microtools")
    if got < 1:
        raise InvalidInput(f"{source}: {schema} version {got} is not valid")


def dump_dag(dag: dict, source: str, pretty: bool = False) -> bytes:
    """The DAG's bytes (``jsonio.dumps``); InvalidInput when the spec ``source`` gave it a number
    JSON cannot hold (orjson refuses integers beyond 64 bits)."""
    try:
        return dumps(dag, pretty=pretty)
    except TypeError as err:
        raise InvalidInput(f"{source}: {err}: a number in the spec is too large for the DAG; quote it "
                           "to use it as text") from None


def write_dag(dag: dict, stream, source: str, chunk: int = 2000) -> None:
    """Write ``dump_dag(dag, source)``'s bytes to the binary ``stream`` a few thousand steps at a
    time: the same bytes, without one buffer the size of the whole DAG (a large study's DAG is
    hundreds of MB, and a failed allocation of one that size crashes the JSON encoder)."""
    steps = dag["steps"]
    rest = {key: value for key, value in dag.items() if key != "steps"}
    before = {key: value for key, value in rest.items() if key < "steps"}
    after = {key: value for key, value in rest.items() if key > "steps"}
    head = dump_dag(before, source)[:-2] + b',"steps":[' if before else b'{"steps":['   # '{...' without '}\n'
    stream.write(head)
    for start in range(0, len(steps), chunk):
        part = dump_dag(steps[start:start + chunk], source)[1:-2]   # the items, without '[' and ']\n'
        stream.write((b"," if start else b"") + part)
    tail = dump_dag(after, source)
    stream.write(b"]" + (b"," + tail[1:] if after else b"}\n"))


def parse_dag(data: bytes, source: str) -> dict:
    """Parse and check a DAG: envelope, fields, ids unique, parents known and earlier."""
    try:
        doc = loads(data)
    except ValueError as err:
        raise InvalidInput(f"{source}: not valid JSON ({err}); expected mexpand's output") from None
    check_envelope(doc, DAG_SCHEMA, DAG_VERSION, source)
    validate_dag(doc, source)
    return doc


def validate_dag(doc: dict, source: str) -> None:
    study, steps = doc.get("study"), doc.get("steps")
    if not isinstance(study, dict) or not isinstance(study.get("name"), str):
        raise InvalidInput(f"{source}: DAG has no study.name")
    _check_study(study, source)
    # a study that takes its combinations later (an extend block) may start without an instance
    if not isinstance(steps, list) or not steps and "extend" not in study:
        raise InvalidInput(f"{source}: DAG has no steps")
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            raise InvalidInput(f"{source}: steps[{index}] is not an object")
        for field, kind in _STEP_FIELDS.items():
            if not isinstance(step.get(field), kind):
                raise InvalidInput(f"{source}: steps[{index}] ({step.get('id', '?')}): field '{field}' "
                                   f"is missing or not a {kind.__name__}")
        _check_step(step, index, source)
        for parent in step["depends"]:
            if not isinstance(parent, str) or parent not in seen:
                raise InvalidInput(f"{source}: step '{step['id']}' depends on {parent!r}, which is not "
                                   "an earlier step; steps must be in topological order")
        if step["id"] in seen:
            raise InvalidInput(f"{source}: step id '{step['id']}' appears twice")
        seen.add(step["id"])


# study fields mrender reads -> the types mexpand writes (None: absent or null is fine)
_STUDY_TYPES = {"description": str, "output_path": str, "cwd": str, "specroot": str, "hashws": bool,
                "spec": dict, "pgen": dict, "batch": dict, "env": dict, "parameters": dict}
_TEXT_FIELDS = {"spec": ("path", "filename", "sha256", "text"), "pgen": ("filename", "text"),
                "batch": ("type", "shell")}


def _check_study(study: dict, source: str) -> None:
    for field, kind in _STUDY_TYPES.items():
        value = study.get(field)
        if value is not None and (not isinstance(value, kind) or kind is not bool and isinstance(value, bool)):
            raise InvalidInput(f"{source}: study.{field} is not a {kind.__name__}; expected mexpand's output")
    for block, fields in _TEXT_FIELDS.items():
        for field in fields:
            value = (study.get(block) or {}).get(field)
            if value is not None and not isinstance(value, str):
                raise InvalidInput(f"{source}: study.{block}.{field} is not a string; expected mexpand's output")
    if "bundle" in study:      # only with the spec's bundle block (docs/bundles.md)
        from .bundlesettings import check_normalized

        check_normalized(study["bundle"], f"{source}: study.bundle")
        if ((study.get("batch") or {}).get("type") or "local") == "local":
            raise InvalidInput(f"{source}: study.bundle needs a batch scheduler, and study.batch.type is local; "
                               "expected mexpand's output")
    deps = (study.get("env") or {}).get("dependencies") or {}
    if not isinstance(deps, dict) or not all(
            isinstance(deps.get(kind) or [], list) and all(
                isinstance(dep, dict) and all(isinstance(dep.get(key), str) for key in keys)
                for dep in deps.get(kind) or [])
            for kind, keys in (("paths", ("name", "path")), ("git", ("name", "url")))):
        raise InvalidInput(f"{source}: study.env.dependencies is not as mexpand writes it")


def _check_step(step: dict, index: int, source: str) -> None:
    """The fields of one step that name files or reach a terminal, as mexpand makes them."""
    sid = step["id"]
    for field in ("id", "step"):
        if not step[field] or CONTROL.search(step[field]):
            raise InvalidInput(f"{source}: steps[{index}]: {field} {step[field]!r} is empty or holds a control "
                               "character; expected mexpand's output")
    where = f"{source}: step '{sid}'"
    check_stem(step["stem"], where)
    check_workspace(step["workspace"], where)
    for name, ref in step["workspace_refs"].items():
        if not isinstance(ref, str):
            raise InvalidInput(f"{where}: workspace_refs[{name!r}] is not a string")
        check_workspace(ref, f"{where}: workspace_refs[{name!r}]")
    for field in ("restart", "description", "combo"):
        if step.get(field) is not None and not isinstance(step[field], str):
            raise InvalidInput(f"{where}: field '{field}' is not a string")
    _check_resources(step["resources"], where)


def check_stem(stem: str, where: str, what: str = "stem") -> None:
    """A stem names the step's files in its workspace (`<stem>.sh`, `<stem>.<jobid>.err`): one
    file name, never a path; InvalidInput otherwise.  A job id, which goes into the same names,
    is checked the same way (``what``)."""
    if (not isinstance(stem, str) or not stem or stem.startswith(".") or BAD_IN_STEM.search(stem)
            or len(stem.encode("utf-8", "surrogatepass")) > MAX_STEM_BYTES):
        raise InvalidInput(f"{where}: {what} {stem!r} is not a safe file name (no '/', '\\', quote, '$', "
                           f"backquote or control character, no leading '.', at most {MAX_STEM_BYTES} "
                           "bytes); expected mexpand's output")


def check_workspace(workspace: str, where: str) -> None:
    """A workspace is a relative path inside the study: clean components, none '.', '..' or empty,
    of bounded length."""
    parts = workspace.split("/")
    if (workspace.startswith("/") or _BAD_IN_WORKSPACE.search(workspace)
            or len(workspace.encode("utf-8", "surrogatepass")) > MAX_WORKSPACE_BYTES
            or any(part in ("", ".", "..") or len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES
                   for part in parts)):
        raise InvalidInput(f"{where}: workspace {workspace!r} is outside the study or not a clean relative "
                           f"path (components of at most {MAX_COMPONENT_BYTES} bytes, {MAX_WORKSPACE_BYTES} in "
                           "all); expected mexpand's output")


def _check_resources(resources: dict, where: str) -> None:
    """The types the script writers rely on (shared/schemas/dag.v1.schema.json)."""
    for key, value in resources.items():
        if key in _INT_RESOURCES:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif key in _TEXT_RESOURCES:
            ok = isinstance(value, str)
        elif key == "walltime":
            ok = isinstance(value, (str, int)) and not isinstance(value, bool)
        elif key == "exclusive":
            ok = isinstance(value, bool) or (isinstance(value, dict) and all(
                k in ("allocation", "launcher") and isinstance(v, bool) for k, v in value.items()))
        elif key in ("nested", "waitable"):
            ok = isinstance(value, bool)
        elif key == "priority":
            ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        else:
            ok = False
        if not ok:
            raise InvalidInput(f"{where}: resource '{key}' = {value!r} is not one mexpand writes")
