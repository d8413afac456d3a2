"""Every definition an order uses is pinned at intake: publishing new versions never changes an order in flight."""

from __future__ import annotations

import time
import uuid

import httpx

from tests.conftest import order_payload


def _flow(name: str, tag: str) -> str:
    return f"""kind: flow
name: {name}
title: Pinning test
form: order
start: reserve
steps:
  - id: reserve
    type: activity
    activity: reserve_stock
    params: {{allocation: default}}
    status: reserved
    next: await_payment
  - id: await_payment
    type: wait
    status: awaiting_payment
    timeout: 1h
    on: {{payment_received: ship}}
    on_timeout: release
  - id: ship
    type: activity
    activity: create_shipment
    params: {{carriers: {tag}}}
    status: shipped
    next: notify_shipped
  - id: notify_shipped
    type: activity
    activity: notify
    params: {{event: shipped, template: {tag}}}
    next: done
  - id: release
    type: activity
    activity: release_stock
    next: done
  - id: done
    type: end
    status: completed
"""


def _carriers(tag: str, carrier: str, service: str, price: float) -> str:
    return f"""kind: carriers
name: {tag}
title: Pinning test carriers
regions: {{domestic: [DE]}}
carriers:
  - {{name: {carrier}, adapter: simulated, title: {service} carrier}}
table:
  inputs: [shipment.weight_kg]
  rows:
    - when: ["-"]
      carrier: {carrier}
      service: {service}
      price: {price}
"""


def _template(tag: str, words: str) -> str:
    return f"""kind: template
name: {tag}
use: notification
event: shipped
default_language: en
languages:
  en:
    subject: "{words} {{{{ order.external_id }}}}"
    body: "{words}: your order has shipped."
"""


def test_an_order_ships_and_notifies_by_the_versions_pinned_when_it_was_taken(stack, mailbox):
    tag = f"pin_{uuid.uuid4().hex[:8]}"
    flow = f"flow_{tag}"
    stack.publish(_carriers(tag, "sim_post", "old_service", 1.11))
    stack.publish(_template(tag, "Old words"))
    stack.publish(_flow(flow, tag))

    payload = order_payload(payment={"method": "invoice", "status": "pending"})
    response = stack.submit(payload, flow=flow)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    waiting = stack.wait_status(order_id, "awaiting_payment")
    pins = {(p["kind"], p["name"]): p["version"] for p in waiting["pins"]}
    assert pins[("flow", flow)] == 1
    assert pins[("carriers", tag)] == 1
    assert pins[("template", tag)] == 1
    assert {
        ("form", "order"),
        ("channel", "web"),
        ("allocation", "default"),
        ("regions", "delivery"),
        ("promotions", "coupons"),
        ("template", "shipping_label"),
        ("template", "packing_slip"),
    } <= set(pins)
    assert all(len(p["sha256"]) == 64 for p in waiting["pins"])

    # While the order waits for its payment, both definitions get a new version.
    assert stack.publish(_carriers(tag, "sim_express", "new_service", 9.99))["version"] == 2
    assert stack.publish(_template(tag, "New words"))["version"] == 2

    with stack.client("operator") as client:
        sent = client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"})
        assert sent.status_code == 202, sent.text
    order = stack.wait_for(
        order_id, lambda o: o["status"] == "completed" and any(e["type"] == "notification" for e in o["timeline"])
    )
    [parcel] = order["shipments"]
    assert (parcel["carrier"], parcel["service"], parcel["price"]) == ("sim_post", "old_service", 1.11)
    [note] = [e for e in order["timeline"] if e["type"] == "notification"]
    assert f"Old words {payload['external_id']}" in note["message"]
    deadline = time.monotonic() + 10
    while not mailbox.about(order_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [m["Subject"] for m in mailbox.about(order_id)] == [f"Old words {payload['external_id']}"]

    # The order page lists the same set.
    with httpx.Client(base_url=stack.base_url, cookies={"oms_session": stack.token("operator")}) as browser:
        page = browser.get(f"/orders/{order_id}")
    assert page.status_code == 200
    assert "Definitions pinned" in page.text
    for pin in order["pins"]:
        assert f'<a href="/definitions/{pin["kind"]}/{pin["name"]}">{pin["name"]}</a>' in page.text
        assert f'<code title="{pin["sha256"]}">' in page.text

    # An order taken now runs the new versions.
    fresh = stack.submit(order_payload(payment={"method": "invoice", "status": "pending"}), flow=flow).json()["id"]
    fresh_pins = {(p["kind"], p["name"]): p["version"] for p in stack.wait_status(fresh, "awaiting_payment")["pins"]}
    assert (fresh_pins[("carriers", tag)], fresh_pins[("template", tag)]) == (2, 2)
    with stack.client("operator") as client:
        client.post(f"/api/orders/{fresh}/events", json={"type": "payment_received"})
    fresh_order = stack.wait_status(fresh, "completed")
    assert fresh_order["shipments"][0]["service"] == "new_service"


def test_the_return_page_lists_the_returns_pins(stack):
    from tests.integration.test_returns import delivered_order, post_return, wait_return

    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    body = {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"}
    return_id = post_return(stack, body).json()["id"]
    ret = wait_return(stack, return_id, "awaiting_parcel")
    assert {("flow", "return"), ("form", "return_request"), ("rules", "return_policy")} <= {
        (p["kind"], p["name"]) for p in ret["pins"]
    }

    with httpx.Client(base_url=stack.base_url, cookies={"oms_session": stack.token("operator")}) as browser:
        page = browser.get(f"/returns/{return_id}")
    assert page.status_code == 200
    assert "Definitions pinned" in page.text
    assert "Pinned when the return was requested" in page.text
    for pin in ret["pins"]:
        assert f'<a href="/definitions/{pin["kind"]}/{pin["name"]}">{pin["name"]}</a>' in page.text
        assert f'<code title="{pin["sha256"]}">' in page.text
        assert f'<td class="num">v{pin["version"]}</td>' in page.text
