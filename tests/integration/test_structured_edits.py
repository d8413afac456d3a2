"""Structured edits over HTTP: the API route, and the editor page's builder requests (cookie and CSRF)."""

from __future__ import annotations

import httpx
from starlette.requests import Request

from tests.conftest import ROOT
from web.deps import SESSION_COOKIE
from web.pages.security import csrf_token

RULES = (ROOT / "definitions" / "rules" / "order_audit.yaml").read_text(encoding="utf-8")
NEW_RULE = {
    "id": "big_new_address",
    "when": "order.total > 5000 and facts.first_time_address",
    "action": "review",
    "reason": "amount {{ order.total }} to a first-time address",
}


def test_the_api_writes_edits_into_the_text_and_validates_it(stack):
    with stack.client("analyst") as client:
        response = client.post(
            "/api/definitions/edit",
            json={"text": RULES, "edits": [{"op": "insert", "path": ["rules"], "value": NEW_RULE}]},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is True and body["errors"] == []
    assert body["text"].startswith(RULES[: RULES.index("# Test cases")].rstrip("\n"))
    assert '  - id: big_new_address\n    when: "order.total > 5000 and facts.first_time_address"\n' in body["text"]
    assert [c for c in RULES.splitlines() if c.startswith("#")] == [
        c for c in body["text"].splitlines() if c.startswith("#")
    ]


def test_a_bad_edit_is_a_422_naming_the_edit_and_nothing_else_happens(stack):
    with stack.client("analyst") as client:
        response = client.post(
            "/api/definitions/edit", json={"text": RULES, "edits": [{"op": "set", "path": ["rules", 99, "when"]}]}
        )
        assert response.status_code == 422
        assert response.json()["detail"] == "edits[0].value: set needs a value"
        response = client.post(
            "/api/definitions/edit",
            json={"text": RULES, "edits": [{"op": "set", "path": ["rules", 99, "when"], "value": "true"}]},
        )
        assert response.status_code == 422
        assert response.json()["detail"].startswith("edits[0].path: $.rules[99] does not exist")
        response = client.post(
            "/api/definitions/edit", json={"text": "kind: [", "edits": [{"op": "delete", "path": ["kind"]}]}
        )
        assert response.status_code == 422
        assert response.json()["detail"].startswith("text: the YAML does not parse")
    with stack.client("operator") as client:
        assert client.post("/api/definitions/edit", json={"text": RULES, "edits": []}).status_code == 403


def _page_client(stack, role: str) -> tuple[httpx.Client, dict]:
    token = stack.token(role)
    client = httpx.Client(base_url=stack.base_url, timeout=30)
    client.cookies.set(SESSION_COOKIE, token)
    cookie = f"{SESSION_COOKIE}={token}".encode()
    return client, {"x-csrf-token": csrf_token(Request({"type": "http", "headers": [(b"cookie", cookie)]}))}


def test_the_rule_builder_request_writes_the_rule_and_refuses_a_bad_one_naming_its_part(stack):
    client, headers = _page_client(stack, "analyst")
    with client:
        rule = {
            "id": "big_new_address",
            "condition": {
                "join": "and",
                "terms": [
                    {"field": "order.total", "op": ">", "value": 5000},
                    {"field": "facts.first_time_address", "op": "is true", "value": None},
                ],
            },
            "action": "review",
            "reason": "amount {{ order.total }} to a first-time address",
        }
        response = client.post("/definitions/rule", json={"text": RULES, "index": None, "rule": rule}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["valid"] is True
        assert body["structure"]["rules"][-1]["condition"] == rule["condition"]

        bad = {**rule, "condition": {"join": "and", "terms": [{"field": "order.total", "op": ">", "value": "x"}]}}
        response = client.post("/definitions/rule", json={"text": RULES, "index": None, "rule": bad}, headers=headers)
        assert response.status_code == 422
        assert response.json()["field"] == "rule.terms[0].value"

        response = client.post(
            "/definitions/case-from-order",
            json={"text": RULES, "order_id": "ord_nothing", "expect": "review"},
            headers=headers,
        )
        assert response.status_code == 404
        assert response.json()["field"] == "order_id"
        response = client.post("/definitions/edit", json={"text": RULES, "edits": "delete"}, headers=headers)
        assert response.status_code == 422
        assert response.json()["field"] == "edits"
    client, headers = _page_client(stack, "operator")
    with client:
        response = client.post("/definitions/rule", json={"text": RULES, "rule": rule}, headers=headers)
        assert response.status_code == 403
        response = client.post("/definitions/structure", json={"text": RULES}, headers=headers)
        assert response.status_code == 200  # reading the draft is everybody's
        assert response.json()["rules"][0]["id"] == "high_value_new_address"
