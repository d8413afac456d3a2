"""The shipped order pipeline end to end: API -> workflow -> read model."""

from __future__ import annotations

import pytest

from tests.conftest import fast_flow, order_payload


@pytest.fixture(scope="module")
def fast(stack) -> str:
    """The shipped flow with two-second payment and review waits."""
    name = "order_fast"
    stack.publish(fast_flow(name))
    return name


def test_prepaid_order_runs_to_completion(stack):
    response = stack.submit(order_payload())
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]

    order = stack.wait_status(order_id, "shipped")
    assert order["audit"]["action"] == "approve"
    assert order["audit"]["fired"] == []
    assert order["audit"]["rules"]["name"] == "order_audit"
    assert order["flow"] == {"name": "order", "version": 1}
    assert [(a["sku"], a["qty"], a["state"]) for a in order["allocations"]] == [
        ("MUG-LOGO", 2, "reserve"),
        ("MUG-LOGO", 2, "ship"),
    ]
    assert order["shipments"][0]["tracking_number"].startswith("SIM")

    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    order = stack.wait_status(order_id, "completed")
    assert [e["type"] for e in order["timeline"]] == [
        "audited",
        "stock_reserved",
        "notification",
        "shipped",
        "notification",
        "event",
        "notification",
        "completed",
    ]
    assert order["temporal_url"].endswith(f"/workflows/{order['workflow_id']}")


def test_held_order_approved_by_operator_continues(stack):
    payload = order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])
    order_id = stack.submit(payload).json()["id"]
    task = stack.open_task(order_id)
    order = stack.order(order_id)
    assert order["status"] == "on_hold"
    assert order["audit"]["action"] == "review"
    assert order["audit"]["fired"] == [
        {
            "rule": "high_value_new_address",
            "action": "review",
            "reason": "amount 5196 to a first-time address",
            "tag": None,
        },
        {"rule": "high_value", "action": "tag", "reason": "order of 5196", "tag": "high_value"},
    ]
    assert order["tags"] == ["high_value"]
    assert task["reason"] == "amount 5196 to a first-time address"
    assert task["decisions"] == ["approve", "reject"]

    with stack.client("operator") as client:
        response = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve", "comment": "called"})
    assert response.status_code == 200, response.text
    assert response.json() == {"task_id": task["id"], "decision": "approve", "next_step": "reserve"}
    order = stack.wait_status(order_id, "shipped")
    decided = next(t for t in order["tasks"] if t["id"] == task["id"])
    assert (decided["status"], decided["decision"], decided["decided_by"], decided["comment"]) == (
        "decided",
        "approve",
        "operator",
        "called",
    )


def test_held_order_rejected_needs_a_comment_and_reserves_nothing(stack):
    payload = order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])
    order_id = stack.submit(payload).json()["id"]
    task = stack.open_task(order_id)
    with stack.client("operator") as client:
        refused = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "reject"})
        assert refused.status_code == 422
        assert refused.json()["detail"] == "a comment is required to reject"
        unknown = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "maybe"})
        assert unknown.status_code == 422
        assert unknown.json()["detail"] == "unknown decision 'maybe'; choose one of: approve, reject"
        accepted = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "reject", "comment": "fraud"})
        assert accepted.status_code == 200, accepted.text
        again = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve", "comment": "x"})
        assert again.status_code == 409
    order = stack.wait_status(order_id, "rejected")
    assert order["allocations"] == []
    assert [e["type"] for e in order["timeline"]] == ["audited", "task_opened", "task_decided", "ended"]


@pytest.mark.parametrize("role", ["analyst", "channel"])
def test_only_operators_decide_tasks(stack, role):
    payload = order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])
    order_id = stack.submit(payload).json()["id"]
    task = stack.open_task(order_id)
    with stack.client(role) as client:
        response = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve", "comment": "ok"})
    assert response.status_code == 403
    assert response.json()["detail"] == f"role {role!r} may not do this; needs operator"
    order = stack.order(order_id)
    assert order["status"] == "on_hold"
    assert [t["status"] for t in order["tasks"]] == ["open"]
    assert [e["type"] for e in order["timeline"]] == ["audited", "task_opened"]


def test_unpaid_order_is_cancelled_and_its_stock_released(stack, fast):
    before = _available(stack, "HOODIE-GRY-M")
    payload = order_payload(
        lines=[{"sku": "HOODIE-GRY-M", "qty": 3, "price": 49.0}], payment={"method": "invoice", "status": "pending"}
    )
    order_id = stack.submit(payload, flow=fast).json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    assert _available(stack, "HOODIE-GRY-M") == before - 3
    order = stack.wait_status(order_id, "cancelled", timeout=30)
    assert [a["state"] for a in order["allocations"]] == ["reserve", "release"]
    assert [e["type"] for e in order["timeline"]] == [
        "audited",
        "stock_reserved",
        "waiting",
        "timed_out",
        "stock_released",
        "payment_cancelled",
        "notification",
        "ended",
    ]
    assert order["flow"]["name"] == fast
    assert _available(stack, "HOODIE-GRY-M") == before


def test_payment_event_releases_an_unpaid_order_to_shipping(stack, fast):
    payload = order_payload(payment={"method": "invoice", "status": "pending"})
    order_id = stack.submit(payload, flow="order").json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    with stack.client("channel") as client:
        response = client.post(
            f"/api/orders/{order_id}/events", json={"type": "payment_received", "data": {"reference": "PAY-1"}}
        )
        assert response.status_code == 202
    order = stack.wait_status(order_id, "shipped")
    assert order["payment"]["status"] == "paid"
    assert "payment received (ref PAY-1)" in [e["message"] for e in order["timeline"]]


def test_unanswered_review_expires_and_cancels(stack, fast):
    payload = order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])
    order_id = stack.submit(payload, flow=fast).json()["id"]
    order = stack.wait_status(order_id, "cancelled", timeout=30)
    assert [t["status"] for t in order["tasks"]] == ["expired"]
    assert [e["type"] for e in order["timeline"]] == [
        "audited",
        "task_opened",
        "task_escalated",
        "task_expired",
        "ended",
    ]


def test_event_for_a_finished_order_is_refused(stack, fast):
    payload = order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])
    order_id = stack.submit(payload, flow=fast).json()["id"]
    stack.wait_status(order_id, "cancelled", timeout=30)
    with stack.client("channel") as client:
        response = client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"})
    assert response.status_code == 409
    assert response.json()["detail"] == f"order {order_id} is cancelled; its flow has ended"


def _available(stack, sku: str) -> int:
    with stack.client("operator") as client:
        rows = client.get("/api/inventory", params={"sku": sku}).json()["stock"]
    return sum(r["available"] for r in rows)
