"""Definitions over HTTP: validate, publish, versions, roles."""

from __future__ import annotations

from tests.conftest import ROOT, unique

RULES = (ROOT / "definitions" / "rules" / "order_audit.yaml").read_text(encoding="utf-8")


def _rules(name: str, extra: str = "") -> str:
    return RULES.replace("name: order_audit", f"name: {name}") + extra


def test_validate_reports_schema_errors_with_paths_before_semantic_checks(stack):
    text = _rules("r_schema").replace('when: "not facts.address.complete"', 'when: "not facts.address.complete and"')
    text = text.replace("    action: review\n", "    action: hold\n", 1)
    with stack.client("analyst") as client:
        response = client.post("/api/definitions/validate", json={"text": text})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert body["errors"] == [
        {
            "path": "$.rules[0].action",
            "message": "'hold' is not one of 'approve', 'review', 'reject', 'tag'",
            "line": text.splitlines().index("    action: hold") + 1,  # the line of the bad action
        }
    ]


def test_semantic_errors_follow_schema_errors(stack):
    text = _rules("r_sem").replace('when: "not facts.address.complete"', 'when: "not facts.address.complete and"')
    with stack.client("analyst") as client:
        body = client.post("/api/definitions/validate", json={"text": text}).json()
    assert body["valid"] is False
    assert [e["path"] for e in body["errors"]] == ["$.rules[1].when"]
    assert body["errors"][0]["message"].startswith("expression does not compile: ")


def test_publish_creates_versions_and_refuses_broken_text(stack):
    name = "r_" + unique("p").lower().replace("-", "_")
    with stack.client("analyst") as client:
        first = client.post("/api/definitions", json={"text": _rules(name), "note": "first"})
        assert first.status_code == 201, first.text
        assert (first.json()["version"], first.json()["author"], first.json()["note"]) == (1, "analyst", "first")
        same = client.post("/api/definitions", json={"text": _rules(name)})
        assert same.status_code == 200
        assert same.json()["version"] == 1 and same.json()["created"] is False
        broken = client.post(
            "/api/definitions", json={"text": _rules(name).replace("hit_policy: collect", "hit_policy: all")}
        )
        assert broken.status_code == 422
        assert broken.json()["errors"] == [
            {"path": "$.hit_policy", "message": "'all' is not one of 'first', 'collect'", "line": 14}
        ]
        second = client.post("/api/definitions", json={"text": _rules(name, "\n# tuned\n")})
        assert second.status_code == 201 and second.json()["version"] == 2
        versions = client.get(f"/api/definitions/rules/{name}").json()
    assert [v["version"] for v in versions["versions"]] == [2, 1]
    assert versions["live"]["text"].endswith("# tuned\n")


def test_flow_naming_an_unknown_rule_set_cannot_be_published(stack):
    text = (
        (ROOT / "definitions" / "flows" / "order.yaml")
        .read_text()
        .replace("name: order\n", "name: flow_bad_ref\n")
        .replace("rules: order_audit", "rules: order_audits")
    )
    with stack.client("analyst") as client:
        response = client.post("/api/definitions", json={"text": text})
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {
                "path": "$.steps[0].rules",
                "message": "unknown rules 'order_audits' (did you mean 'order_audit'?)",
                "line": 13,
            }
        ]
        assert client.get("/api/definitions/flow/flow_bad_ref").status_code == 404


def test_only_analysts_and_admins_publish(stack):
    text = _rules("r_roles")
    for role in ("operator", "channel"):
        with stack.client(role) as client:
            response = client.post("/api/definitions", json={"text": text})
        assert response.status_code == 403, role
    with stack.client("admin") as client:
        assert client.post("/api/definitions", json={"text": text}).status_code in (200, 201)


def test_list_shows_live_versions(stack):
    with stack.client("channel") as client:
        listed = client.get("/api/definitions").json()["definitions"]
    shipped = {(d["kind"], d["name"]) for d in listed}
    assert {("flow", "order"), ("rules", "order_audit"), ("form", "order")} <= shipped
    with stack.client("channel") as client:
        assert client.get("/api/definitions/widget/order").status_code == 404
