"""Channels: signed native webhooks, mappings, idempotency, forms enforced on intake."""

from __future__ import annotations

import json
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
        {"field": "lines[0].price", "message": "unitPriceCents must be a number to convert, not 'lots'"}
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
