"""Carriers and payment providers behind HTTP adapters configured as data, against local servers shaped
like Shippo's and Stripe's APIs (tests/provider_servers.py documents both shapes).

The shipped ``dhl_shippo`` carrier (definitions/carriers/default.yaml) and ``stripe`` provider
(definitions/payments/default.yaml) are published under test names with their base URL pointing at
the local server; nothing else of them changes. The worker reads their secrets from the variables the
definitions name (set below, before the stacks start).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.adapters import ParcelRef, PaymentRequest
from engine.definitions import compile_text
from oms.settings import get_settings
from services.adapter_calls import ProviderFailed, ProviderUnavailable
from services.fulfilment.carriers import HttpCarrier
from services.orders.payments import HttpPayments
from tests.conftest import order_payload
from tests.integration.test_repair import _flow as ship_flow  # reserve, then ship; failures unmapped
from tests.provider_servers import ShippoLike, StripeLike

ROOT = Path(__file__).resolve().parents[2]
SHIPPO_ENV, STRIPE_ENV = "OMS_CARRIER_API_SECRET_SHIPPO", "OMS_PAYMENT_API_SECRET_STRIPE"
# Set at collection, before any stack starts: the worker takes its environment from this process.
SHIPPO_TOKEN = os.environ.setdefault(SHIPPO_ENV, "shippo_test_" + uuid.uuid4().hex[:12])
STRIPE_KEY = os.environ.setdefault(STRIPE_ENV, "sk_test_" + uuid.uuid4().hex[:16])


@pytest.fixture(scope="module")
def shippo() -> Iterator[ShippoLike]:
    server = ShippoLike(SHIPPO_TOKEN)
    yield server
    server.close()


@pytest.fixture(scope="module")
def stripe() -> Iterator[StripeLike]:
    server = StripeLike(STRIPE_KEY)
    yield server
    server.close()


def carriers_via_shippo(name: str, base_url: str) -> str:
    """The shipped carrier table under ``name``, every parcel going by the shipped Shippo carrier at ``base_url``."""
    text = (ROOT / "definitions" / "carriers" / "default.yaml").read_text(encoding="utf-8")
    text = text.split("# Stored test cases")[0]  # the shipped cases expect the simulated carriers
    for old, new in (
        ("name: default\n", f"name: {name}\n"),
        ("base_url: https://api.goshippo.com\n", f"base_url: {base_url}\n"),
        (
            "  rows:\n",
            '  rows:\n    - when: ["-", "-", "-"]\n      carrier: dhl_shippo\n      service: parcel\n      price: 5\n',
        ),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def payments_via_stripe(name: str, base_url: str) -> str:
    """The shipped payment providers under ``name``, cards going to the shipped Stripe provider at ``base_url``."""
    text = (ROOT / "definitions" / "payments" / "default.yaml").read_text(encoding="utf-8")
    for old, new in (
        ("name: default\n", f"name: {name}\n"),
        ("base_url: https://api.stripe.com\n", f"base_url: {base_url}\n"),
        ("default: simulated\n", "default: simulated\nmethods: {card: stripe}\n"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def refund_flow(name: str, payments: str) -> str:
    """Wait for the payment, then for a cancellation, which gives the money back through ``payments``."""
    return f"""kind: flow
name: {name}
title: Paid, then cancelled
form: order
start: await_payment
steps:
  - id: await_payment
    type: wait
    status: awaiting_payment
    timeout: 1h
    on: {{payment_received: record_payment}}
    on_timeout: done
  - id: record_payment
    type: activity
    activity: mark_paid
    status: paid
    next: await_cancel
  - id: await_cancel
    type: wait
    timeout: 1h
    on: {{cancel_requested: give_back}}
    on_timeout: done
  - id: give_back
    type: activity
    activity: cancel_payment
    params: {{payments: {payments}}}
    next: cancelled
  - id: cancelled
    type: end
    status: cancelled
  - id: done
    type: end
    status: completed
"""


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def test_an_order_ships_through_the_carriers_api_with_its_tracking_number_and_label(stack, shippo):
    tag = _tag()
    stack.publish(carriers_via_shippo(f"shippo_{tag}", shippo.base_url))
    stack.publish(ship_flow(f"ship_{tag}", f"shippo_{tag}"))
    # The carrier is down at first, then busy: Temporal retries both (the 429 after its Retry-After).
    shippo.faults = [(503, {}, {"detail": "Service unavailable"}), (429, {"Retry-After": "1"}, {"detail": "Slow down"})]
    payload = order_payload(customer={"name": "Ann Example", "email": "ann@example.com", "phone": "+4930123456"})
    order_id = stack.submit(payload, flow=f"ship_{tag}").json()["id"]

    order = stack.wait_status(order_id, "completed", timeout=60)
    created = [r for r in shippo.sent("/transactions/") if r["body"]["metadata"] == f"{order_id}-1"]
    assert len(created) == 3  # the 503, the 429, the label
    assert all(r["headers"]["authorization"] == f"ShippoToken {SHIPPO_TOKEN}" for r in created)
    body = created[-1]["body"]
    assert body["shipment"]["address_to"] == {
        "name": "Ann Example",
        "street1": payload["shipping_address"]["street"],
        "city": "Berlin",
        "zip": "10115",
        "country": "DE",
        "email": "ann@example.com",
        "phone": "+4930123456",
    }
    assert body["shipment"]["address_from"] == "shippo_address_ber"
    assert body["servicelevel_token"] == "dhl_express_domestic_express_doc"
    assert body["shipment"]["parcels"][0]["mass_unit"] == "kg"
    [transaction] = [t for t in shippo.transactions.values() if t["metadata"] == f"{order_id}-1"]

    [parcel] = order["shipments"]
    assert (parcel["carrier"], parcel["tracking_number"]) == ("dhl_shippo", transaction["tracking_number"])
    [shipped] = [e for e in order["timeline"] if e["type"] == "shipped"]
    assert f"with dhl_shippo parcel for 5.00, tracking {transaction['tracking_number']}" in shipped["message"]
    with stack.client("operator") as client:
        label = client.get(f"/api/orders/{order_id}/label")
    assert label.status_code == 200, label.text
    assert f'<a href="{transaction["label_url"]}">' in label.text
    assert transaction["tracking_number"] in label.text

    # The carrier is asked where the parcel is: news is recorded once, as its webhook's would be.
    number = transaction["tracking_number"]
    with stack.client("operator") as client:
        unchanged = client.post(f"/api/shipments/{parcel['id']}/track")
        assert unchanged.status_code == 200, unchanged.text
        assert unchanged.json() == {
            "tracking_number": number,
            "state": "label_created",
            "carrier_status": "PRE_TRANSIT",
            "description": "status PRE_TRANSIT",
            "recorded": None,
        }
        shippo.tracking[number] = "TRANSIT"
        moved = client.post(f"/api/shipments/{parcel['id']}/track").json()
        assert (moved["state"], moved["recorded"]["type"], moved["recorded"]["duplicate"]) == (
            "in_transit",
            "in_transit",
            False,
        )
        again = client.post(f"/api/shipments/{parcel['id']}/track").json()
        assert (again["state"], again["recorded"]) == ("in_transit", None)
        history = client.get(f"/api/orders/{order_id}/shipments").json()["shipments"][0]
    assert history["status"] == "in_transit"
    assert [(t["type"], t["description"]) for t in history["tracking"]] == [("in_transit", "status TRANSIT")]
    assert shippo.requests[-1]["path"] == f"/tracks/dhl_express/{number}"


def test_a_parcel_of_a_built_in_carrier_is_not_asked(stack):
    order_id = stack.submit(order_payload()).json()["id"]
    order = stack.wait_for(order_id, lambda o: bool(o["shipments"]), timeout=60)
    parcel = order["shipments"][0]
    with stack.client("operator") as client:
        asked = client.post(f"/api/shipments/{parcel['id']}/track")
    assert asked.status_code == 409, asked.text
    assert asked.json()["detail"] == (
        f"parcel {parcel['tracking_number']} goes with {parcel['carrier']!r}, which has no API to ask; "
        "its tracking comes from webhooks (or, simulated, from /advance)"
    )


def test_an_answer_that_does_not_fit_the_mapping_fails_the_step_naming_the_field(stack, shippo):
    tag = _tag()
    stack.publish(carriers_via_shippo(f"shippo_{tag}", shippo.base_url))
    stack.publish(ship_flow(f"ship_{tag}", f"shippo_{tag}"))
    # A transaction as Shippo answers it, but without the tracking number the mapping reads.
    shippo.replace["create"] = {"object_id": "tx-no-number", "status": "SUCCESS", "label_url": "https://l/1.pdf"}
    order_id = stack.submit(order_payload(), flow=f"ship_{tag}").json()["id"]

    order = stack.wait_for(order_id, lambda o: o["status"] == "failed", timeout=60)
    [failed] = [e for e in order["timeline"] if e["type"] == "failed"]
    assert failed["step"] == "ship"
    assert failed["message"] == (
        "step ship failed: activity create_shipment failed (carrier_failed): carrier 'dhl_shippo': the answer to "
        "create does not match the mapping: $.carriers[4].adapter.create.tracking_number: the answer has no "
        "'tracking_number'; keys are label_url, object_id, status"
    )
    assert order["shipments"] == []
    # Not retried: the carrier was asked once.
    assert len([r for r in shippo.sent("/transactions/") if r["body"]["metadata"] == f"{order_id}-1"]) == 1


def test_a_cancelled_paid_order_is_refunded_through_the_providers_api(stack, stripe):
    tag = _tag()
    stack.publish(payments_via_stripe(f"stripe_{tag}", stripe.base_url))
    stack.publish(refund_flow(f"refund_{tag}", f"stripe_{tag}"))
    payload = order_payload(payment={"method": "card", "status": "pending"})
    order_id = stack.submit(payload, flow=f"refund_{tag}").json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    intent = stripe.intent(1900)  # the customer paid 19.00 at checkout
    with stack.client("operator") as client:
        paid = client.post(
            f"/api/orders/{order_id}/events",
            json={"type": "payment_received", "data": {"reference": intent, "amount": 19.0}},
        )
        assert paid.status_code == 202, paid.text
        stack.wait_status(order_id, "paid")
        # Stripe is rate limiting at first: the refund is retried after its Retry-After.
        stripe.faults = [(429, {"Retry-After": "1"}, {"error": {"type": "rate_limit_error", "message": "Too many"}})]
        cancel = client.post(f"/api/orders/{order_id}/events", json={"type": "cancel_requested", "data": {}})
        assert cancel.status_code == 202, cancel.text

    order = stack.wait_status(order_id, "cancelled", timeout=60)
    refunds = [r for r in stripe.sent("/v1/refunds") if r["body"].get("payment_intent") == intent]
    assert len(refunds) == 2  # the 429, then the refund
    assert all(r["headers"]["authorization"] == f"Bearer {STRIPE_KEY}" for r in refunds)
    assert {r["headers"]["idempotency-key"] for r in refunds} == {f"oms-{order_id}-refund"}
    assert refunds[-1]["body"] == {"payment_intent": intent, "amount": "1900", "metadata[order_id]": order_id}
    assert stripe.intents[intent]["refunded"] == 1900
    [given_back] = [e for e in order["timeline"] if e["type"] == "payment_cancelled"]
    reference = given_back["data"]["payment"]["refund_reference"]
    assert re.fullmatch(r"re_[0-9a-f]{24}", reference)
    assert given_back["message"] == f"payment of 19.00 refunded (ref {reference})"
    assert stripe.idempotent[f"oms-{order_id}-refund"][2]["id"] == reference
    pinned = {(p["kind"], p["name"]) for p in order["pins"]}
    assert {("payments", f"stripe_{tag}"), ("payments", "default")} <= pinned


def test_a_refund_the_provider_refuses_fails_the_step_with_its_words(stack, stripe):
    tag = _tag()
    stack.publish(payments_via_stripe(f"stripe_{tag}", stripe.base_url))
    stack.publish(refund_flow(f"refund_{tag}", f"stripe_{tag}"))
    order_id = stack.submit(
        order_payload(payment={"method": "card", "status": "pending"}), flow=f"refund_{tag}"
    ).json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    with stack.client("operator") as client:
        paid = {"type": "payment_received", "data": {"reference": "pi_unknown", "amount": 19.0}}
        assert client.post(f"/api/orders/{order_id}/events", json=paid).status_code == 202
        stack.wait_status(order_id, "paid")
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "cancel_requested"}).status_code == 202

    order = stack.wait_for(order_id, lambda o: o["status"] == "failed", timeout=60)
    [failed] = [e for e in order["timeline"] if e["type"] == "failed"]
    assert failed["message"] == (
        "step give_back failed: activity cancel_payment failed (payment_failed): payment provider 'stripe': "
        "refund was refused with 400: No such payment_intent: 'pi_unknown'"
    )


# ---- each operation of both contracts, against the servers directly ------------------------------


@pytest.fixture
def outbound_to_loopback(monkeypatch):
    """The suite's servers listen on loopback, which the outbound rules refuse unless allowlisted."""
    monkeypatch.setenv("OMS_OUTBOUND_ALLOWLIST", "127.0.0.1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _carrier(base_url: str) -> HttpCarrier:
    table = compile_text(carriers_via_shippo("shippo_direct", base_url))
    carrier = table.carriers["dhl_shippo"]
    assert carrier.http is not None
    return HttpCarrier(carrier.name, carrier.http)


def _provider(base_url: str) -> HttpPayments:
    provider = compile_text(payments_via_stripe("stripe_direct", base_url)).providers["stripe"]
    assert provider.http is not None
    return HttpPayments(provider.name, provider.http)


def test_the_carrier_contract_books_voids_and_tracks_through_shippo(shippo, outbound_to_loopback):
    from engine.adapters import ParcelRequest

    carrier = _carrier(shippo.base_url)
    request = ParcelRequest(
        "web-direct",
        1,
        "dhl_shippo",
        "parcel",
        2.0,
        {"code": "LYS", "name": "Lyon", "country": "FR"},
        {"name": "Bob", "street": "Rue 1", "city": "Lyon", "postal_code": "69001", "country": "FR"},
    )
    booked = carrier.create_shipment(request)
    transaction = shippo.transactions[booked.label["reference"]]
    assert booked.tracking_number == transaction["tracking_number"]
    assert booked.label["label_url"] == transaction["label_url"]
    parcel = ParcelRef("dhl_shippo", booked.tracking_number, booked.label["reference"], "web-direct", 1)

    assert carrier.track(parcel).state == "label_created"  # Shippo: PRE_TRANSIT
    shippo.tracking[booked.tracking_number] = "TRANSIT"
    status = carrier.track(parcel)
    assert (status.state, status.carrier_status, status.description) == ("in_transit", "TRANSIT", "status TRANSIT")
    assert shippo.requests[-1]["path"] == f"/tracks/dhl_express/{booked.tracking_number}"

    voided = carrier.cancel_shipment(parcel)
    assert voided.status == "QUEUED" and voided.reference
    assert shippo.requests[-1]["body"] == {"transaction": booked.label["reference"], "async": False}


def test_the_payment_contract_captures_refunds_and_voids_through_stripe(stripe, outbound_to_loopback):
    provider = _provider(stripe.base_url)
    authorised = stripe.intent(5000, status="requires_capture")
    captured = provider.capture(PaymentRequest("web-direct", 50.0, authorised, idempotency_key="k-capture"))
    assert (captured.reference, captured.status) == (authorised, "succeeded")
    assert stripe.requests[-1]["body"] == {"amount_to_capture": "5000"}
    refunded = provider.refund(PaymentRequest("web-direct", 20.0, authorised, idempotency_key="k-refund"))
    assert refunded.reference.startswith("re_") and stripe.intents[authorised]["refunded"] == 2000
    # The same key again (a retried step) moves no more money: Stripe answers the first refund again.
    again = provider.refund(PaymentRequest("web-direct", 20.0, authorised, idempotency_key="k-refund"))
    assert again == refunded and stripe.intents[authorised]["refunded"] == 2000

    unused = stripe.intent(1000, status="requires_capture")
    voided = provider.void(PaymentRequest("web-direct", 10.0, unused, idempotency_key="k-void"))
    assert (voided.reference, voided.status) == (unused, "canceled")
    assert stripe.requests[-1]["body"] == {"cancellation_reason": "requested_by_customer"}


def test_busy_down_refusing_and_misconfigured_providers_are_told_apart(stripe, outbound_to_loopback, monkeypatch):
    provider = _provider(stripe.base_url)
    intent = stripe.intent(1000)
    request = PaymentRequest("web-direct", 10.0, intent, idempotency_key=f"k-{uuid.uuid4().hex}")

    stripe.faults = [(429, {"Retry-After": "7"}, {"error": {"message": "Too many requests"}})]
    with pytest.raises(ProviderUnavailable) as busy:
        provider.refund(request)
    assert (busy.value.code, busy.value.retryable, busy.value.retry_after) == ("payment_unavailable", True, 7.0)
    assert busy.value.message == "payment provider 'stripe': refund answered 429 (retry after 7s): Too many requests"

    stripe.faults = [(502, {}, {"error": {"message": "Bad gateway"}})]
    with pytest.raises(ProviderUnavailable) as down:
        provider.refund(request)
    assert (down.value.message, down.value.retry_after) == (
        "payment provider 'stripe': refund answered 502: Bad gateway",
        None,
    )

    stripe.faults = [(402, {}, {"error": {"type": "card_error", "message": "Your card was declined."}})]
    with pytest.raises(ProviderFailed) as refused:
        provider.refund(request)
    assert (refused.value.code, refused.value.retryable) == ("payment_failed", False)
    assert refused.value.message == "payment provider 'stripe': refund was refused with 402: Your card was declined."

    monkeypatch.delenv(STRIPE_ENV)
    with pytest.raises(ProviderFailed) as unset:
        provider.refund(request)
    assert unset.value.message == (
        f"payment provider 'stripe': {STRIPE_ENV} is not set ($.providers[1].adapter.auth.secret_env)"
    )


def test_a_provider_on_an_internal_address_is_refused_unless_allowlisted(stripe, monkeypatch):
    monkeypatch.setenv("OMS_OUTBOUND_ALLOWLIST", "")
    get_settings.cache_clear()
    try:
        provider = _provider(stripe.base_url)
        before = len(stripe.requests)
        with pytest.raises(ProviderFailed) as refused:
            provider.refund(PaymentRequest("web-direct", 10.0, "pi_x", idempotency_key="k"))
        assert refused.value.message == (
            "payment provider 'stripe': the host '127.0.0.1' is an internal address; name it in "
            "OMS_OUTBOUND_ALLOWLIST to allow it ($.providers[1].adapter.base_url)"
        )
        assert len(stripe.requests) == before
    finally:
        get_settings.cache_clear()
