"""mexpand's output validates against the published JSON Schema (shared/schemas/dag.v1.schema.json)."""

import json
from importlib import resources

import jsonschema

from expand_helpers import HELLO_BYE, expand_text


def schema():
    return json.loads(resources.files("mshared").joinpath("schemas/dag.v1.schema.json").read_text())


def test_dag_matches_schema():
    dag, _ = expand_text(HELLO_BYE)
    jsonschema.validate(dag, schema())


def test_schema_rejects_an_escaping_workspace():
    dag, _ = expand_text(HELLO_BYE)
    dag["steps"][0]["workspace"] = "../outside"
    try:
        jsonschema.validate(dag, schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("schema accepted ../outside")
