"""Channels: each shipped channel maps a realistic native payload to the canonical order.

Every mapped order must pass the shipped order form; mapping errors and broken
channel definitions are pinned with their exact field / (path, message).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from engine.channels import Channel, MappingError
from engine.definitions import compile_text, validate_text
from engine.flows import Flow
from engine.forms import FieldError, FormValidator
from engine.interpreter import context, next_step
from tests.engine.shipped import (
    CHANNEL_NAMES,
    FLOW_FILE,
    FORM_FILE,
    KNOWN,
    channel_file,
    dump,
    load,
    read,
)

WEB = read(channel_file("web"))
PHONE = read(channel_file("phone"))
MARKETPLACE = read(channel_file("marketplace"))
STORE = read(channel_file("store"))


@pytest.fixture(scope="module")
def form() -> FormValidator:
    return FormValidator(compile_text(read(FORM_FILE)))


@pytest.fixture(scope="module")
def flow() -> Flow:
    return compile_text(read(FLOW_FILE))


def channel(text: str) -> Channel:
    return compile_text(text)


def valid(form: FormValidator, order: dict) -> dict:
    """The cleaned order; fails the test with the form's errors if there are any."""
    cleaned, errors = form.validate(order)
    assert errors == []
    return cleaned


def mapping_error(text: str, payload: Any) -> tuple[str, str]:
    with pytest.raises(MappingError) as caught:
        channel(text).to_order(payload)
    assert str(caught.value) == f"{caught.value.field}: {caught.value.message}"
    return caught.value.field, caught.value.message


def route(flow: Flow, order: dict) -> list[str]:
    """Where a paid-or-not order goes from payment_check, through the delivery switch."""
    ctx = context(order, None, {}, {})
    first = next_step(flow, flow.steps["payment_check"], None, ctx)
    if first != "delivery_method":
        return [first]
    second = next_step(flow, flow.steps[first], None, ctx)
    while getattr(flow.steps[second], "activity", None) == "notify":  # customer notifications on the way
        second = flow.steps[second].next
    return [first, second]


# ---- the shipped channels -------------------------------------------------------


SHIPPED = {
    "web": ("Web shop", "web_shop", "OMS_CHANNEL_SECRET_WEB", False),
    "phone": ("Phone orders", "phone", None, False),
    "marketplace": ("Marketplace (EU)", "marketplace", "OMS_CHANNEL_SECRET_MARKETPLACE", True),
    "store": ("Store Berlin Mitte (POS)", "store_pos", "OMS_CHANNEL_SECRET_STORE", True),
    "shopify": ("Shopify store", "web_shop", "OMS_CHANNEL_SECRET_SHOPIFY", True),
    "woocommerce": ("WooCommerce shop", "web_shop", "OMS_CHANNEL_SECRET_WOOCOMMERCE", True),
}


def test_every_shipped_channel_is_described_here():
    assert sorted(SHIPPED) == sorted(CHANNEL_NAMES)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_shipped_channel(name):
    title, type_, secret_env, has_mapping = SHIPPED[name]
    text = read(channel_file(name))
    assert validate_text(text, KNOWN).errors == ()
    parsed = channel(text)
    assert (parsed.name, parsed.title, parsed.type, parsed.flow) == (name, title, type_, "order")
    assert (parsed.secret_env, parsed.callback_url) == (secret_env, None)
    assert (parsed.mapping is not None) == has_mapping


# ---- web and phone: already canonical --------------------------------------------


CANONICAL_ORDER = {
    "channel": "newsletter-landing-page",  # whatever the payload says, the channel wins
    "external_id": "W-100234",
    "customer": {"name": "Ann Lee", "email": "ann@example.com", "phone": "+49 30 1234567", "type": "consumer"},
    "shipping_address": {
        "name": "Ann Lee",
        "street": "Invalidenstr. 117",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
    },
    "lines": [{"sku": "MUG-BLUE", "qty": 2, "price": 12.5}, {"sku": "TEA-EARL-100G", "qty": 1, "price": 6.9}],
    "payment": {"method": "paypal", "status": "paid"},
    "client_ip": "198.51.100.23",
    "coupon": "WELCOME10",
    "utm_source": "newsletter",
}


@pytest.mark.parametrize("name, text", [("web", WEB), ("phone", PHONE)], ids=["web", "phone"])
def test_unmapped_channel_passes_the_payload_through_with_its_own_name(form, name, text):
    payload = copy.deepcopy(CANONICAL_ORDER)
    order = channel(text).to_order(payload)
    assert order == {**CANONICAL_ORDER, "channel": name}
    assert payload == CANONICAL_ORDER  # the payload itself is left alone
    cleaned = valid(form, order)
    assert cleaned == {**CANONICAL_ORDER, "channel": name, "delivery_method": "ship"}


def test_unmapped_channel_sets_the_channel_when_the_payload_has_none():
    payload = {k: v for k, v in CANONICAL_ORDER.items() if k != "channel"}
    assert channel(WEB).to_order(payload) == {**payload, "channel": "web"}


def test_unmapped_channel_keeps_an_incomplete_order_for_the_form_to_refuse(form):
    order = channel(WEB).to_order({"external_id": "W-1"})
    assert order == {"external_id": "W-1", "channel": "web"}
    assert form.validate(order)[1] == [
        FieldError("customer", "Customer is required"),
        FieldError("shipping_address", "Shipping address is required"),
        FieldError("lines", "Order lines is required"),
    ]


# ---- marketplace: nested paths, own names, cents, payment codes ---------------------


MARKETPLACE_PAYLOAD = {
    "orderNumber": "MP-2024-0001832",
    "marketplaceId": "EU-DE",
    "createdAt": "2024-06-11T09:41:27Z",
    "buyer": {
        "fullName": "Jana Novak",
        "contact": {"email": "jana.novak@example.com", "phone": "+49 151 2345678"},
        "ipAddress": "203.0.113.7",
        "loyaltyTier": "GOLD",
    },
    "delivery": {
        "recipient": "Jana Novak",
        "addressLine1": "Torstr. 5",
        "city": "Berlin",
        "zip": "10119",
        "countryCode": "DE",
        "instructions": "leave with neighbour",
    },
    "items": [
        {"sellerSku": "MUG-BLUE", "quantity": 2, "unitPriceCents": 1999, "title": "Blue mug"},
        {"sellerSku": "TEA-EARL-100G", "quantity": 1, "unitPriceCents": 500, "title": "Earl Grey 100 g"},
    ],
    "paymentState": "CAPTURED",
    "totalCents": 4498,
}

MARKETPLACE_ORDER = {
    "external_id": "MP-2024-0001832",
    "customer": {"name": "Jana Novak", "email": "jana.novak@example.com", "phone": "+49 151 2345678"},
    "shipping_address": {
        "name": "Jana Novak",
        "street": "Torstr. 5",
        "city": "Berlin",
        "postal_code": "10119",
        "country": "DE",
    },
    "lines": [{"sku": "MUG-BLUE", "qty": 2, "price": 19.99}, {"sku": "TEA-EARL-100G", "qty": 1, "price": 5}],
    "payment": {"method": "card", "status": "paid"},
    "client_ip": "203.0.113.7",
    "channel": "marketplace",
}


def marketplace_payload(**changes) -> dict:
    payload = copy.deepcopy(MARKETPLACE_PAYLOAD)
    payload.update(changes)
    return payload


def test_marketplace_maps_its_payload_to_the_canonical_order(form, flow):
    order = channel(MARKETPLACE).to_order(marketplace_payload())
    assert order == MARKETPLACE_ORDER
    assert list(order) == list(MARKETPLACE_ORDER)  # mapping order, channel last
    cleaned = valid(form, order)
    assert cleaned == {
        **MARKETPLACE_ORDER,
        "customer": {**MARKETPLACE_ORDER["customer"], "type": "consumer"},
        "delivery_method": "ship",
    }
    assert route(flow, cleaned) == ["delivery_method", "ship"]


def test_marketplace_cents_become_currency():
    payload = marketplace_payload(
        items=[
            {"sellerSku": "A", "quantity": 1, "unitPriceCents": 1},
            {"sellerSku": "B", "quantity": 3, "unitPriceCents": 0},
            {"sellerSku": "C", "quantity": 1, "unitPriceCents": 123456},
            {"sellerSku": "D", "quantity": 1, "unitPriceCents": 1999.0},
        ]
    )
    lines = channel(MARKETPLACE).to_order(payload)["lines"]
    assert [line["price"] for line in lines] == [0.01, 0, 1234.56, 19.99]


@pytest.mark.parametrize(
    "state, status",
    [("PAID", "paid"), ("CAPTURED", "paid"), ("AUTHORIZED", "pending"), ("PENDING", "pending")],
)
def test_marketplace_payment_codes(form, flow, state, status):
    order = channel(MARKETPLACE).to_order(marketplace_payload(paymentState=state))
    assert order["payment"] == {"method": "card", "status": status}
    cleaned = valid(form, order)
    assert route(flow, cleaned) == (["delivery_method", "ship"] if status == "paid" else ["await_payment"])


def test_marketplace_missing_optional_parts_are_simply_absent(form):
    payload = marketplace_payload()
    del payload["buyer"]["contact"]
    del payload["buyer"]["ipAddress"]
    del payload["delivery"]["recipient"]
    del payload["paymentState"]
    order = channel(MARKETPLACE).to_order(payload)
    assert order == {
        "external_id": "MP-2024-0001832",
        "customer": {"name": "Jana Novak"},
        "shipping_address": {"street": "Torstr. 5", "city": "Berlin", "postal_code": "10119", "country": "DE"},
        "lines": MARKETPLACE_ORDER["lines"],
        "payment": {"method": "card"},
        "channel": "marketplace",
    }
    assert valid(form, order)["payment"] == {"method": "card", "status": "pending"}


def test_marketplace_null_values_count_as_absent():
    payload = marketplace_payload(paymentState=None)
    payload["buyer"]["contact"]["phone"] = None
    order = channel(MARKETPLACE).to_order(payload)
    assert order["customer"] == {"name": "Jana Novak", "email": "jana.novak@example.com"}
    assert order["payment"] == {"method": "card"}


def test_marketplace_group_with_nothing_mapped_is_left_out(form):
    payload = marketplace_payload()
    del payload["delivery"]
    order = channel(MARKETPLACE).to_order(payload)
    assert "shipping_address" not in order
    assert form.validate(order)[1] == [FieldError("shipping_address", "Shipping address is required")]


MISSING_REQUIRED = {
    "buyer name": (
        lambda p: p["buyer"].pop("fullName"),
        [FieldError("customer.name", "Customer name is required")],
    ),
    "order number": (lambda p: p.pop("orderNumber"), [FieldError("external_id", "External order id is required")]),
    "items": (lambda p: p.pop("items"), [FieldError("lines", "Order lines is required")]),
    "no items": (lambda p: p.update(items=[]), [FieldError("lines", "Order lines must have at least 1 line")]),
    "a line's sku": (lambda p: p["items"][1].pop("sellerSku"), [FieldError("lines[1].sku", "Line 2: SKU is required")]),
    "a line's price": (
        lambda p: p["items"][0].pop("unitPriceCents"),
        [FieldError("lines[0].price", "Line 1: price is required")],
    ),
    "the city": (
        lambda p: p["delivery"].pop("city"),
        [FieldError("shipping_address.city", "Shipping address: city is required")],
    ),
}


@pytest.mark.parametrize("drop, expected", MISSING_REQUIRED.values(), ids=MISSING_REQUIRED.keys())
def test_marketplace_missing_required_part_fails_the_form_in_its_words(form, drop, expected):
    payload = marketplace_payload()
    drop(payload)
    order = channel(MARKETPLACE).to_order(payload)
    assert form.validate(order)[1] == expected


def test_marketplace_values_are_mapped_not_checked(form):
    payload = marketplace_payload()
    payload["items"][0]["quantity"] = 0
    payload["delivery"]["countryCode"] = "Germany"
    order = channel(MARKETPLACE).to_order(payload)
    assert order["lines"][0]["qty"] == 0
    assert form.validate(order)[1] == [
        FieldError("shipping_address.country", "Shipping address: country must be a 2-letter country code"),
        FieldError("lines[0].qty", "Line 1: quantity must be at least 1"),
    ]


# ---- store POS: defaults, takeaway, tender codes ---------------------------------------


STORE_TAKEAWAY = {
    "receipt": {
        "id": "BER-MITTE-0042-20240611-0815",
        "till": 3,
        "cashier": "K. Meyer",
        "lines": [
            {"ean_sku": "MUG-BLUE", "count": 1, "gross": 19.99, "ean": "4006381333931"},
            {"ean_sku": "TEA-EARL-100G", "count": 2, "gross": 6.9},
        ],
    },
    "tender": "CASH",
    "fulfilment": "TAKEAWAY",
}

STORE_ADDRESS = {"street": "Rosenthaler Str. 1", "city": "Berlin", "postal_code": "10119", "country": "DE"}

STORE_TAKEAWAY_ORDER = {
    "external_id": "BER-MITTE-0042-20240611-0815",
    "customer": {"name": "Store customer"},
    "shipping_address": STORE_ADDRESS,
    "lines": [{"sku": "MUG-BLUE", "qty": 1, "price": 19.99}, {"sku": "TEA-EARL-100G", "qty": 2, "price": 6.9}],
    "payment": {"method": "cash", "status": "paid"},
    "delivery_method": "pickup",
    "channel": "store",
}


def store_payload(**changes) -> dict:
    payload = copy.deepcopy(STORE_TAKEAWAY)
    payload.update(changes)
    return payload


def test_store_takeaway_uses_the_stores_defaults_and_goes_to_hand_over(form, flow):
    order = channel(STORE).to_order(store_payload())
    assert order == STORE_TAKEAWAY_ORDER
    cleaned = valid(form, order)
    assert cleaned == {
        **STORE_TAKEAWAY_ORDER,
        "customer": {"name": "Store customer", "type": "consumer"},
    }
    assert route(flow, cleaned) == ["delivery_method", "hand_over"]


def test_store_shipped_to_the_customer(form, flow):
    payload = store_payload(
        tender="CARD",
        fulfilment="SHIP",
        customer={"name": "Lena Schulz", "email": "lena@example.com", "loyaltyCard": "7731"},
        shipTo={"street": "Am Markt 3", "city": "Potsdam", "zip": "14467", "country": "DE"},
    )
    order = channel(STORE).to_order(payload)
    assert order == {
        **STORE_TAKEAWAY_ORDER,
        "customer": {"name": "Lena Schulz", "email": "lena@example.com"},
        "shipping_address": {"street": "Am Markt 3", "city": "Potsdam", "postal_code": "14467", "country": "DE"},
        "payment": {"method": "card", "status": "paid"},
        "delivery_method": "ship",
    }
    assert route(flow, valid(form, order)) == ["delivery_method", "ship"]


def test_store_defaults_fill_only_the_missing_parts(form):
    payload = store_payload(customer={"email": "guest@example.com"}, shipTo={"city": "Hamburg", "zip": "20095"})
    order = channel(STORE).to_order(payload)
    assert order["customer"] == {"name": "Store customer", "email": "guest@example.com"}
    assert order["shipping_address"] == {
        "street": "Rosenthaler Str. 1",
        "city": "Hamburg",
        "postal_code": "20095",
        "country": "DE",
    }
    valid(form, order)


def test_store_without_fulfilment_is_a_pickup(form, flow):
    payload = store_payload()
    del payload["fulfilment"]
    order = channel(STORE).to_order(payload)
    assert order["delivery_method"] == "pickup"
    assert route(flow, valid(form, order)) == ["delivery_method", "hand_over"]


@pytest.mark.parametrize("tender, method", [("CASH", "cash"), ("CARD", "card")])
def test_store_tender_codes(form, tender, method):
    order = channel(STORE).to_order(store_payload(tender=tender))
    assert order["payment"] == {"method": method, "status": "paid"}
    valid(form, order)


def test_store_payment_is_always_paid_whatever_the_payload_says():
    order = channel(STORE).to_order(store_payload(status="open", payment={"status": "pending"}))
    assert order["payment"] == {"method": "cash", "status": "paid"}


def test_store_without_tender_keeps_the_status_and_takes_the_forms_method(form):
    payload = store_payload()
    del payload["tender"]
    order = channel(STORE).to_order(payload)
    assert order["payment"] == {"status": "paid"}
    assert valid(form, order)["payment"] == {"method": "card", "status": "paid"}


def test_store_receipt_without_lines_fails_the_form(form):
    payload = store_payload()
    del payload["receipt"]["lines"]
    order = channel(STORE).to_order(payload)
    assert "lines" not in order
    assert form.validate(order)[1] == [FieldError("lines", "Order lines is required")]


# ---- mapping errors -----------------------------------------------------------------


def _price_of_line(index: int, value: Any) -> Callable[[dict], None]:
    def edit(payload: dict) -> None:
        payload["items"][index]["unitPriceCents"] = value

    return edit


MAPPING_ERRORS = {
    "unknown marketplace payment code": (
        MARKETPLACE,
        lambda p: p.update(paymentState="REFUNDED"),
        ("payment.status", "paymentState is 'REFUNDED', not one of PAID, CAPTURED, AUTHORIZED, PENDING"),
    ),
    "payment code in the wrong case": (
        MARKETPLACE,
        lambda p: p.update(paymentState="paid"),
        ("payment.status", "paymentState is 'paid', not one of PAID, CAPTURED, AUTHORIZED, PENDING"),
    ),
    "unknown store tender": (
        STORE,
        lambda p: p.update(tender="VOUCHER"),
        ("payment.method", "tender is 'VOUCHER', not one of CASH, CARD"),
    ),
    "unknown store fulfilment": (
        STORE,
        lambda p: p.update(fulfilment="COURIER"),
        ("delivery_method", "fulfilment is 'COURIER', not one of TAKEAWAY, SHIP"),
    ),
    "price in cents as text": (
        MARKETPLACE,
        _price_of_line(0, "1999"),
        ("lines[0].price", "items[0].unitPriceCents must be a number to convert, not '1999'"),
    ),
    "price in cents as a boolean, second line": (
        MARKETPLACE,
        _price_of_line(1, True),
        ("lines[1].price", "items[1].unitPriceCents must be a number to convert, not True"),
    ),
    "price in cents as an object": (
        MARKETPLACE,
        _price_of_line(0, {"amount": 1999, "currency": "EUR"}),
        (
            "lines[0].price",
            "items[0].unitPriceCents must be a number to convert, not {'amount': 1999, 'currency': 'EUR'}",
        ),
    ),
    "marketplace items is an object": (
        MARKETPLACE,
        lambda p: p.update(items={"sellerSku": "MUG-BLUE", "quantity": 1, "unitPriceCents": 1999}),
        ("lines", "items must be a list"),
    ),
    "marketplace items is text": (MARKETPLACE, lambda p: p.update(items="MUG-BLUE"), ("lines", "items must be a list")),
    "store receipt lines is a number": (
        STORE,
        lambda p: p["receipt"].update(lines=2),
        ("lines", "receipt.lines must be a list"),
    ),
}


@pytest.mark.parametrize("text, edit, expected", MAPPING_ERRORS.values(), ids=MAPPING_ERRORS.keys())
def test_mapping_error(text, edit, expected):
    payload = marketplace_payload() if text is MARKETPLACE else store_payload()
    edit(payload)
    assert mapping_error(text, payload) == expected


NOT_OBJECTS = {"a list": [MARKETPLACE_PAYLOAD], "text": '{"orderNumber": "1"}', "null": None, "a number": 42}


@pytest.mark.parametrize("name", CHANNEL_NAMES)
@pytest.mark.parametrize("payload", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
def test_payload_that_is_not_an_object(name, payload):
    assert mapping_error(read(channel_file(name)), payload) == ("", "the payload must be a JSON object")


def test_empty_object_maps_to_the_store_defaults_only():
    assert channel(STORE).to_order({}) == {
        "customer": {"name": "Store customer"},
        "shipping_address": STORE_ADDRESS,
        "payment": {"status": "paid"},
        "delivery_method": "pickup",
        "channel": "store",
    }


def test_empty_object_maps_to_the_marketplace_constants_only():
    assert channel(MARKETPLACE).to_order({}) == {"payment": {"method": "card"}, "channel": "marketplace"}


# ---- channel definitions, broken one way at a time ------------------------------------


def errors_of(text: str, known=KNOWN) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text, known).errors]


def edited(text: str, edit: Callable[[dict], None]) -> str:
    raw = load(text)
    edit(raw)
    return dump(raw)


def _set(*path_and_value) -> Callable[[dict], None]:
    *path, key, value = path_and_value

    def edit(raw: dict) -> None:
        node = raw
        for part in path:
            node = node[part]
        node[key] = value

    return edit


def _leaf(*path: str, **changes) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        node = raw["mapping"]
        for part in path:
            node = node[part]
        node.update(changes)

    return edit


# What a channel's top level may hold, as "allowed here" lists it (`type` left out: see the known gaps).
TOP_LEVEL_KEYS = (
    "callback_expiry, callback_url, events, flow, kind, language, mapping, name, pull, secret_env, stock_sync, tests, "
    "title, type, webhook"
)

BROKEN_CHANNELS = {
    "unknown type": (
        MARKETPLACE,
        _set("type", "shop"),
        [("$.type", "'shop' is not one of 'web_shop', 'marketplace', 'store_pos', 'phone', 'b2b_portal'")],
    ),
    "no type": (WEB, lambda raw: raw.pop("type"), [("$", "'type' is required")]),
    "name that is not a name": (
        WEB,
        _set("name", "Web-Shop"),
        [("$.name", "'Web-Shop' is not a valid name: use lower-case letters, digits and _, starting with a letter")],
    ),
    "both path and const on a leaf": (
        MARKETPLACE,
        _leaf("payment", "method", path="paymentMethod"),
        [("$.mapping.payment.method", "give one of `path`, `const` or `expr`, not path and const")],
    ),
    "constant with a code table": (
        STORE,
        _leaf("payment", "status", table={"PAID": "paid"}),
        [("$.mapping.payment.status", "a constant needs no conversion")],
    ),
    "divide by zero": (
        MARKETPLACE,
        _leaf("lines", "map", "price", divide=0),
        [("$.mapping.lines.map.price.divide", "must not be zero")],
    ),
    "multiply by zero": (
        STORE,
        _leaf("lines", "map", "price", multiply=0),
        [("$.mapping.lines.map.price.multiply", "must not be zero")],
    ),
    "divide by text": (
        MARKETPLACE,
        _leaf("lines", "map", "price", divide="100"),
        [("$.mapping.lines.map.price.divide", "must be of type number, not str")],
    ),
    "leaf with an unknown key": (
        MARKETPLACE,
        _leaf("lines", "map", "price", round=2),
        [
            (
                "$.mapping.lines.map.price",
                "unknown key 'round'; allowed here: const, default, divide, expr, multiply, path, table",
            )
        ],
    ),
    "code table as a list": (
        STORE,
        _leaf("payment", "method", table=["CASH", "CARD"]),
        [("$.mapping.payment.method.table", "must be of type object, not list")],
    ),
    "each without map": (
        MARKETPLACE,
        lambda raw: raw["mapping"]["lines"].pop("map"),
        [("$.mapping.lines", "'map' is required")],
    ),
    "each with an unknown key": (
        STORE,
        _leaf("lines", where="count > 0"),
        [("$.mapping.lines", "unknown key 'where'; allowed here: each, map")],
    ),
    "canonical field that is not a name": (
        MARKETPLACE,
        lambda raw: raw["mapping"].update(clientIp={"path": "buyer.ipAddress"}),
        [
            (
                "$.mapping",
                "'clientIp' is not a valid name: use lower-case letters, digits and _, starting with a letter",
            )
        ],
    ),
    "empty mapping": (WEB, _set("mapping", {}), [("$.mapping", "{} should be non-empty")]),
    "secret_env in lower case": (
        WEB,
        _set("secret_env", "oms_channel_secret_web"),
        [
            (
                "$.secret_env",
                "'oms_channel_secret_web' is not a secret's variable: name an OMS_..._SECRET... environment "
                "variable, e.g. OMS_CHANNEL_SECRET_WEB",
            )
        ],
    ),
    "secret_env naming another variable of the process": (
        WEB,
        _set("secret_env", "OMS_DATABASE_URL"),
        [
            (
                "$.secret_env",
                "'OMS_DATABASE_URL' is not a secret's variable: name an OMS_..._SECRET... environment "
                "variable, e.g. OMS_CHANNEL_SECRET_WEB",
            )
        ],
    ),
    "payment_received among a channel's events": (
        MARKETPLACE,
        _set("events", ["shipped", "payment_received"]),
        [("$.events[1]", "must not be 'payment_received'")],
    ),
    "the secret itself instead of secret_env": (
        WEB,
        _set("secret", "s3cr3t"),
        [("$", "unknown key 'secret'; allowed here: " + TOP_LEVEL_KEYS)],
    ),
    "callback_url without a scheme": (
        MARKETPLACE,
        _set("callback_url", "partner.example.com/oms/status"),
        [("$.callback_url", "'partner.example.com/oms/status' is not a URL: start it with http:// or https://")],
    ),
    "callback_url over ftp": (
        MARKETPLACE,
        _set("callback_url", "ftp://partner.example.com/status"),
        [("$.callback_url", "'ftp://partner.example.com/status' is not a URL: start it with http:// or https://")],
    ),
    "callback_expiry that is not a duration": (
        MARKETPLACE,
        _set("callback_expiry", "1 day"),
        [
            (
                "$.callback_expiry",
                "'1 day' is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. '30m' or '7d'",
            )
        ],
    ),
    "callback_expiry as a number": (
        MARKETPLACE,
        _set("callback_expiry", 3600),
        [("$.callback_expiry", "must be of type string, not int")],
    ),
    "unknown flow, with a suggestion": (
        WEB,
        _set("flow", "ordr"),
        [("$.flow", "unknown flow 'ordr' (did you mean 'order'?)")],
    ),
    "unknown flow, nothing close": (STORE, _set("flow", "wholesale"), [("$.flow", "unknown flow 'wholesale'")]),
    "flow that is not a name": (
        WEB,
        _set("flow", "Order"),
        [("$.flow", "'Order' is not a valid name: use lower-case letters, digits and _, starting with a letter")],
    ),
}


@pytest.mark.parametrize("text, edit, expected", BROKEN_CHANNELS.values(), ids=BROKEN_CHANNELS.keys())
def test_broken_channel_errors(text, edit, expected):
    assert errors_of(edited(text, edit)) == expected


def test_every_mapping_error_is_reported_at_once():
    def edit(raw: dict) -> None:
        _leaf("lines", "map", "price", divide=0)(raw)
        _leaf("payment", "method", path="paymentMethod")(raw)
        _leaf("payment", "status", const="paid")(raw)

    assert errors_of(edited(MARKETPLACE, edit)) == [
        ("$.mapping.lines.map.price.divide", "must not be zero"),
        ("$.mapping.payment.method", "give one of `path`, `const` or `expr`, not path and const"),
        ("$.mapping.payment.status", "give one of `path`, `const` or `expr`, not path and const"),
        ("$.mapping.payment.status", "a constant needs no conversion"),
    ]


def test_https_callback_url_is_accepted():
    text = edited(MARKETPLACE, _set("callback_url", "https://partner.example.com/oms/status"))
    assert errors_of(text) == []
    assert channel(text).callback_url == "https://partner.example.com/oms/status"


@pytest.mark.parametrize("expiry, seconds", [(None, 86400), ("90m", 5400), ("2d", 172800)])
def test_callback_expiry(expiry, seconds):
    text = MARKETPLACE if expiry is None else edited(MARKETPLACE, _set("callback_expiry", expiry))
    assert errors_of(text) == []
    assert channel(text).callback_expiry_seconds == seconds


def test_channel_without_flow_runs_the_order_flow_and_needs_it_published():
    text = edited(WEB, lambda raw: raw.pop("flow"))
    assert channel(text).flow == "order"
    assert errors_of(text) == []
    assert errors_of(text, known=KNOWN - {("flow", "order")}) == [("$.flow", "unknown flow 'order'")]


def test_channel_flow_is_not_checked_without_known():
    assert errors_of(edited(WEB, _set("flow", "returns")), known=None) == []


# ---- known gaps (product bugs, see each reason) -----------------------------------------


def test_numeric_codes_in_a_table():
    def edit(raw: dict) -> None:
        _leaf("payment", "method", table={1: "cash", 2: "card"})(raw)
        raw.pop("tests")  # the stored cases send CASH, which this edit no longer maps

    text = edited(STORE, edit)
    assert errors_of(text) == []
    assert channel(text).to_order(store_payload(tender=1))["payment"] == {"method": "cash", "status": "paid"}


def test_unknown_top_level_key_names_type_as_allowed():
    text = edited(WEB, lambda raw: raw.update(typ=raw.pop("type")))
    assert errors_of(text) == [
        ("$", "'type' is required"),
        ("$", "unknown key 'typ'; allowed here: " + TOP_LEVEL_KEYS),
    ]


def test_zero_callback_expiry_is_a_definition_error():
    text = edited(MARKETPLACE, _set("callback_expiry", "0s"))
    assert errors_of(text) == [("$.callback_expiry", "'0s' must be longer than zero")]


def test_constant_with_multiply_is_refused():
    text = edited(STORE, _leaf("payment", "status", multiply=2))
    assert errors_of(text) == [("$.mapping.payment.status", "a constant needs no conversion")]


def test_null_list_counts_as_absent():
    order = channel(MARKETPLACE).to_order(marketplace_payload(items=None))
    assert "lines" not in order


def test_blank_value_takes_the_default():
    order = channel(STORE).to_order(store_payload(customer={"name": "  "}))
    assert order["customer"] == {"name": "Store customer"}
