"""Channel webhooks as platforms send them: signature schemes, event types, pings, and broken `webhook:` sections.

Signatures are checked against HMACs computed here with hashlib, not with the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import pytest

from engine.channel_webhooks import DEFAULT_WEBHOOK, OMS_SIGNATURE, Signature
from engine.channels import Channel
from engine.definitions import compile_text, validate_text
from tests.engine.shipped import KNOWN, channel_file, dump, load, read

SHOPIFY = read(channel_file("shopify"))
WOOCOMMERCE = read(channel_file("woocommerce"))
WEB = read(channel_file("web"))
BODY = b'{"id": 820982911946154508, "line_items": []}'


def channel(text: str) -> Channel:
    return compile_text(text)


def base64_hmac(secret: str, message: bytes, digest=hashlib.sha256) -> str:
    return base64.b64encode(hmac.new(secret.encode(), message, digest).digest()).decode()


def hex_hmac(secret: str, message: bytes, digest=hashlib.sha256) -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


# ---- the schemes ---------------------------------------------------------------------


def test_a_channel_without_webhook_signs_as_the_product_does():
    assert channel(WEB).webhook == DEFAULT_WEBHOOK
    assert OMS_SIGNATURE.headers("s3cret", BODY, 1700000000) == {
        "X-OMS-Timestamp": "1700000000",
        "X-OMS-Signature": "sha256=" + hex_hmac("s3cret", b"1700000000." + BODY),
    }
    assert OMS_SIGNATURE.describe() == 'sha256=<HMAC-SHA256 of "<X-OMS-Timestamp>." + the body>'


@pytest.mark.parametrize("text", [SHOPIFY, WOOCOMMERCE], ids=["shopify", "woocommerce"])
def test_shopify_and_woocommerce_sign_the_raw_body_base64(text):
    signature = channel(text).webhook.signature
    expected = base64_hmac("app-secret", BODY)
    assert signature.headers("app-secret", BODY) == {signature.header: expected}
    assert signature.matches("app-secret", BODY, expected)
    assert not signature.matches("other-secret", BODY, expected)
    assert not signature.matches("app-secret", BODY + b" ", expected)
    assert signature.describe() == "<base64 HMAC-SHA256 of the body>"


def test_a_timestamped_template_with_a_prefix_in_sha1_hex():
    signature = Signature(
        "X-Shop-Signature", "sha1", "hex", "v1=", timestamp_header="X-Shop-Time", template="v1:{timestamp}:{body}"
    )
    expected = "v1=" + hex_hmac("k", b"v1:1700000000:" + BODY, hashlib.sha1)
    assert signature.headers("k", BODY, 1700000000) == {"X-Shop-Time": "1700000000", "X-Shop-Signature": expected}
    assert signature.matches("k", BODY, expected.upper().replace("V1=", "v1="), "1700000000")  # hex in any case
    assert not signature.matches("k", BODY, expected, "1700000001")
    assert signature.describe() == """v1=<HMAC-SHA1 of "v1:<X-Shop-Time>:" + the body>"""


def test_a_template_with_text_after_the_body():
    signature = Signature("X-Sig", timestamp_header="X-Time", template="{body}|{timestamp}")
    assert signature.sign("k", BODY, "7") == hex_hmac("k", BODY + b"|7")
    assert signature.describe() == '<HMAC-SHA256 of the body + "|<X-Time>">'


# ---- event types and pings ---------------------------------------------------------------


class Headers(dict):
    """As HTTP looks headers up: regardless of case."""

    def get(self, key, default=None):
        return next((v for k, v in self.items() if k.lower() == key.lower()), default)


def test_shopify_takes_orders_create_only():
    webhook = channel(SHOPIFY).webhook
    assert webhook.event_type is not None
    assert webhook.event_type.of(Headers({"x-shopify-topic": "orders/create"}), {}) == "orders/create"
    assert webhook.event_type.of(Headers({}), {"topic": "orders/create"}) is None
    assert webhook.takes("orders/create")
    assert not webhook.takes("orders/updated")
    assert not webhook.takes(None)


def test_an_event_type_in_a_payload_field():
    def edit(raw: dict) -> None:
        raw["webhook"].update(event_type={"field": "meta.type", "orders": ["new"]})
        raw.pop("tests")  # they give the event type as Shopify's header

    text = edited(SHOPIFY, edit)
    events = channel(text).webhook.event_type
    assert events is not None
    assert events.of(Headers({"X-Shopify-Topic": "new"}), {"meta": {"type": "new"}}) == "new"
    assert events.of(Headers({}), {"meta": {"type": {"nested": 1}}}) is None
    assert events.of(Headers({}), {"meta": "new"}) is None


def test_a_channel_without_event_types_takes_every_delivery():
    assert DEFAULT_WEBHOOK.takes(None) and DEFAULT_WEBHOOK.takes("anything")


@pytest.mark.parametrize(
    "body, headers, ping",
    [
        (b"webhook_id=42", {}, True),
        (b"  webhook_id=7\n", {}, True),
        (b"webhook_id=", {}, False),
        (b"webhook_id=42&x=1", {}, False),
        (b'{"id": 1}', {}, False),
        (b"webhook_id=42", {"X-WC-Webhook-Signature": "abc"}, False),  # signed: a delivery, checked as one
    ],
)
def test_woocommerce_ping(body, headers, ping):
    assert channel(WOOCOMMERCE).webhook.is_ping(body, Headers(headers)) is ping
    assert channel(SHOPIFY).webhook.is_ping(body, Headers(headers)) is False


# ---- broken `webhook:` sections, one way at a time ------------------------------------------


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text, KNOWN).errors]


def edited(text: str, edit: Callable[[dict], None]) -> str:
    raw = load(text)
    edit(raw)
    return dump(raw)


def _signature(**changes) -> Callable[[dict], None]:
    def edit(raw: dict) -> None:
        raw["webhook"]["signature"].update(changes)

    return edit


TIMESTAMP = {"header": "X-Shop-Time", "template": "{timestamp}.{body}", "tolerance_seconds": 300}

BROKEN = {
    "an algorithm HMAC has not here": (
        _signature(algorithm="md5"),
        [("$.webhook.signature.algorithm", "'md5' is not one of 'sha256', 'sha1'")],
    ),
    "an unknown encoding": (
        _signature(encoding="base32"),
        [("$.webhook.signature.encoding", "'base32' is not one of 'hex', 'base64'")],
    ),
    "a header that is no header name": (
        _signature(header="X Shopify Hmac"),
        [("$.webhook.signature.header", "'X Shopify Hmac' does not match '^[A-Za-z0-9][A-Za-z0-9-]*$'")],
    ),
    "a timestamp signed without saying where it is": (
        _signature(signed="timestamp_and_body"),
        [
            (
                "$.webhook.signature",
                "signed: timestamp_and_body needs `timestamp` (its header, template and tolerance)",
            )
        ],
    ),
    "a timestamp for a body-only signature": (
        _signature(timestamp=TIMESTAMP),
        [("$.webhook.signature.timestamp", "only with signed: timestamp_and_body")],
    ),
    "a template without the body": (
        _signature(signed="timestamp_and_body", timestamp={**TIMESTAMP, "template": "{timestamp}"}),
        [
            (
                "$.webhook.signature.timestamp.template",
                "must hold {timestamp} and {body} once each, e.g. '{timestamp}.{body}'",
            )
        ],
    ),
    "a template with another placeholder": (
        _signature(signed="timestamp_and_body", timestamp={**TIMESTAMP, "template": "{timestamp}.{nonce}.{body}"}),
        [("$.webhook.signature.timestamp.template", "unknown placeholder {nonce}; only {timestamp} and {body}")],
    ),
    "the timestamp in the signature's header": (
        _signature(signed="timestamp_and_body", timestamp={**TIMESTAMP, "header": "x-shopify-hmac-sha256"}),
        [("$.webhook.signature.timestamp.header", "must differ from the signature's header")],
    ),
    "a tolerance of zero": (
        _signature(signed="timestamp_and_body", timestamp={**TIMESTAMP, "tolerance_seconds": 0}),
        [("$.webhook.signature.timestamp.tolerance_seconds", "0 is less than the minimum of 1")],
    ),
    "an event type in a header and a field": (
        lambda raw: raw["webhook"]["event_type"].update(field="topic"),
        [("$.webhook.event_type", "give `header` or `field` (where the event type is), one of them")],
    ),
    "event types without the ones that carry orders": (
        lambda raw: raw["webhook"]["event_type"].pop("orders"),
        [("$.webhook.event_type", "'orders' is required")],
    ),
    "a signature without its header": (
        lambda raw: raw["webhook"]["signature"].pop("header"),
        [("$.webhook.signature", "'header' is required")],
    ),
    "the secret itself in the signature": (
        _signature(secret="hush"),
        [
            (
                "$.webhook.signature",
                "unknown key 'secret'; allowed here: algorithm, encoding, header, prefix, signed, timestamp",
            )
        ],
    ),
    "a test case's event type where the channel reads none": (
        lambda raw: (raw.pop("webhook"), raw.update(tests=[raw["tests"][2]])),
        [
            (
                "$.tests[0].event_type",
                "this channel's webhooks carry no event type: describe where it is in `webhook.event_type`",
            )
        ],
    ),
}


@pytest.mark.parametrize("edit, expected", BROKEN.values(), ids=BROKEN.keys())
def test_broken_webhook(edit, expected):
    assert errors_of(edited(SHOPIFY, edit)) == expected


def test_a_timestamped_scheme_validates_and_parses():
    text = edited(SHOPIFY, _signature(signed="timestamp_and_body", timestamp=TIMESTAMP, prefix="t1="))
    assert errors_of(text) == []
    signature = channel(text).webhook.signature
    assert (signature.timestamp_header, signature.template, signature.tolerance_seconds) == (
        "X-Shop-Time",
        "{timestamp}.{body}",
        300,
    )
    assert signature.timestamped and signature.prefix == "t1="


# ---- stored cases that say what happens to a delivery ------------------------------------------


def case_detail(text: str, case: dict) -> list[tuple[str, str]]:
    return errors_of(edited(text, lambda raw: raw.update(tests=[case])))


def test_a_case_expecting_an_order_from_an_ignored_event_fails_at_ignored():
    case = {"name": "updates", "event_type": "orders/updated", "payload": {"id": 1}, "expect": {"order": {}}}
    assert case_detail(SHOPIFY, case) == [
        (
            "$.tests[0].expect.ignored",
            "test 'updates' failed: expected an order, got the delivery ignored: 'orders/updated' is not one of "
            "orders/create (header X-Shopify-Topic)",
        )
    ]


def test_a_case_expecting_ignored_from_an_order_event_fails_at_ignored():
    case = {"name": "created", "event_type": "orders/create", "payload": {"id": 1}, "expect": {"ignored": True}}
    assert case_detail(SHOPIFY, case) == [
        ("$.tests[0].expect.ignored", "test 'created' failed: expected the delivery ignored, got order 1")
    ]


def test_a_case_of_a_channel_reading_the_event_type_from_the_payload():
    def edit(raw: dict) -> None:
        raw["webhook"]["event_type"] = {"field": "topic", "orders": ["orders/create"]}
        raw["tests"] = [
            {"name": "update", "payload": {"id": 1, "topic": "orders/updated"}, "expect": {"ignored": True}},
            {"name": "no topic", "payload": {"id": 2}, "expect": {"ignored": True}},
            {
                "name": "create",
                "payload": {"id": 3, "topic": "orders/create"},
                "expect": {"order": {"external_id": "3"}},
            },
            {"name": "given", "event_type": "orders/create", "payload": {"id": 4}, "expect": {"ignored": True}},
        ]

    assert errors_of(edited(SHOPIFY, edit)) == [
        (
            "$.tests[3].event_type",
            "this channel reads the event type from the payload field topic: set it in `payload`",
        )
    ]
    text = edited(SHOPIFY, lambda raw: (edit(raw), raw["tests"].pop()))
    assert errors_of(text) == []
