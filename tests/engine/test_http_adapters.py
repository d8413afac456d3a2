"""HTTP adapters as data: the shipped Shippo carrier and Stripe provider build the requests their APIs
document, read their answers, and name the mapping field when an answer does not fit; broken adapter
sections are refused at their paths."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from engine.adapters import ParcelRef, ParcelRequest, PaymentRequest
from engine.definitions import compile_text, validate_text
from engine.http_adapters import AnswerMismatch, MappingError
from tests.engine.shipped import DEFINITIONS, read, replace_once

CARRIERS = read(DEFINITIONS / "carriers" / "default.yaml")
PAYMENTS = read(DEFINITIONS / "payments" / "default.yaml")


@pytest.fixture(scope="module")
def shippo():
    return compile_text(CARRIERS).carriers["dhl_shippo"].http


@pytest.fixture(scope="module")
def stripe():
    return compile_text(PAYMENTS).providers["stripe"].http


PARCEL = ParcelRequest(
    order_id="web-W-1",
    parcel=2,
    carrier="dhl_shippo",
    service="parcel_international",
    weight_kg=1.25,
    sender={"code": "BER", "name": "Berlin", "country": "DE"},
    recipient={"name": "Bob Example", "street": "Rue 1", "city": "Lyon", "postal_code": "69001", "country": "FR"},
    value=19.0,
    customer={"name": "Bob Example", "email": "bob@example.com"},
    external_id="W-1",
)


def test_the_shipped_shippo_carrier_books_a_label_as_shippo_documents_it(shippo):
    request = shippo.request("create", PARCEL.context(), "oms-web-W-1-2-create")
    assert (request.method, request.url) == ("POST", "https://api.goshippo.com/transactions/")
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers  # the secret is the caller's to add, from the environment
    assert "Idempotency-Key" not in request.headers  # Shippo documents none; the section names no header
    assert shippo.auth.secret_env == "OMS_CARRIER_API_SECRET_SHIPPO" and shippo.auth.prefix == "ShippoToken "
    assert json.loads(request.body or b"") == {
        "shipment": {
            "address_from": "shippo_address_ber",
            "address_to": {
                "name": "Bob Example",
                "street1": "Rue 1",
                "city": "Lyon",
                "zip": "69001",
                "country": "FR",
                "email": "bob@example.com",
            },
            "parcels": [
                {
                    "length": "30",
                    "width": "20",
                    "height": "15",
                    "distance_unit": "cm",
                    "weight": "1.25",
                    "mass_unit": "kg",
                }
            ],
        },
        "carrier_account": "shippo_dhl_express_account",
        "servicelevel_token": "dhl_express_worldwide",
        "label_file_type": "PDF",
        "metadata": "web-W-1-2",
        "async": False,
    }


def test_a_shippo_transaction_gives_the_tracking_number_label_and_reference(shippo):
    answer = {"status": "SUCCESS", "object_id": "tx1", "tracking_number": "9405", "label_url": "https://l/1.pdf"}
    assert shippo.read("create", answer) == {
        "tracking_number": "9405",
        "label_url": "https://l/1.pdf",
        "reference": "tx1",
    }


def test_shippo_voids_by_the_transaction_and_tracks_by_number(shippo):
    parcel = ParcelRef("dhl_shippo", "9405 11", "tx1", "web-W-1", 1)
    void = shippo.request("cancel", parcel.context())
    assert (void.url, json.loads(void.body or b"")) == (
        "https://api.goshippo.com/refunds/",
        {"transaction": "tx1", "async": False},
    )
    track = shippo.request("track", parcel.context())
    assert (track.method, track.url, track.body) == (
        "GET",
        "https://api.goshippo.com/tracks/dhl_express/9405%2011",
        None,
    )
    answer = {"tracking_status": {"status": "TRANSIT", "status_details": "on its way", "status_date": "2025-03-01"}}
    assert shippo.read("track", answer) == {
        "status": "TRANSIT",
        "state": "in_transit",
        "description": "on its way",
        "at": "2025-03-01",
    }


def test_the_shipped_stripe_provider_refunds_as_stripe_documents_it(stripe):
    payment = PaymentRequest("web-W-1", 19.9, "pi_123", "card", "oms-web-W-1-refund", "W-1")
    request = stripe.request("refund", payment.context(), payment.idempotency_key)
    assert (request.method, request.url) == ("POST", "https://api.stripe.com/v1/refunds")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Idempotency-Key"] == "oms-web-W-1-refund"
    assert parse_qsl((request.body or b"").decode()) == [
        ("payment_intent", "pi_123"),
        ("amount", "1990"),
        ("metadata[order_id]", "web-W-1"),
    ]
    capture = stripe.request("capture", payment.context())
    assert capture.url == "https://api.stripe.com/v1/payment_intents/pi_123/capture"
    void = stripe.request("void", payment.context())
    assert (void.url, void.body) == (
        "https://api.stripe.com/v1/payment_intents/pi_123/cancel",
        b"cancellation_reason=requested_by_customer",
    )
    assert stripe.read("refund", {"id": "re_1", "object": "refund", "status": "succeeded"}) == {
        "reference": "re_1",
        "status": "succeeded",
    }


MISMATCHES = {
    "no tracking number": (
        ("carriers", "create", {"status": "SUCCESS", "object_id": "tx1", "label_url": "https://l/1.pdf"}),
        "$.carriers[4].adapter.create.tracking_number",
        "the answer has no 'tracking_number'; keys are label_url, object_id, status",
    ),
    "a transaction that failed": (
        ("carriers", "create", {"status": "ERROR", "messages": [{"text": "address invalid"}]}),
        "$.carriers[4].adapter.create.expect.status",
        "the answer's status is ERROR, not SUCCESS",
    ),
    "a tracking number that is an object": (
        ("carriers", "create", {"status": "SUCCESS", "tracking_number": {"id": 1}}),
        "$.carriers[4].adapter.create.tracking_number",
        "the answer's 'tracking_number' is a dict, not a value",
    ),
    "a tracking status the table does not know": (
        ("carriers", "track", {"tracking_status": {"status": "LOST_IN_SPACE"}}),
        "$.carriers[4].adapter.track.statuses",
        "the carrier's status 'LOST_IN_SPACE' is not in the table "
        "(UNKNOWN, PRE_TRANSIT, TRANSIT, DELIVERED, RETURNED, FAILURE)",
    ),
    "a refund answer of another object, with Stripe's error message": (
        ("payments", "refund", {"object": "payment_intent", "error": {"message": "wrong object"}}),
        "$.providers[1].adapter.refund.expect.object",
        "the answer's object is payment_intent, not refund (wrong object)",
    ),
    "no answer object at all": (
        ("payments", "void", ["pi_1"]),
        "$.providers[1].adapter.void",
        "the answer is list, not a JSON object",
    ),
}


@pytest.mark.parametrize("case, field, message", MISMATCHES.values(), ids=MISMATCHES.keys())
def test_an_answer_that_does_not_fit_names_the_mapping_field(shippo, stripe, case, field, message):
    kind, operation, answer = case
    adapter = shippo if kind == "carriers" else stripe
    with pytest.raises(AnswerMismatch) as caught:
        adapter.read(operation, answer)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_a_request_field_without_a_value_names_the_mapping_field(stripe):
    with pytest.raises(MappingError) as caught:
        stripe.request("void", PaymentRequest("web-W-1", 10.0).context())
    assert (caught.value.field, caught.value.message) == (
        "$.providers[1].adapter.void.path",
        "{reference} has no value for this request",
    )


def _errors(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


BROKEN_CARRIERS = {
    "a secret's variable that is not one": (
        ("secret_env: OMS_CARRIER_API_SECRET_SHIPPO", "secret_env: OMS_DATABASE_URL"),
        [
            (
                "$.carriers[4].adapter.auth.secret_env",
                "'OMS_DATABASE_URL' is not a secret's variable: name an OMS_..._SECRET... environment variable, "
                "e.g. OMS_CHANNEL_SECRET_WEB",
            )
        ],
    ),
    "a misspelt result field": (
        ("        label_url: label_url\n", "        label_ur: label_url\n"),
        [
            (
                "$.carriers[4].adapter.create",
                "unknown key 'label_ur'; allowed here: body, expect, label_url, method, path, reference, "
                "tracking_number",
            )
        ],
    ),
    "an unknown field in the path": (
        ("path: /tracks/dhl_express/{tracking_number}", "path: /tracks/dhl_express/{trackin_number}"),
        [
            (
                "$.carriers[4].adapter.track.path",
                "{trackin_number}: this request has no field 'trackin_number' (did you mean 'tracking_number'?); "
                "fields are carrier, tracking_number, reference, order_id, parcel",
            )
        ],
    ),
    "a body leaf reading a field the request has not": (
        ("email: {path: customer.email}", "email: {path: custmer.email}"),
        [
            (
                "$.carriers[4].adapter.create.body.shipment.address_to.email.path",
                "this request has no field 'custmer' (did you mean 'customer'?); fields are order_id, external_id, "
                "parcel, reference, carrier, service, weight_kg, weight_g, value, sender, recipient, customer",
            )
        ],
    ),
    "an expression that does not compile": (
        ("weight: {expr: string(weight_kg)}", "weight: {expr: 'string(weight_kg'}"),
        [("$.carriers[4].adapter.create.body.shipment.parcels[0].weight.expr", "expression does not compile: ")],
    ),
    "a status that means nothing to the OMS": (
        ("TRANSIT: in_transit", "TRANSIT: transit"),
        [
            (
                "$.carriers[4].adapter.track.statuses.TRANSIT",
                "'transit' is not one of label_created, in_transit, out_for_delivery, delivered, exception "
                "(did you mean 'in_transit'?)",
            )
        ],
    ),
    "a GET with a body": (
        ("        method: GET\n", "        method: GET\n        body: {x: 1}\n"),
        [("$.carriers[4].adapter.track.body", "a GET request sends no body")],
    ),
    "a timeout longer than a step can wait": (
        ("timeout: 15s", "timeout: 1m"),
        [("$.carriers[4].adapter.timeout", "wait at most 20s for an answer (e.g. '10s')")],
    ),
    "a base URL with a query": (
        ("base_url: https://api.goshippo.com", "base_url: https://api.goshippo.com?v=1"),
        [("$.carriers[4].adapter.base_url", "give the base URL without a query or fragment")],
    ),
    "no create section": (
        ("      create:\n        path: /transactions/\n", "      creat:\n        path: /transactions/\n"),
        [
            (
                "$.carriers[4].adapter",
                "unknown key 'creat'; allowed here: auth, base_url, cancel, create, encoding, error_message, headers, "
                "idempotency_header, timeout, track, type",
            )
        ],
    ),
}


@pytest.mark.parametrize("edit, expected", BROKEN_CARRIERS.values(), ids=BROKEN_CARRIERS.keys())
def test_a_broken_carrier_adapter_is_refused_at_its_path(edit, expected):
    errors = _errors(replace_once(CARRIERS, *edit))
    assert [(p, m[: len(e)]) for (p, m), (_, e) in zip(errors, expected, strict=False)] == expected
    assert len(errors) == len(expected)


def test_an_http_carrier_needs_its_create_section():
    start = CARRIERS.index("      create:\n")
    end = CARRIERS.index("      cancel:\n")
    assert _errors(CARRIERS[:start] + CARRIERS[end:]) == [
        ("$.carriers[4].adapter", "an http adapter needs a `create` section")
    ]


BROKEN_PAYMENTS = {
    "a default provider that is not there": (
        ("default: simulated", "default: simulatd"),
        [("$.default", "unknown provider 'simulatd' (did you mean 'simulated'?)")],
    ),
    "a method going to a provider that is not there": (
        ("default: simulated", "default: simulated\nmethods: {card: strip}"),
        [("$.methods.card", "unknown provider 'strip' (did you mean 'stripe'?)")],
    ),
    "an unknown built-in adapter": (
        ("{name: simulated, adapter: simulated,", "{name: simulated, adapter: simulatd,"),
        [
            (
                "$.providers[0].adapter",
                "unknown adapter 'simulatd' (did you mean 'simulated'?); adapters are simulated, or an http section",
            )
        ],
    ),
    "no void section": (
        ("      void:\n", "      voids:\n"),
        [("$.providers[1].adapter", "unknown key 'voids'; allowed here: ")],
    ),
    "a provider twice": (
        ("  - name: stripe\n", "  - name: simulated\n"),
        [("$.providers[1].name", "duplicate provider 'simulated'")],
    ),
    "an encoding Stripe does not read": (
        ("encoding: form", "encoding: xml"),
        [("$.providers[1].adapter.encoding", "'xml' is not one of 'json', 'form'")],
    ),
}


@pytest.mark.parametrize("edit, expected", BROKEN_PAYMENTS.values(), ids=BROKEN_PAYMENTS.keys())
def test_a_broken_payments_definition_is_refused_at_its_path(edit, expected):
    errors = _errors(replace_once(PAYMENTS, *edit))
    assert [(p, m[: len(e)]) for (p, m), (_, e) in zip(errors, expected, strict=False)] == expected
    assert len(errors) == len(expected)


def test_the_payment_method_chooses_the_provider():
    payments = compile_text(replace_once(PAYMENTS, "default: simulated", "default: simulated\nmethods: {card: stripe}"))
    assert payments.provider_for("card").name == "stripe"
    assert payments.provider_for("invoice").name == "simulated"
    assert payments.provider_for(None).name == "simulated"
