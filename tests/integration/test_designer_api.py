"""The designer's API: validate with lines and test cases, publish refused by a failing case,
versions, diff, rollback, the publish log, what-if over recorded orders, and the role checks."""

from __future__ import annotations

from tests.conftest import ROOT, fast_flow, order_payload, unique

RULES = (ROOT / "definitions" / "rules" / "order_audit.yaml").read_text(encoding="utf-8")


def _name(prefix: str) -> str:
    return prefix + "_" + unique("d").lower().replace("-", "_")


def _small_rules(name: str, limit: int = 1000, tests: str = "") -> str:
    return (
        f"# Small rule set for designer tests.\nkind: rules\nname: {name}\n"
        f'rules:\n  - id: big\n    when: "order.total > {limit}"   # the limit under test\n'
        f'    action: review\n    reason: "order of {{{{ order.total }}}}"\n' + tests
    )


PASSING_CASE = (
    "tests:\n  - name: big orders are held\n    order: {total: 5000}\n    expect: {action: review, fired: [big]}\n"
)
FAILING_CASE = "tests:\n  - name: a 900 order is held\n    order: {total: 900}\n    expect: {action: review}\n"


def test_validate_gives_each_error_its_line_and_runs_the_test_cases(stack):
    text = _small_rules("v_lines", tests=PASSING_CASE).replace("action: review", "action: hold", 1)
    with stack.client("analyst") as client:
        body = client.post("/api/definitions/validate", json={"text": text}).json()
    assert body["valid"] is False
    assert body["errors"] == [
        {"path": "$.rules[0].action", "line": 7, "message": "'hold' is not one of 'approve', 'review', 'reject', 'tag'"}
    ]
    assert text.splitlines()[6].strip() == "action: hold"

    with stack.client("analyst") as client:
        body = client.post(
            "/api/definitions/validate", json={"text": _small_rules("v_lines", tests=PASSING_CASE)}
        ).json()
    assert body["valid"] is True
    assert body["tests"] == [
        {
            "name": "big orders are held",
            "passed": True,
            "path": "$.tests[0]",
            "line": 10,
            "detail": "action review, fired: big",
        }
    ]


def test_publish_is_refused_while_a_test_case_fails(stack):
    name = _name("tc")
    with stack.client("analyst") as client:
        refused = client.post("/api/definitions", json={"text": _small_rules(name, tests=FAILING_CASE)})
        assert refused.status_code == 422
        assert refused.json()["errors"] == [
            {
                "path": "$.tests[0]",
                "line": 10,
                "message": "test 'a 900 order is held' failed: expected action review, got approve "
                "(action approve, fired: none)",
            }
        ]
        assert client.get(f"/api/definitions/rules/{name}").status_code == 404  # nothing written
        # Lowering the limit makes the case pass: now it publishes.
        published = client.post(
            "/api/definitions", json={"text": _small_rules(name, 500, FAILING_CASE), "note": "limit 500"}
        )
        assert published.status_code == 201, published.text
        assert published.json()["version"] == 1


def test_versions_diff_rollback_and_the_publish_log(stack):
    name = _name("hist")
    v1, v2 = _small_rules(name, 1000), _small_rules(name, 2000)
    with stack.client("analyst") as client:
        assert client.post("/api/definitions", json={"text": v1, "note": "first"}).json()["version"] == 1
        assert client.post("/api/definitions", json={"text": v2, "note": "raise the limit"}).json()["version"] == 2
        # The stored text is the analyst's text: comments and key order kept.
        assert client.get(f"/api/definitions/rules/{name}/versions/2").json()["text"] == v2

        diff = client.get(f"/api/definitions/rules/{name}/diff", params={"from": 1, "to": 2}).json()
        assert (diff["added"], diff["removed"]) == (1, 1)
        changed = [
            (line["kind"], line["old_no"], line["new_no"], line["text"])
            for line in diff["lines"]
            if line["kind"] != "same"
        ]
        assert changed == [
            ("removed", 6, None, '    when: "order.total > 1000"   # the limit under test'),
            ("added", None, 6, '    when: "order.total > 2000"   # the limit under test'),
        ]
        assert '-    when: "order.total > 1000"' in diff["unified"]
        assert client.get(f"/api/definitions/rules/{name}/diff", params={"from": 1, "to": 9}).status_code == 404

        rolled = client.post(f"/api/definitions/rules/{name}/rollback", json={"version": 1, "note": "too lax"})
        assert rolled.status_code == 201, rolled.text
        assert (rolled.json()["version"], rolled.json()["note"]) == (3, "too lax")
        assert client.get(f"/api/definitions/rules/{name}").json()["live"]["text"] == v1
        again = client.post(f"/api/definitions/rules/{name}/rollback", json={"version": 1})
        assert again.status_code == 200 and again.json()["created"] is False
        assert client.post(f"/api/definitions/rules/{name}/rollback", json={"version": 7}).status_code == 404
        # The log is for admins.
        assert client.get("/api/definitions/log").status_code == 403

    with stack.client("admin") as client:
        log = client.get("/api/definitions/log", params={"kind": "rules", "name": name}).json()["entries"]
    assert [(e["version"], e["author"], e["note"], e["previous_version"]) for e in log] == [
        (3, "analyst", "too lax", 2),
        (2, "analyst", "raise the limit", 1),
        (1, "analyst", "first", None),
    ]
    assert '+    when: "order.total > 2000"' in log[1]["diff"]
    assert log[0]["diff"].startswith(f"--- rules/{name} v2\n+++ rules/{name} v3\n")


def test_roles_everybody_reads_only_analysts_and_admins_change(stack):
    name = _name("roles")
    for role in ("operator", "channel"):
        with stack.client(role) as client:
            assert client.get("/api/definitions").status_code == 200
            assert client.get("/api/definitions/rules/order_audit").status_code == 200
            # Validating and what-if are the editors' tools: they run stored test cases and replay orders.
            assert client.post("/api/definitions/validate", json={"text": _small_rules(name)}).status_code == 403
            assert client.post("/api/definitions/whatif", json={"text": _small_rules(name)}).status_code == 403
            refused = client.post("/api/definitions", json={"text": _small_rules(name)})
            assert refused.status_code == 403
            assert refused.json()["detail"] == f"role {role!r} may not do this; needs analyst"
            assert client.post("/api/definitions/rules/order_audit/rollback", json={"version": 1}).status_code == 403
    with stack.client() as anonymous:
        assert anonymous.get("/api/definitions").status_code == 401
        assert anonymous.post("/api/definitions/whatif", json={"text": _small_rules(name)}).status_code == 401
    with stack.client("admin") as client:
        assert client.post("/api/definitions", json={"text": _small_rules(name)}).status_code == 201


def _audited(stack, count: int, **overrides) -> list[str]:
    ids = [stack.submit(order_payload(**overrides)).json()["id"] for _ in range(count)]
    return [stack.wait_for(i, lambda o: o.get("audit") is not None)["id"] for i in ids]


def test_whatif_shows_orders_a_draft_rule_would_hold_and_touches_none(stack):
    email = f"{unique('wi').lower()}@example.com"
    ids = _audited(stack, 3, customer={"name": "What If", "email": email})
    before = {i: stack.order(i) for i in ids}
    draft = RULES.replace(
        "rules:\n",
        (
            "rules:\n  - id: watched_customer\n"
            f"    when: \"order.customer.email == '{email}'\"\n"
            '    action: review\n    reason: "customer {{ order.customer.email }} is watched"\n'
        ),
        1,
    )
    with stack.client("analyst") as client:
        response = client.post("/api/definitions/whatif", json={"text": draft, "last": 200})
    assert response.status_code == 200, response.text
    body = response.json()
    held = {o["order_id"]: o for o in body["orders"] if o["change"] == "now_held"}
    assert set(ids) <= set(held)
    assert body["now_held"] >= 3 and body["fired_counts"]["watched_customer"] == 3
    first = held[ids[0]]
    assert (first["before"], first["after"]) == ("approve", "review")
    assert {"rule": "watched_customer", "action": "review", "reason": f"customer {email} is watched"} in first["fired"]
    assert body["summary"].startswith(f"{body['now_held']} of {body['considered']} orders would now be held")
    for order_id in ids:  # their recorded audit is untouched (the workflow moves them on meanwhile)
        after = stack.order(order_id)
        assert (after["audit"], after["flow"], after["tags"]) == (
            before[order_id]["audit"],
            before[order_id]["flow"],
            before[order_id]["tags"],
        )
    with stack.client("analyst") as client:
        live = client.get("/api/definitions/rules/order_audit").json()["live"]["text"]
    assert "watched_customer" not in live


def test_whatif_of_a_flow_shows_the_path_orders_would_take(stack):
    name = _name("wf")
    text = fast_flow(name, delivery_timeout="10m")
    stack.publish(text)
    ids = [stack.submit(order_payload(), flow=name).json()["id"] for _ in range(2)]
    for order_id in ids:
        stack.wait_status(order_id, "shipped")
    # Draft: every approved order goes to a person first.
    draft = text.replace(
        "      approve: reserve\n      review: manual_review",
        "      approve: manual_review\n      review: manual_review",
        1,
    )
    assert draft != text
    with stack.client("analyst") as client:
        body = client.post("/api/definitions/whatif", json={"text": draft, "last": 50}).json()
    assert body["considered"] == 2 and body["changed"] == 2
    changed = {o["order_id"]: o for o in body["orders"]}
    before = changed[ids[0]]["before"]  # the shipped flow's path to the delivery wait
    assert (before[:3], before[-1]) == (["audit", "reserve", "payment_check"], "await_delivery")
    assert changed[ids[0]]["after"] == ["audit", "manual_review"]
    # Both orders wait for their delivery on v1: counted as running on it.
    with stack.client("operator") as client:
        versions = client.get(f"/api/definitions/flow/{name}").json()["versions"]
    assert [(v["version"], v["orders"], v["running"]) for v in versions] == [(1, 2, 2)]


def test_whatif_of_a_flow_replays_orders_past_the_waits_they_passed(stack):
    name = _name("wr")
    text = fast_flow(name, payment_timeout="10m", delivery_timeout="10m")
    stack.publish(text)
    prepaid = stack.submit(order_payload(), flow=name).json()["id"]
    unpaid = stack.submit(order_payload(payment={"method": "card", "status": "pending"}), flow=name).json()["id"]
    stack.wait_status(prepaid, "shipped")
    stack.wait_status(unpaid, "awaiting_payment")
    with stack.client("operator") as client:
        response = client.post(f"/api/orders/{unpaid}/events", json={"type": "payment_received"})
        assert response.status_code == 202, response.text
        assert client.post(f"/api/orders/{prepaid}/events", json={"type": "delivered"}).status_code == 202
    stack.wait_status(prepaid, "completed")
    stack.wait_status(unpaid, "shipped")
    # Draft: a person confirms every delivery. The prepaid order got its delivery: its path changes after
    # the wait it passed. The other passed its payment wait and still waits for its parcel: unchanged.
    at_the_wait = "      delivered: notify_delivered\n      delivery_exception: delivery_exception\n"
    after = "    on_timeout: delivery_check\n\n  - id: out_for_delivery"
    assert text.count(at_the_wait + after) == 1
    draft = text.replace(at_the_wait + after, at_the_wait.replace("notify_delivered", "delivery_check") + after)
    with stack.client("analyst") as client:
        response = client.post("/api/definitions/whatif", json={"text": draft, "last": 50})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["considered"], body["changed"], body["unchanged"]) == (2, 1, 1)
    assert (body["ended"], body["waiting"], body["failing"]) == (0, 2, 0)
    assert body["stops"] == {"await_delivery": 1, "delivery_check": 1}
    assert body["summary"] == (
        "1 of 2 orders would take another path (compared with the live version v1); "
        "with the draft 0 would end, 2 would wait"
    )
    (order,) = body["orders"]
    assert order["order_id"] == prepaid
    assert order["before"][-3:] == ["await_delivery", "notify_delivered", "completed"]
    assert order["after"][-2:] == ["await_delivery", "delivery_check"]
    assert (order["before_outcome"], order["after_outcome"]) == ("completed", "waiting at delivery_check")
    # The same draft through the live version itself: nothing changes, the unpaid order passes its payment wait.
    with stack.client("analyst") as client:
        same = client.post("/api/definitions/whatif", json={"text": text, "last": 50}).json()
    assert (same["changed"], same["ended"], same["waiting"]) == (0, 1, 1)
    assert same["stops"] == {"await_delivery": 1, "completed": 1}


def test_validate_reports_a_failing_case_of_a_carrier_table_at_its_expectation(stack):
    text = (ROOT / "definitions" / "carriers" / "default.yaml").read_text(encoding="utf-8")
    broken = text.replace("expect: {carrier: sim_post,", "expect: {carrier: sim_parcel,", 1)
    assert broken != text
    with stack.client("analyst") as client:
        body = client.post("/api/definitions/validate", json={"text": broken}).json()
        refused = client.post("/api/definitions", json={"text": broken})
    assert body["valid"] is False
    line = next(n for n, row in enumerate(broken.splitlines(), start=1) if "carrier: sim_parcel, service" in row)
    assert body["errors"] == [
        {
            "path": "$.tests[0].expect.carrier",
            "line": line,
            "message": "test 'a light parcel in Germany goes by post at the flat price' failed: "
            "expected 'sim_parcel', got 'sim_post'",
        }
    ]
    assert [t["passed"] for t in body["tests"]] == [False, True, True, True]
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "$.tests[0].expect.carrier"


def test_whatif_refuses_an_invalid_draft_and_other_kinds(stack):
    with stack.client("analyst") as client:
        broken = client.post("/api/definitions/whatif", json={"text": _small_rules("wi_bad").replace("review", "hold")})
        assert broken.status_code == 422
        assert broken.json()["errors"][0]["path"] == "$.rules[0].action"
        form = (ROOT / "definitions" / "forms" / "order.yaml").read_text()
        other = client.post("/api/definitions/whatif", json={"text": form})
        assert other.status_code == 422
        assert other.json()["detail"] == "what-if runs rule sets and flows, not form"
        assert client.post("/api/definitions/whatif", json={"text": _small_rules("x"), "last": 0}).status_code == 422


def test_drafts_are_kept_per_analyst_and_never_run(stack):
    name = _name("dr")
    v1 = fast_flow(name, delivery_timeout="10m")
    stack.publish(v1)
    first = stack.submit(order_payload(), flow=name).json()["id"]
    stack.wait_status(first, "shipped")
    # A draft, not even valid yet, and then a valid one that ends orders as "delivered".
    with stack.client("analyst") as client:
        broken = client.put("/api/definitions/drafts", json={"text": v1.replace("start: audit", "start: audits")})
        assert broken.status_code == 200, broken.text
        v2 = v1.replace(
            "  - id: completed\n    type: end\n    status: completed",
            "  - id: completed\n    type: end\n    status: delivered",
        )
        saved = client.put("/api/definitions/drafts", json={"text": v2}).json()
        assert (saved["kind"], saved["name"], saved["author"], saved["text"]) == ("flow", name, "analyst", v2)
        assert client.get(f"/api/definitions/drafts/flow/{name}").json()["text"] == v2
        assert client.get(f"/api/definitions/flow/{name}").json()["live"]["text"] == v1
        nameless = client.put("/api/definitions/drafts", json={"text": "kind: flow\ntitle: no name\n"})
        assert nameless.status_code == 422
        assert nameless.json()["errors"] == [
            {"path": "$.name", "message": "a draft needs a name: lower-case letters, digits and _"}
        ]
    with stack.client("admin") as client:  # drafts are per person
        assert client.get(f"/api/definitions/drafts/flow/{name}").status_code == 404
    with stack.client("operator") as client:
        assert client.put("/api/definitions/drafts", json={"text": v2}).status_code == 403

    # Orders keep running v1 while the draft exists: the one waiting and a new one.
    second = stack.submit(order_payload(), flow=name).json()["id"]
    stack.wait_status(second, "shipped")
    with stack.client("channel") as client:
        for order_id in (first, second):
            assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    for order_id in (first, second):
        order = stack.wait_status(order_id, "completed")
        assert order["flow"] == {"name": name, "version": 1}

    # Published, the draft is v2 for orders started afterwards, and the draft is gone.
    with stack.client("analyst") as client:
        published = client.post("/api/definitions", json={"text": v2, "note": "delivered"})
        assert published.status_code == 201 and published.json()["version"] == 2
        assert client.get(f"/api/definitions/drafts/flow/{name}").status_code == 404
    third = stack.submit(order_payload(), flow=name).json()["id"]
    stack.wait_status(third, "shipped")
    with stack.client("channel") as client:
        client.post(f"/api/orders/{third}/events", json={"type": "delivered"})
    assert stack.wait_status(third, "delivered")["flow"] == {"name": name, "version": 2}
