"""Approval steps: escalation, four-eyes, claims, bulk decisions, the audit log."""

from __future__ import annotations

import pytest

from tests.conftest import fast_flow, order_payload, unique

HELD = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a new address: review
FOUR_EYES = [{"sku": "LAPTOP-14", "qty": 9, "price": 1299.0}]  # 11691: above 10000


@pytest.fixture(scope="module")
def slow_review(stack) -> str:
    """The shipped flow with reviews that wait long enough for people to act."""
    name = "appr_" + unique("f").lower().replace("-", "_")
    stack.publish(fast_flow(name, review_due="10m", escalation_due="10m"))
    return name


def _decide(stack, task_id: str, decision: str, comment: str = "", role: str = "operator"):
    with stack.client(role) as client:
        return client.post(f"/api/tasks/{task_id}/decision", json={"decision": decision, "comment": comment})


def test_unanswered_review_escalates_to_admin_then_cancels(stack):
    name = "esc_" + unique("f").lower().replace("-", "_")
    stack.publish(fast_flow(name, review_due="1s", escalation_due="3s"))
    order_id = stack.submit(order_payload(lines=HELD), flow=name).json()["id"]
    order = stack.wait_for(order_id, lambda o: any(t["role"] == "admin" for t in o["tasks"]))
    task = order["tasks"][0]
    assert task["escalated_at"] is not None
    refused = _decide(stack, task["id"], "approve", "ok")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "only role 'admin' may decide this task"
    order = stack.wait_status(order_id, "cancelled")
    assert [e["type"] for e in order["timeline"]] == [
        "audited",
        "task_opened",
        "task_escalated",
        "task_expired",
        "ended",
    ]
    assert order["decisions"] == []


def test_escalated_task_is_decided_by_admin(stack):
    name = "esa_" + unique("f").lower().replace("-", "_")
    stack.publish(fast_flow(name, review_due="1s", escalation_due="10m"))
    order_id = stack.submit(order_payload(lines=HELD), flow=name).json()["id"]
    order = stack.wait_for(order_id, lambda o: any(t["role"] == "admin" for t in o["tasks"]))
    response = _decide(stack, order["tasks"][0]["id"], "approve", "checked", role="admin")
    assert response.status_code == 200, response.text
    order = stack.wait_status(order_id, "shipped")
    assert [(d["user"], d["decision"], d["final"]) for d in order["decisions"]] == [("admin", "approve", True)]


def test_four_eyes_needs_two_different_people(stack, slow_review):
    order_id = stack.submit(order_payload(lines=FOUR_EYES), flow=slow_review).json()["id"]
    task = stack.open_task(order_id)
    assert task["needs_approvals"] == 2
    first = _decide(stack, task["id"], "approve", "looks fine")
    assert first.status_code == 200, first.text
    assert first.json()["next_step"] == "manual_review"
    stack.wait_for(order_id, lambda o: o["tasks"][0]["approvals"] == ["operator"])
    again = _decide(stack, task["id"], "approve", "me again")
    assert again.status_code == 409
    assert again.json()["detail"] == "operator approved already; four-eyes needs a second person"
    assert stack.order(order_id)["status"] == "on_hold"
    second = _decide(stack, task["id"], "approve", "second pair of eyes", role="admin")
    assert second.status_code == 200, second.text
    order = stack.wait_status(order_id, "shipped")
    assert [(d["user"], d["decision"], d["final"]) for d in order["decisions"]] == [
        ("operator", "approve", False),
        ("admin", "approve", True),
    ]
    assert [e["type"] for e in order["timeline"]][:4] == [
        "audited",
        "task_opened",
        "task_approved_once",
        "task_decided",
    ]


def test_claims_are_personal_and_admins_reassign(stack, slow_review):
    order_id = stack.submit(order_payload(lines=HELD), flow=slow_review).json()["id"]
    task = stack.open_task(order_id)
    with stack.client("operator") as operator, stack.client("admin") as admin:
        claimed = operator.post(f"/api/tasks/{task['id']}/claim")
        assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "operator"
        mine = operator.get("/api/tasks", params={"claimed": "me"}).json()["tasks"]
        assert task["id"] in [t["id"] for t in mine]
        to_other = operator.post(f"/api/tasks/{task['id']}/claim", json={"user": "admin"})
        assert to_other.status_code == 403
        assert to_other.json()["detail"] == "only an admin may assign a task to someone else"
        reassigned = admin.post(f"/api/tasks/{task['id']}/claim", json={"user": "admin"})
        assert reassigned.status_code == 200 and reassigned.json()["claimed_by"] == "admin"
        blocked = operator.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve", "comment": "x"})
        assert blocked.status_code == 409
        assert blocked.json()["detail"] == "task is claimed by admin"
        stolen = operator.post(f"/api/tasks/{task['id']}/unclaim")
        assert stolen.status_code == 409
        released = admin.post(f"/api/tasks/{task['id']}/unclaim")
        assert released.status_code == 200 and released.json()["claimed_by"] is None
    assert _decide(stack, task["id"], "approve", "fine").status_code == 200
    stack.wait_status(order_id, "shipped")


def test_bulk_approve_returns_a_result_per_task(stack, slow_review):
    order_ids = [stack.submit(order_payload(lines=HELD), flow=slow_review).json()["id"] for _ in range(3)]
    tasks = [stack.open_task(order_id)["id"] for order_id in order_ids]
    with stack.client("operator") as client:
        response = client.post("/api/tasks/decisions", json={"task_ids": [*tasks, "nope-t1"], "decision": "approve"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["decided"] == 3
    assert [(r["task_id"], r["ok"], r["status_code"]) for r in body["results"]] == [
        *[(t, True, 200) for t in tasks],
        ("nope-t1", False, 404),
    ]
    for order_id in order_ids:
        stack.wait_status(order_id, "shipped")


def test_audit_log_is_queryable(stack, slow_review):
    order_id = stack.submit(order_payload(lines=HELD), flow=slow_review).json()["id"]
    task = stack.open_task(order_id)
    assert _decide(stack, task["id"], "reject", "address is a parcel locker").status_code == 200
    stack.wait_status(order_id, "rejected")
    with stack.client("analyst") as client:
        log = client.get("/api/decisions", params={"order_id": order_id}).json()["decisions"]
    assert [(d["task_id"], d["user"], d["role"], d["decision"], d["comment"]) for d in log] == [
        (task["id"], "operator", "operator", "reject", "address is a parcel locker")
    ]


def test_inbox_filters_and_pages(stack, slow_review):
    channel = "phone"
    order_ids = [
        stack.submit(order_payload(lines=HELD, channel=channel), flow=slow_review).json()["id"] for _ in range(3)
    ]
    for order_id in order_ids:
        stack.open_task(order_id)
    with stack.client("operator") as client:
        page = client.get("/api/tasks", params={"channel": channel, "limit": 2}).json()
        assert page["total"] >= 3 and len(page["tasks"]) == 2
        assert {t["channel"] for t in page["tasks"]} == {channel}
        by_reason = client.get("/api/tasks", params={"channel": channel, "reason": "first-time address"}).json()
        assert by_reason["total"] == page["total"]
        none = client.get("/api/tasks", params={"channel": channel, "reason": "no such reason"}).json()
        assert none["total"] == 0
        bulk = client.post(
            "/api/tasks/decisions",
            json={
                "task_ids": [
                    t["id"] for t in client.get("/api/tasks", params={"channel": channel, "limit": 500}).json()["tasks"]
                ],
                "decision": "reject",
                "comment": "test clean-up",
            },
        )
        assert all(r["ok"] for r in bulk.json()["results"])
