"""The documents the tools exchange: names, versions, and checks at the boundary."""

from .errors import InvalidInput
from .jsonio import dumps, loads

DAG_SCHEMA, DAG_VERSION = "maestro.dag", 1
STATE_SCHEMA, STATE_VERSION = "maestro.state", 1
EVENT_SCHEMA, EVENT_VERSION = "maestro.event", 1
REPORT_SCHEMA, REPORT_VERSION = "maestro.report", 1

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
        for parent in step["depends"]:
            if parent not in seen:
                raise InvalidInput(f"{source}: step '{step['id']}' depends on '{parent}', which is not "
                                   "an earlier step; steps must be in topological order")
        if step["id"] in seen:
            raise InvalidInput(f"{source}: step id '{step['id']}' appears twice")
        workspace = step["workspace"]
        if workspace.startswith("/") or ".." in workspace.split("/") or "\x00" in workspace:
            raise InvalidInput(f"{source}: step '{step['id']}': workspace {workspace!r} is outside the study")
        seen.add(step["id"])
