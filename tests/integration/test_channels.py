"""Channels: signed native webhooks, mappings, idempotency, forms enforced on intake."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from services.orders.channels import SIGNATURE_HEADER, signed_headers
from tests.conftest import ROOT, order_payload, unique


def post_native(stack, channel: str, payload: dict, secret: str | None = None, signature: str | None = None):
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    else:
        headers |= signed_headers(secret or f"dev-secret-{channel}", body)
    return httpx.post(f"{stack.base_url}/api/channels/{channel}/orders", content=body, headers=headers, timeout=60)


def marketplace_payload(**overrides) -> dict:
    payload = {
        "orderNumber": unique("MP"),
        "buyer": {
            "fullName": "Jean Dupont",
            "contact": {"email": "jean@example.fr", "phone": "+33 1 23 45 67 89"},
            "ipAddress": f"2001:db8::{unique('')[1:9]}",
        },
        "delivery": {
            "recipient": "Jean Dupont",
            "addressLine1": f"{unique('')[1:6]} rue de Rivoli",
            "city": "Paris",
            "zip": "75001",
            "countryCode": "FR",
        },
        "items": [
            {"sellerSku": "SNEAKER-42", "quantity": 1, "unitPriceCents": 8900},
            {"sellerSku": "MUG-LOGO", "quantity": 2, "unitPriceCents": 950},
        ],
        "paymentState": "CAPTURED",
    }
    payload.update(overrides)
    return payload


def test_web_shop_posts_canonical_orders(stack):
    payload = order_payload()
    response = post_native(stack, "web", payload)
    assert response.status_code == 201, response.text
    order = stack.wait_status(response.json()["id"], "shipped")
    assert (order["channel"], order["external_id"]) == ("web", payload["external_id"])


def test_marketplace_payload_is_mapped(stack):
    payload = marketplace_payload()
    response = post_native(stack, "marketplace", payload)
    assert response.status_code == 201, response.text
    order = stack.wait_status(response.json()["id"], "shipped")
    assert order["channel"] == "marketplace" and order["external_id"] == payload["orderNumber"]
    assert order["lines"] == [
        {"sku": "SNEAKER-42", "qty": 1, "price": 89.0},
        {"sku": "MUG-LOGO", "qty": 2, "price": 9.5},
    ]
    assert order["total"] == 108.0
    assert order["customer"]["email"] == "jean@example.fr"
    assert order["shipping_address"]["country"] == "FR"
    assert order["payment"] == {"method": "card", "status": "paid"}


def test_store_sale_taken_away_completes_at_the_till(stack):
    receipt = {
        "receipt": {"id": unique("R"), "lines": [{"ean_sku": "TSHIRT-BLK-M", "count": 2, "gross": 19.9}]},
        "tender": "CASH",
        "fulfilment": "TAKEAWAY",
    }
    response = post_native(stack, "store", receipt)
    assert response.status_code == 201, response.text
    order = stack.wait_status(response.json()["id"], "completed")
    assert order["payment"] == {"method": "cash", "status": "paid"}
    assert order["shipments"][0]["carrier"] == "store_pickup"
    assert [e["type"] for e in order["timeline"]][-2:] == ["shipped", "completed"]


def test_store_sale_can_be_shipped(stack):
    receipt = {
        "receipt": {"id": unique("R"), "lines": [{"ean_sku": "MUG-LOGO", "count": 1, "gross": 9.5}]},
        "tender": "CARD",
        "fulfilment": "SHIP",
        "customer": {"name": "Kim Lee", "email": "kim@example.com"},
        "shipTo": {"street": f"{unique('')[1:5]} Torstr.", "city": "Berlin", "zip": "10119", "country": "DE"},
    }
    response = post_native(stack, "store", receipt)
    assert response.status_code == 201, response.text
    order = stack.wait_status(response.json()["id"], "shipped")
    assert order["shipments"][0]["carrier"] == "sim_post"  # definitions/carriers: a light parcel within Germany


@pytest.mark.parametrize("signature", ["", "sha256=0000", None])
def test_bad_or_missing_signature_is_401_and_stores_nothing(stack, signature):
    payload = marketplace_payload()
    if signature is None:
        response = post_native(stack, "marketplace", payload, secret="not-the-secret")
    else:
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json"} | ({SIGNATURE_HEADER: signature} if signature else {})
        response = httpx.post(f"{stack.base_url}/api/channels/marketplace/orders", content=body, headers=headers)
    assert response.status_code == 401
    with stack.client("operator") as client:
        listed = client.get("/api/orders", params={"channel": "marketplace", "limit": 500}).json()["orders"]
    assert payload["orderNumber"] not in [o["external_id"] for o in listed]


def test_fifty_concurrent_identical_webhooks_make_one_order(stack):
    payload = marketplace_payload()
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: post_native(stack, "marketplace", payload), range(50)))
    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    order = stack.wait_status(ids.pop(), "shipped")
    assert [a["state"] for a in order["allocations"]] == ["reserve", "reserve", "ship", "ship"]


def test_unmappable_payload_names_the_field(stack):
    response = post_native(stack, "marketplace", marketplace_payload(paymentState="REFUNDED"))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "payment.status",
            "message": "paymentState is 'REFUNDED', not one of PAID, CAPTURED, AUTHORIZED, PENDING",
        }
    ]
    cents = marketplace_payload(items=[{"sellerSku": "MUG-LOGO", "quantity": 1, "unitPriceCents": "lots"}])
    response = post_native(stack, "marketplace", cents)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "lines[0].price", "message": "items[0].unitPriceCents must be a number to convert, not 'lots'"}
    ]


def test_mapped_payload_is_validated_by_the_form(stack):
    payload = marketplace_payload(items=[{"sellerSku": "MUG-LOGO", "quantity": 0, "unitPriceCents": 950}])
    del payload["buyer"]["fullName"]
    response = post_native(stack, "marketplace", payload)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "customer.name", "message": "Customer name is required"},
        {"field": "lines[0].qty", "message": "Line 1: quantity must be at least 1"},
    ]


def test_unknown_channel(stack):
    response = post_native(stack, "fax", {"x": 1})
    assert response.status_code == 404
    [error] = stack.submit(order_payload(channel="fax")).json()["errors"]
    assert error["field"] == "channel"
    prefix = "unknown channel 'fax'; channels are: "
    assert error["message"].startswith(prefix)
    # Other tests publish channels of their own; the shipped ones are always listed, in order.
    named = error["message"][len(prefix) :].split(", ")
    assert named == sorted(named) and {"marketplace", "phone", "store", "web"} <= set(named)


def test_a_new_required_form_field_is_enforced_on_the_next_order(stack):
    original = (ROOT / "definitions" / "forms" / "order.yaml").read_text(encoding="utf-8")
    # The shipped form's stored cases describe orders without the new field: they go with it.
    fields = original.split("# Stored test cases", 1)[0]
    stricter = fields + (
        "  - id: purchase_order\n    type: text\n    label: Purchase order number\n    required: true\n"
    )
    stack.publish(stricter)
    try:
        response = stack.submit(order_payload())
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "purchase_order", "message": "Purchase order number is required"}
        ]
        assert stack.submit(order_payload(purchase_order="PO-1")).status_code == 201
    finally:
        stack.publish(original)
    assert stack.submit(order_payload()).status_code == 201


# ---- platforms' own webhooks: Shopify and WooCommerce, as their documentation describes them ------------


def platform_post(stack, channel: str, payload: dict | bytes, headers: dict) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json", **headers}
    return httpx.post(f"{stack.base_url}/api/channels/{channel}/orders", content=body, headers=headers, timeout=60)


def base64_hmac(secret: str, body: bytes) -> str:
    """As Shopify and WooCommerce sign: base64 of the HMAC-SHA256 of the raw body (computed here, not by the OMS)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def stored_external_ids(stack, channel: str) -> list[str]:
    with stack.client("operator") as client:
        listed = client.get("/api/orders", params={"channel": channel, "limit": 500}).json()["orders"]
    return [o["external_id"] for o in listed]


def shopify_order(**overrides) -> dict:
    """An orders/create payload in the shape of Shopify's documented sample, with a stocked SKU and a German address."""
    payload = {
        "id": uuid.uuid4().int % 10**18,
        "name": "#1001",
        "email": "jon@example.com",
        "browser_ip": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}",
        "financial_status": "paid",
        "payment_gateway_names": ["shopify_payments"],
        "customer": {"id": 115310627314723954, "first_name": "John", "last_name": "Smith"},
        "line_items": [{"id": 866550311766439020, "price": "9.50", "quantity": 2, "sku": "MUG-LOGO"}],
        "shipping_address": {
            "name": "John Smith",
            "address1": f"Hauptstr. {uuid.uuid4().int % 10**9}",
            "address2": None,
            "city": "Berlin",
            "zip": "10115",
            "country_code": "DE",
        },
    }
    payload.update(overrides)
    return payload


def shopify_headers(body: bytes, topic: str = "orders/create", secret: str = "dev-secret-shopify") -> dict:
    return {"X-Shopify-Hmac-Sha256": base64_hmac(secret, body), "X-Shopify-Topic": topic}


def test_a_shopify_order_webhook_is_stored_once_and_runs(stack):
    payload = shopify_order()
    body = json.dumps(payload).encode()
    headers = shopify_headers(body) | {"X-Shopify-Webhook-Id": str(uuid.uuid4())}
    first = platform_post(stack, "shopify", body, headers)
    assert first.status_code == 201, first.text
    replayed = platform_post(stack, "shopify", body, headers)  # Shopify delivers at least once
    assert (replayed.status_code, replayed.json()["id"]) == (200, first.json()["id"])
    order = stack.wait_status(first.json()["id"], "shipped")
    assert (order["channel"], order["external_id"]) == ("shopify", str(payload["id"]))
    assert order["customer"]["name"] == "John Smith"
    assert order["lines"] == [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}]
    assert order["payment"] == {"method": "card", "status": "paid"}
    assert stored_external_ids(stack, "shopify").count(str(payload["id"])) == 1


def test_a_shopify_webhook_with_a_bad_signature_is_401_and_stores_nothing(stack):
    payload = shopify_order()
    body = json.dumps(payload).encode()
    right = base64_hmac("dev-secret-shopify", body)
    attempts = {
        "another secret": {"X-Shopify-Hmac-Sha256": base64_hmac("not-the-secret", body)},
        "hex, not base64": {"X-Shopify-Hmac-Sha256": hmac.new(b"dev-secret-shopify", body, hashlib.sha256).hexdigest()},
        "our own scheme": signed_headers("dev-secret-shopify", body),
        "another body": {"X-Shopify-Hmac-Sha256": base64_hmac("dev-secret-shopify", body + b" ")},
    }
    for name, signature in attempts.items():
        response = platform_post(stack, "shopify", body, signature | {"X-Shopify-Topic": "orders/create"})
        assert response.status_code == 401, name
    assert response.json()["detail"] != ""
    mismatch = platform_post(stack, "shopify", body, {"X-Shopify-Hmac-Sha256": right[::-1]})
    assert (mismatch.status_code, mismatch.json()["detail"]) == (401, "X-Shopify-Hmac-Sha256 does not match the body")
    unsigned = platform_post(stack, "shopify", body, {"X-Shopify-Topic": "orders/create"})
    assert (unsigned.status_code, unsigned.json()["detail"]) == (
        401,
        "missing X-Shopify-Hmac-Sha256 header (<base64 HMAC-SHA256 of the body>)",
    )
    assert str(payload["id"]) not in stored_external_ids(stack, "shopify")


def test_a_shopify_delivery_of_another_topic_is_acknowledged_and_not_stored(stack):
    payload = shopify_order()
    body = json.dumps(payload).encode()
    response = platform_post(stack, "shopify", body, shopify_headers(body, topic="orders/updated"))
    assert response.status_code == 202, response.text
    assert response.json() == {
        "ignored": True,
        "event_type": "orders/updated",
        "reason": "event type 'orders/updated' carries no new order for channel 'shopify'",
    }
    untopical = platform_post(
        stack, "shopify", body, {"X-Shopify-Hmac-Sha256": base64_hmac("dev-secret-shopify", body)}
    )
    assert untopical.status_code == 422
    assert untopical.json()["errors"] == [
        {"field": "X-Shopify-Topic", "message": "missing: the header X-Shopify-Topic says what the delivery is"}
    ]
    assert str(payload["id"]) not in stored_external_ids(stack, "shopify")


def test_a_shopify_payload_that_does_not_fit_the_mapping_names_the_field_and_the_payload_path(stack):
    payload = shopify_order(
        line_items=[
            {"price": "9.50", "quantity": 1, "sku": "MUG-LOGO"},
            {"price": "EUR 9,50", "quantity": 1, "sku": "MUG-LOGO"},
        ]
    )
    body = json.dumps(payload).encode()
    response = platform_post(stack, "shopify", body, shopify_headers(body))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "lines[1].price",
            "message": "expression 'number(price)' failed at line_items[1]: vmError: Opcode CallFunction: "
            "Function `number` failed: Invalid number",
        }
    ]
    refunded = shopify_order(financial_status="refunded")
    body = json.dumps(refunded).encode()
    response = platform_post(stack, "shopify", body, shopify_headers(body))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "payment.status"
    assert error["message"].startswith("financial_status is 'refunded', not one of paid")
    assert not {str(payload["id"]), str(refunded["id"])} & set(stored_external_ids(stack, "shopify"))


def woocommerce_order(**overrides) -> dict:
    """An order.created payload in the shape of WooCommerce's documented order, with a stocked SKU in Germany."""
    street = f"Hauptstr. {uuid.uuid4().int % 10**9}"
    payload = {
        "id": uuid.uuid4().int % 10**9,
        "number": "727",
        "status": "processing",
        "customer_ip_address": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}",
        "billing": {"first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com"},
        "shipping": {
            "first_name": "Jane",
            "last_name": "Doe",
            "address_1": street,
            "address_2": "",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
        "payment_method": "bacs",
        "date_paid": "2017-03-22T16:28:08",
        "line_items": [{"id": 315, "product_id": 93, "quantity": 1, "sku": "MUG-LOGO", "price": 9.5}],
        "shipping_lines": [{"id": 317, "method_id": "flat_rate", "total": "10.00"}],
    }
    payload.update(overrides)
    return payload


def woo_headers(body: bytes, topic: str = "order.created") -> dict:
    return {"X-WC-Webhook-Signature": base64_hmac("dev-secret-woocommerce", body), "X-WC-Webhook-Topic": topic}


def test_a_woocommerce_shop_pings_then_posts_a_signed_order(stack):
    ping = httpx.post(
        f"{stack.base_url}/api/channels/woocommerce/orders",
        content=b"webhook_id=42",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (ping.status_code, ping.json()["event_type"]) == (200, "ping")  # WooCommerce keeps a webhook on 200 only
    unsigned = platform_post(stack, "woocommerce", woocommerce_order(), {"X-WC-Webhook-Topic": "order.created"})
    assert unsigned.status_code == 401
    payload = woocommerce_order()
    body = json.dumps(payload).encode()
    response = platform_post(stack, "woocommerce", body, woo_headers(body))
    assert response.status_code == 201, response.text
    again = platform_post(stack, "woocommerce", body, woo_headers(body))
    assert (again.status_code, again.json()["id"]) == (200, response.json()["id"])
    order = stack.order(response.json()["id"])
    assert (order["external_id"], order["customer"]["name"]) == (str(payload["id"]), "Jane Doe")
    assert order["payment"] == {"method": "bank_transfer", "status": "paid"}
    assert order["shipping_address"]["street"] == payload["shipping"]["address_1"]
    assert stored_external_ids(stack, "woocommerce").count(str(payload["id"])) == 1


def test_a_woocommerce_payload_without_a_last_name_names_the_field_and_the_payload_path(stack):
    payload = woocommerce_order(billing={"first_name": "Jane", "email": "jane@example.com"})
    body = json.dumps(payload).encode()
    response = platform_post(stack, "woocommerce", body, woo_headers(body))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "customer.name",
            "message": "expression \"trim(billing.first_name + ' ' + billing.last_name)\" failed at the payload: "
            "vmError: Opcode Add: Unsupported type (billing.last_name is missing)",
        }
    ]
    updated = platform_post(stack, "woocommerce", body, woo_headers(body, topic="order.updated"))
    assert updated.status_code == 202
    assert str(payload["id"]) not in stored_external_ids(stack, "woocommerce")


# ---- an analyst connects a new shop by writing only a channel definition -----------------------------


def new_shop_definition(name: str) -> str:
    """A shop that signs "v1:<timestamp>:<body>" (hex HMAC-SHA256, prefixed v1=) and says its event in the payload."""
    return f"""kind: channel
name: {name}
title: Corner shop
type: web_shop
flow: order
secret_env: OMS_CHANNEL_SECRET_{name.upper()}
webhook:
  signature:
    header: X-Corner-Signature
    prefix: v1=
    signed: timestamp_and_body
    timestamp: {{header: X-Corner-Timestamp, template: "v1:{{timestamp}}:{{body}}", tolerance_seconds: 120}}
  event_type: {{field: event, orders: [order.placed]}}
mapping:
  external_id: {{path: order.ref}}
  customer:
    name: {{expr: "order.buyer.first + ' ' + order.buyer.last"}}
    email: {{path: order.buyer.mail}}
  shipping_address:
    street: {{path: order.ship_to.street}}
    city: {{path: order.ship_to.city}}
    postal_code: {{path: order.ship_to.zip}}
    country: {{expr: upper(order.ship_to.country)}}
  lines:
    each: order.rows
    map:
      sku: {{path: article}}
      qty: {{path: count}}
      price: {{expr: number(unit_price)}}
  payment:
    method: {{const: card}}
    status: {{expr: "order.paid ? 'paid' : 'pending'"}}
tests:
  - name: a placed order maps to ours
    payload:
      event: order.placed
      order:
        ref: C-1
        paid: true
        buyer: {{first: Ann, last: Lee, mail: ann@example.com}}
        ship_to: {{street: Hauptstr. 1, city: Berlin, zip: '10115', country: de}}
        rows: [{{article: MUG-LOGO, count: 2, unit_price: '9.50'}}]
    expect:
      order:
        external_id: C-1
        customer: {{name: Ann Lee}}
        shipping_address: {{country: DE}}
        lines: [{{sku: MUG-LOGO, qty: 2, price: 9.5}}]
        payment: {{status: paid}}
  - name: a cancellation is no new order
    payload: {{event: order.cancelled, order: {{ref: C-1}}}}
    expect: {{ignored: true}}
"""


def corner_payload(ref: str, event: str = "order.placed", **order) -> dict:
    return {
        "event": event,
        "order": {
            "ref": ref,
            "paid": True,
            "buyer": {"first": "Ann", "last": "Lee", "mail": "ann@example.com"},
            "ship_to": {
                "street": f"Hauptstr. {uuid.uuid4().int % 10**9}",
                "city": "Berlin",
                "zip": "10115",
                "country": "de",
            },
            "rows": [{"article": "MUG-LOGO", "count": 1, "unit_price": "9.50"}],
        }
        | order,
    }


def corner_headers(name: str, body: bytes, stamp: int | None = None) -> dict:
    """As the shop signs (computed here): v1= + hex HMAC-SHA256 of "v1:<timestamp>:" + the body."""
    stamp = int(time.time()) if stamp is None else stamp
    digest = hmac.new(f"dev-secret-{name}".encode(), f"v1:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Corner-Timestamp": str(stamp), "X-Corner-Signature": f"v1={digest}"}


def test_an_analyst_connects_a_new_shop_by_writing_only_a_channel_definition(stack):
    name = f"corner_{uuid.uuid4().hex[:8]}"
    text = new_shop_definition(name)
    with stack.client("analyst") as client:
        failing = text.replace("payment: {status: paid}", "payment: {status: pending}")
        refused = client.post("/api/definitions", json={"text": failing})
        assert refused.status_code == 422  # a stored case fails: nothing published
        assert refused.json()["errors"][0]["path"] == "$.tests[0].expect.order.payment.status"
        checked = client.post("/api/definitions/validate", json={"text": text}).json()
        assert (checked["valid"], checked["errors"]) == (True, [])
        assert [(t["name"], t["passed"]) for t in checked["tests"]] == [
            ("a placed order maps to ours", True),
            ("a cancellation is no new order", True),
        ]
        published = client.post("/api/definitions", json={"text": text, "note": "the corner shop"})
        assert published.status_code == 201, published.text

    ref = unique("C")
    body = json.dumps(corner_payload(ref)).encode()
    headers = corner_headers(name, body)
    taken = platform_post(stack, name, body, headers)
    assert taken.status_code == 201, taken.text
    same = platform_post(stack, name, body, headers)  # the same delivery again, within the tolerance
    assert (same.status_code, same.json()["id"]) == (200, taken.json()["id"])
    order = stack.order(taken.json()["id"])
    assert (order["channel"], order["external_id"], order["customer"]["name"]) == (name, ref, "Ann Lee")
    assert order["shipping_address"]["country"] == "DE"
    assert order["lines"] == [{"sku": "MUG-LOGO", "qty": 1, "price": 9.5}]

    old_ref = unique("C")
    old_body = json.dumps(corner_payload(old_ref)).encode()
    stale = platform_post(stack, name, old_body, corner_headers(name, old_body, int(time.time()) - 121))
    assert (stale.status_code, stale.json()["detail"]) == (
        401,
        "X-Corner-Timestamp is more than 120 seconds away from now: sign each request when sending it",
    )
    moved = corner_headers(name, old_body)
    moved["X-Corner-Timestamp"] = str(int(moved["X-Corner-Timestamp"]) + 1)  # the signature was for another time
    assert platform_post(stack, name, old_body, moved).status_code == 401
    untimed = platform_post(stack, name, old_body, {"X-Corner-Signature": moved["X-Corner-Signature"]})
    assert (untimed.status_code, untimed.json()["detail"]) == (
        401,
        "missing or malformed X-Corner-Timestamp header (Unix seconds, signed with the body)",
    )

    cancelled = json.dumps(corner_payload(old_ref, event="order.cancelled")).encode()
    assert platform_post(stack, name, cancelled, corner_headers(name, cancelled)).status_code == 202
    misfit = json.dumps(corner_payload(old_ref, rows=[{"article": "MUG-LOGO", "count": 1}])).encode()
    response = platform_post(stack, name, misfit, corner_headers(name, misfit))
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "lines[0].price",
            "message": "expression 'number(unit_price)' failed at order.rows[0]: vmError: Opcode CallFunction: "
            "Function `number` failed: Cannot convert type null to number (order.rows[0].unit_price is missing)",
        }
    ]
    assert stored_external_ids(stack, name) == [ref]
