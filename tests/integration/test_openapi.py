"""/openapi.json describes the body of every JSON answer (no server needed: the lifespan never runs)."""

from __future__ import annotations

import pytest

from web.app import create_app

# Bodies that are free-form by nature: a JSON Schema document.
OPEN_ENDED = {("get", "/api/definitions/schemas/{kind}")}
NOT_JSON = ("text/csv", "text/html", "text/plain")


def _spec() -> dict:
    return create_app().openapi()


def _operations(spec: dict) -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/") or path == "/healthz"
    ]


def _resolved(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref", "")
    return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def _described(spec: dict, schema: dict) -> bool:
    """A typed body: an object with properties, or a choice of such objects."""
    schema = _resolved(spec, schema)
    if "oneOf" in schema or "anyOf" in schema:
        return all(_described(spec, s) for s in schema.get("oneOf", schema.get("anyOf")))
    return bool(schema.get("properties"))


SPEC = _spec()
JSON_OPERATIONS = [
    pytest.param(method, path, op, id=f"{method.upper()} {path}")
    for method, path, op in _operations(SPEC)
    if not any(media in NOT_JSON for r in op["responses"].values() for media in r.get("content", {}))
    and {code for code in op["responses"] if code.startswith("2")} != {"204"}
]


def test_every_operation_is_looked_at():
    """The filter above keeps the JSON operations: the API has dozens, a mistake would keep none."""
    assert len(JSON_OPERATIONS) > 50
    assert ("get", "/healthz") in {(p.values[0], p.values[1]) for p in JSON_OPERATIONS}


@pytest.mark.parametrize(("method", "path", "op"), JSON_OPERATIONS)
def test_json_operation_describes_its_body(method, path, op):
    successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    assert successes, f"{method.upper()} {path} declares no 2xx response"
    for code, response in successes.items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        assert schema, f"{method.upper()} {path} {code}: no JSON schema"
        if (method, path) in OPEN_ENDED:
            assert _resolved(SPEC, schema).get("additionalProperties") is True
        else:
            assert _described(SPEC, schema), f"{method.upper()} {path} {code}: the body is not described: {schema}"


def test_healthz_says_ok():
    health = SPEC["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert _resolved(SPEC, health)["properties"]["status"]["const"] == "ok"
