"""The JSON Schemas shipped in policies/ are generated from the schema code and kept current."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import orjson
import yaml

from proxy.commands.schema import render

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_schemas_are_current():
    for kind, name in (("proxy", "proxy.schema.json"), ("policy", "policy.schema.json")):
        assert (ROOT / "policies" / name).read_bytes() == render(kind), (
            f"policies/{name} is stale; regenerate it with: llm-router schema {kind} --out policies/{name}"
        )


def test_shipped_files_validate_against_the_schemas():
    jsonschema.validate(yaml.safe_load((ROOT / "proxy.yaml").read_text()), orjson.loads(render("proxy")))
    for policy in ("default.yaml", "lean.yaml"):
        jsonschema.validate(yaml.safe_load((ROOT / "policies" / policy).read_text()), orjson.loads(render("policy")))


def test_schema_carries_the_field_docs():
    schema = orjson.loads(render("proxy"))
    assert "first match wins" in schema["properties"]["routes"]["description"]
    assert schema["additionalProperties"] is False
