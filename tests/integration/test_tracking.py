"""Tracking events end to end: the simulated carrier and the signed carrier webhook move the order."""

from __future__ import annotations

import json

import httpx

from services.orders.channels import SIGNATURE_FORMAT, signed_headers
from tests.conftest import order_payload


def shipped_order(stack, **overrides) -> dict:
    response = stack.submit(order_payload(**overrides))
    assert response.status_code == 201, response.text
    return stack.wait_for(
        response.json()["id"],
        lambda o: (
            o["status"] == "shipped"
            and o["shipments"]
            and any(e["type"] == "notification" and e["data"]["event"] == "shipped" for e in o["timeline"])
        ),
        timeout=60,
    )


def advance(stack, tracking: str, **body) -> httpx.Response:
    with stack.client("operator") as client:
        return client.post(f"/api/carriers/simulated/parcels/{tracking}/advance", json=body or None)


def test_simulated_parcel_goes_in_transit_out_for_delivery_and_delivered(stack):
    order = shipped_order(stack)
    tracking = order["shipments"][0]["tracking_number"]

    moved = advance(stack, tracking)
    assert moved.status_code == 202, moved.text
    assert moved.json() == {
        "order_id": order["id"],
        "tracking_number": tracking,
        "type": "in_transit",
        "duplicate": False,
        "order_event": "in_transit",
    }
    stack.wait_for(
        order["id"], lambda o: any(e["type"] == "event" and e["data"]["type"] == "in_transit" for e in o["timeline"])
    )
    assert advance(stack, tracking).json()["type"] == "out_for_delivery"
    stack.wait_status(order["id"], "out_for_delivery")
    assert advance(stack, tracking).json()["order_event"] == "delivered"
    done = stack.wait_status(order["id"], "completed")

    assert done["shipments"][0]["status"] == "delivered"
    steps = [e["step"] for e in done["timeline"] if e["type"] in ("event", "notification")]
    assert steps[-5:] == ["notify_shipped", "await_delivery", "await_delivery", "out_for_delivery", "notify_delivered"]
    with stack.client("operator") as client:
        history = client.get(f"/api/orders/{order['id']}/shipments").json()["shipments"][0]["tracking"]
    assert [h["type"] for h in history] == ["in_transit", "out_for_delivery", "delivered"]
    again = advance(stack, tracking)
    assert (again.status_code, again.json()["detail"]) == (409, f"parcel {tracking} is delivered already")


def carrier_post(stack, carrier: str, payload: dict, secret: str | None = None) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers |= signed_headers(secret, body)
    return httpx.post(f"{stack.base_url}/api/carriers/{carrier}/events", content=body, headers=headers)


def test_carrier_webhook_is_signed_idempotent_and_an_exception_opens_an_operator_task(stack):
    order = shipped_order(stack)
    parcel = order["shipments"][0]
    carrier, tracking = parcel["carrier"], parcel["tracking_number"]
    secret = f"dev-secret-carrier-{carrier}"
    event = {"tracking_number": tracking, "type": "exception", "event_id": "ev-1", "description": "address not found"}

    unsigned = carrier_post(stack, carrier, event)
    assert (unsigned.status_code, unsigned.json()["detail"]) == (
        401,
        f"missing X-OMS-Signature header ({SIGNATURE_FORMAT})",
    )
    forged = carrier_post(stack, carrier, event, secret="wrong")
    assert (forged.status_code, forged.json()["detail"]) == (401, "X-OMS-Signature does not match the body")
    unknown = carrier_post(stack, carrier, {**event, "type": "teleported"}, secret)
    assert (unknown.status_code, unknown.json()["detail"]) == (
        422,
        "type: 'teleported' is not one of in_transit, out_for_delivery, delivered, exception",
    )
    nowhere = carrier_post(stack, carrier, {**event, "tracking_number": "SIMNOPE"}, secret)
    assert (nowhere.status_code, nowhere.json()["detail"]) == (404, "tracking_number: no parcel 'SIMNOPE'")

    taken = carrier_post(stack, carrier, event, secret)
    assert taken.status_code == 202, taken.text
    assert taken.json()["order_event"] == "delivery_exception"
    task = stack.open_task(order["id"])
    assert (task["title"], task["decisions"]) == ("Delivery exception", ["resolved", "lost"])
    assert stack.order(order["id"])["status"] == "delivery_exception"
    assert carrier_post(stack, carrier, event, secret).json()["duplicate"] is True

    # The operator sorts it out with the carrier; the parcel then arrives.
    with stack.client("operator") as client:
        decided = client.post(
            f"/api/tasks/{task['id']}/decision", json={"decision": "resolved", "comment": "new address given"}
        )
    assert decided.status_code == 200, decided.text
    assert decided.json()["next_step"] == "await_delivery"
    delivered = carrier_post(
        stack, carrier, {"tracking_number": tracking, "type": "delivered", "event_id": "ev-2"}, secret
    )
    assert delivered.json()["order_event"] == "delivered"
    stack.wait_status(order["id"], "completed")


def test_a_delivery_after_an_exception_closes_the_task_by_itself(stack):
    order = shipped_order(stack)
    tracking = order["shipments"][0]["tracking_number"]
    assert advance(stack, tracking, type="exception", description="nobody home").status_code == 202
    task = stack.open_task(order["id"])
    assert advance(stack, tracking, type="delivered").json()["order_event"] == "delivered"
    done = stack.wait_status(order["id"], "completed")
    closed = next(t for t in done["tasks"] if t["id"] == task["id"])
    assert closed["status"] == "closed"
    assert any(
        e["type"] == "task_closed" and e["message"] == "Delivery exception: closed by event delivered"
        for e in done["timeline"]
    )


def test_an_order_with_two_parcels_is_delivered_when_the_last_arrives(stack):
    with stack.client("operator") as client:
        for warehouse in ("BER", "LYS"):
            assert (
                client.put(
                    f"/api/inventory/{warehouse}/TSHIRT-WHT-L", json={"on_hand": 2, "reason": "test"}
                ).status_code
                == 200
            )
    # Only this test uses white T-shirts: two each in Berlin and Lyon, each parcel worth the split minimum.
    order = shipped_order(stack, lines=[{"sku": "TSHIRT-WHT-L", "qty": 4, "price": 19.9}])
    first, second = (p["tracking_number"] for p in order["shipments"])
    assert advance(stack, first, type="delivered").json()["order_event"] is None
    assert stack.order(order["id"])["status"] == "shipped"
    assert advance(stack, second, type="delivered").json()["order_event"] == "delivered"
    stack.wait_status(order["id"], "completed")
