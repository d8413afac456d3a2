"""Changes in flight: cancel and a new address before shipping; both refused with a 409 once shipped."""

from __future__ import annotations

from tests.conftest import fast_flow, order_payload

UNPAID = {"method": "card", "status": "pending"}
NEW_YORK = {"name": "Ann Example", "street": "1 Main St", "city": "New York", "postal_code": "10001", "country": "US"}


def open_reservations(order: dict) -> list[tuple[str, int, str]]:
    """Reservations of an order reserved once: those no release or shipment closed."""
    closed = {a["line"] for a in order["allocations"] if a["state"] in ("release", "ship")}
    return [
        (a["sku"], a["qty"], a["warehouse"])
        for a in order["allocations"]
        if a["state"] == "reserve" and a["line"] not in closed
    ]


def test_cancel_while_unpaid_releases_stock_and_voids_the_payment(stack):
    order_id = stack.submit(order_payload(payment=UNPAID)).json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    with stack.client("channel") as client:
        response = client.post(f"/api/orders/{order_id}/cancel", json={"reason": "changed my mind"})
    assert response.status_code == 202, response.text
    assert response.json() == {
        "accepted": True,
        "order_id": order_id,
        "type": "cancel_requested",
        "step": "await_payment",
    }
    order = stack.wait_status(order_id, "cancelled")
    assert open_reservations(order) == []
    assert [a["state"] for a in order["allocations"]] == ["reserve", "release"]
    payment = next(e for e in order["timeline"] if e["type"] == "payment_cancelled")
    assert payment["message"] == f"payment authorisation voided (ref VOID-{order_id})"
    assert order["payment"]["status"] == "voided"


def test_cancel_of_a_paid_order_held_for_review_refunds_it(stack):
    payload = order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])
    order_id = stack.submit(payload).json()["id"]
    task = stack.open_task(order_id)
    with stack.client("operator") as client:
        assert client.post(f"/api/orders/{order_id}/cancel", json={"reason": "customer called"}).status_code == 202
    order = stack.wait_status(order_id, "cancelled")
    assert next(t for t in order["tasks"] if t["id"] == task["id"])["status"] == "closed"
    refund = next(e for e in order["timeline"] if e["type"] == "payment_cancelled")
    assert refund["message"] == f"payment of 5196.00 refunded (ref REFUND-{order_id})"
    assert order["payment"]["status"] == "refunded"


def test_address_change_before_shipping_is_audited_and_allocated_again(stack):
    order_id = stack.submit(order_payload(payment=UNPAID)).json()["id"]
    before = stack.wait_status(order_id, "awaiting_payment")
    assert {w for _, _, w in open_reservations(before)} <= {"BER", "LYS"}
    with stack.client("channel") as client:
        bad = client.post(f"/api/orders/{order_id}/address", json={"shipping_address": {**NEW_YORK, "country": "USA"}})
        assert bad.status_code == 422
        assert bad.json()["errors"] == [
            {"field": "shipping_address.country", "message": "String should match pattern '^[A-Z]{2}$'"}
        ]
        moved = client.post(f"/api/orders/{order_id}/address", json={"shipping_address": NEW_YORK})
    assert moved.status_code == 202, moved.text
    order = stack.wait_for(
        order_id,
        lambda o: (
            o["status"] == "awaiting_payment"
            and o["shipping_address"]["country"] == "US"
            and [e["type"] for e in o["timeline"]].count("audited") == 2
        ),
    )
    moves = [(a["state"], a["sku"], a["qty"], a["warehouse"]) for a in order["allocations"]]
    assert [m[0] for m in moves] == ["reserve", "release", "reserve"]
    assert moves[-1] == ("reserve", "MUG-LOGO", 2, "NJ1")  # New Jersey serves the US
    types = [e["type"] for e in order["timeline"]]
    assert types[types.index("address_changed") :][:4] == [
        "address_changed",
        "stock_released",
        "audited",
        "stock_reserved",
    ]
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"}).status_code == 202
    shipped = stack.wait_for(order_id, lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    assert shipped["shipments"][0]["warehouse"] == "NJ1"


def test_after_shipping_cancel_and_address_change_are_refused(stack):
    order_id = stack.submit(order_payload()).json()["id"]
    order = stack.wait_for(order_id, lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    tracking = order["shipments"][0]["tracking_number"]
    with stack.client("operator") as client:
        cancel = client.post(f"/api/orders/{order_id}/cancel", json={})
        address = client.post(f"/api/orders/{order_id}/address", json={"shipping_address": NEW_YORK})
        missing = client.post("/api/orders/ord_nope/cancel", json={})
    assert (cancel.status_code, cancel.json()["detail"]) == (
        409,
        f"order {order_id} has shipped ({tracking}); it can no longer be cancelled",
    )
    assert (address.status_code, address.json()["detail"]) == (
        409,
        f"order {order_id} has shipped ({tracking}); it can no longer be changed",
    )
    assert (missing.status_code, missing.json()["detail"]) == (404, "no order 'ord_nope'")
    assert stack.order(order_id)["shipping_address"] == order["shipping_address"]


def test_a_change_at_a_step_that_does_not_take_it_is_refused_naming_the_steps_that_do(stack):
    # A held order's review task takes cancel_requested and address_changed; the
    # delivery exception task of a parcel on its way takes neither (and the parcel has left).
    name = "order_manual_address"
    text = fast_flow(name)
    old = (
        "    events:                          # the customer may still cancel or change the address\n"
        "      cancel_requested: release_cancelled\n      address_changed: change_address\n"
    )
    assert old in text
    stack.publish(text.replace(old, "    events:\n      cancel_requested: release_cancelled\n"))
    payload = order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])
    order_id = stack.submit(payload, flow=name).json()["id"]
    stack.open_task(order_id)
    with stack.client("channel") as client:
        refused = client.post(f"/api/orders/{order_id}/address", json={"shipping_address": NEW_YORK})
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            f"order {order_id} is on_hold at step 'manual_review', which takes no address_changed; "
            "it can be changed only while waiting at a step that does (await_payment, held_by_hand)"
        )
        unsigned = client.post(f"/api/orders/{order_id}/cancel", headers={"Authorization": "Bearer nope"})
        assert unsigned.status_code == 401
        assert client.post(f"/api/orders/{order_id}/cancel").status_code == 202
    stack.wait_status(order_id, "cancelled")
