"""A failed or terminated flow is visible on its order and repairable: retry, cancel or mark handled."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from temporalio.client import Client

from tests.conftest import order_payload


def _flow(name: str, carriers: str = "default") -> str:
    """Reserve, then ship: neither step maps its failures, so a failure needs the repair."""
    return f"""kind: flow
name: {name}
title: Repair test
form: order
start: reserve
steps:
  - id: reserve
    type: activity
    activity: reserve_stock
    params: {{allocation: default}}
    status: reserved
    next: ship
  - id: ship
    type: activity
    activity: create_shipment
    params: {{carriers: {carriers}}}
    status: shipped
    next: done
  - id: done
    type: end
    status: completed
"""


def _failed(stack, order_id: str) -> tuple[dict, dict]:
    """The failed order and its open repair task."""
    order = stack.wait_for(
        order_id, lambda o: o["status"] == "failed" and any(t["status"] == "open" for t in o["tasks"])
    )
    [task] = [t for t in order["tasks"] if t["status"] == "open"]
    assert task["title"] == "Repair failed flow"
    assert task["role"] == "operator"
    assert task["decisions"] == ["retry", "cancel", "handled"]
    return order, task


def _decide(stack, task_id: str, decision: str, role: str = "operator") -> httpx.Response:
    with stack.client(role) as client:
        return client.post(f"/api/tasks/{task_id}/decision", json={"decision": decision, "comment": "repair"})


def _unknown_carriers_order(stack, payment_status: str = "pending") -> tuple[str, dict]:
    name = f"repair_{uuid.uuid4().hex[:8]}"
    stack.publish(_flow(name, carriers=f"missing_{name}"))
    payload = order_payload(payment={"method": "invoice", "status": payment_status})
    response = stack.submit(payload, flow=name)
    assert response.status_code == 201, response.text
    return response.json()["id"], payload


def test_a_step_failing_without_on_error_fails_the_order_and_retry_runs_it_again(stack):
    sku = f"REPAIR-{uuid.uuid4().hex[:8].upper()}"
    with stack.client("operator") as client:
        made = client.put(f"/api/inventory/skus/{sku}", json={"name": "Repair test", "price": 5})
        assert made.status_code in (200, 201), made.text
    name = f"repair_{uuid.uuid4().hex[:8]}"
    stack.publish(_flow(name))
    response = stack.submit(order_payload(lines=[{"sku": sku, "qty": 1, "price": 5}]), flow=name)
    order_id = response.json()["id"]

    order, task = _failed(stack, order_id)
    [failed] = [e for e in order["timeline"] if e["type"] == "failed"]
    assert failed["step"] == "reserve"
    assert failed["message"].startswith("step reserve failed: activity reserve_stock failed (out_of_stock): ")
    assert task["reason"] == failed["data"]["error"]

    assert _decide(stack, task["id"], "approve").status_code == 422  # not a repair decision
    assert _decide(stack, task["id"], "retry", role="channel").status_code == 403
    with stack.client("operator") as client:
        stocked = client.put(f"/api/inventory/BER/{sku}", json={"on_hand": 3})
        assert stocked.status_code == 200, stocked.text
    decided = _decide(stack, task["id"], "retry")
    assert decided.status_code == 200, decided.text
    assert decided.json()["next_step"] == "reserve"

    order = stack.wait_status(order_id, "completed")
    assert [(e["type"], e["step"]) for e in order["timeline"] if e["type"] in ("stock_reserved", "shipped")] == [
        ("stock_reserved", "reserve"),
        ("shipped", "ship"),
    ]
    assert [t["status"] for t in order["tasks"]] == ["decided"]


def test_cancel_after_a_failure_releases_the_stock_and_voids_the_payment(stack):
    order_id, _ = _unknown_carriers_order(stack)
    order, task = _failed(stack, order_id)
    assert "(no_carrier)" in next(e for e in order["timeline"] if e["type"] == "failed")["message"]
    assert [a["state"] for a in order["allocations"]] == ["reserve"]

    assert _decide(stack, task["id"], "cancel").status_code == 200
    order = stack.wait_status(order_id, "cancelled")
    assert sorted(a["state"] for a in order["allocations"]) == ["release", "reserve"]
    assert order["payment"]["status"] == "voided"
    types = [e["type"] for e in order["timeline"]]
    assert types.index("stock_released") < types.index("payment_cancelled")


def test_marking_a_failure_handled_ends_the_flow(stack):
    order_id, _ = _unknown_carriers_order(stack, payment_status="paid")
    _, task = _failed(stack, order_id)
    assert _decide(stack, task["id"], "handled").status_code == 200
    order = stack.wait_status(order_id, "handled")
    assert order["tasks"][0]["decision"] == "handled"
    assert order["timeline"][-1]["message"].endswith("ended: handled")
    assert _decide(stack, task["id"], "retry").status_code == 409  # decided already


def _terminate(stack, workflow_id: str) -> None:
    async def run() -> None:
        client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
        await client.get_workflow_handle(workflow_id).terminate(reason="terminated by a test")

    asyncio.run(run())


def test_a_terminated_workflow_fails_its_order_and_retry_resumes_it(stack):
    payload = order_payload(payment={"method": "invoice", "status": "pending"})
    order_id = stack.submit(payload).json()["id"]
    waiting = stack.wait_status(order_id, "awaiting_payment")
    _terminate(stack, waiting["workflow_id"])

    order, task = _failed(stack, order_id)
    [failed] = [e for e in order["timeline"] if e["type"] == "failed"]
    assert failed["message"] == "flow failed: workflow terminated: terminated by a test"
    assert failed["data"]["previous_status"] == "awaiting_payment"

    assert _decide(stack, task["id"], "retry").status_code == 200
    stack.wait_status(order_id, "awaiting_payment")
    with stack.client("operator") as client:
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"}).status_code == 202
    order = stack.wait_status(order_id, "shipped")
    assert [t["decision"] for t in order["tasks"]] == ["retry"]


def test_a_terminated_workflow_cancelled_by_the_operator_gives_stock_and_money_back(stack):
    order_id = stack.submit(order_payload(payment={"method": "invoice", "status": "pending"})).json()["id"]
    waiting = stack.wait_status(order_id, "awaiting_payment")
    _terminate(stack, waiting["workflow_id"])
    _, task = _failed(stack, order_id)

    assert _decide(stack, task["id"], "cancel").status_code == 200
    order = stack.wait_status(order_id, "cancelled")
    assert sorted(a["state"] for a in order["allocations"]) == ["release", "reserve"]
    assert order["payment"]["status"] == "voided"
