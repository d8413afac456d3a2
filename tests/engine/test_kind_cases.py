"""Stored test cases of allocation, carriers, channels, forms and templates: run on every validation."""

from __future__ import annotations

import json

import pytest

from engine.definitions import validate_text
from tests.engine.shipped import DEFINITIONS, channel_file, dump, load, read, replace_once

ALLOCATION = read(DEFINITIONS / "allocation" / "default.yaml")
CARRIERS = read(DEFINITIONS / "carriers" / "default.yaml")
MARKETPLACE = read(channel_file("marketplace"))
RETURN_FORM = read(DEFINITIONS / "forms" / "return_request.yaml")
ORDER_FORM = read(DEFINITIONS / "forms" / "order.yaml")
SHIPPED_NOTE = read(DEFINITIONS / "templates" / "notify_shipped.yaml")
LABEL = read(DEFINITIONS / "templates" / "shipping_label.yaml")


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


def with_cases(text: str, *cases: dict) -> str:
    """``text`` with these cases instead of its own (dumped with sorted keys: messages list them so)."""
    raw = load(text)
    raw["tests"] = json.loads(json.dumps(cases))  # no shared objects: the dump would write them as aliases
    return dump(raw)


@pytest.mark.parametrize(
    "kind, text",
    [
        ("allocation", ALLOCATION),
        ("carriers", CARRIERS),
        ("channel", MARKETPLACE),
        ("form", RETURN_FORM),
        ("form", ORDER_FORM),
        ("template", SHIPPED_NOTE),
        ("template", LABEL),
    ],
)
def test_the_shipped_cases_of_every_kind_pass(kind, text):
    source = validate_text(text)
    assert source.kind == kind and source.errors == ()
    assert source.tests and all(t.passed for t in source.tests), [t.detail for t in source.tests]


# ---- allocation ------------------------------------------------------------

FRANCE = {"shipping_address": {"country": "FR"}}
BOTH = [
    {"warehouse": "BER", "sku": "MUG-LOGO", "available": 9},
    {"warehouse": "LYS", "sku": "MUG-LOGO", "available": 9},
]


def test_an_allocation_case_passes_with_the_plan_it_expects():
    text = with_cases(
        ALLOCATION, {"name": "Lyon", "order": FRANCE, "stock": BOTH, "expect": {"warehouses": ["LYS"], "split": False}}
    )
    (result,) = validate_text(text).tests
    assert result.passed and result.outcome["warehouses"] == ["LYS"]
    assert result.detail.startswith("ships from LYS; BER does not serve FR")


def test_an_allocation_case_that_fails_names_the_key_the_case_and_what_came_instead():
    text = with_cases(
        ALLOCATION,
        {"name": "Berlin?", "order": FRANCE, "stock": BOTH, "expect": {"warehouses": ["BER"]}},
        {
            "name": "short",
            "order": {"lines": [{"sku": "MUG-LOGO", "qty": 20, "price": 9.5}]},
            "stock": BOTH,
            "expect": {"failure": None, "shortage": [{"sku": "MUG-LOGO", "missing": 2}]},
        },
    )
    assert errors_of(text) == [
        ("$.tests[0].expect.warehouses", "test 'Berlin?' failed: expected ['BER'], got ['LYS']"),
        ("$.tests[1].expect.failure", "test 'short' failed: expected None, got 'out_of_stock'"),
        ("$.tests[1].expect.shortage[0].missing", "test 'short' failed: expected 2, got 11"),
    ]


def test_allocation_cases_name_only_warehouses_of_the_case_and_real_dates():
    text = with_cases(
        ALLOCATION,
        {
            "name": "typo",
            "today": "2026-02-30",
            "stock": [{"warehouse": "BRE", "sku": "MUG-LOGO", "available": 1}],
            "expect": {"warehouses": ["LYS"]},
        },
    )
    assert errors_of(text) == [
        (
            "$.tests[0].stock[0].warehouse",
            "unknown warehouse 'BRE' (did you mean 'BER'?); warehouses are BER, LYS, NJ1",
        ),
        ("$.tests[0].today", "'2026-02-30' is not a date: write it as 'YYYY-MM-DD'"),
    ]


def test_an_allocation_case_over_its_own_warehouses_and_holds():
    text = with_cases(
        ALLOCATION,
        {
            "name": "the only stock is held for another channel",
            "warehouses": [{"code": "W1", "country": "DE", "latitude": 52.5, "longitude": 13.4}],
            "stock": [{"warehouse": "W1", "sku": "MUG-LOGO", "available": 3}],
            "holds": [{"warehouse": "W1", "sku": "MUG-LOGO", "qty": 2}],
            "expect": {"warehouses": [], "failure": "out_of_stock", "shortage": [{"sku": "MUG-LOGO", "missing": 1}]},
        },
    )
    assert errors_of(text) == []


def test_a_case_whose_example_cannot_be_used_fails_instead_of_raising():
    text = with_cases(
        ALLOCATION,
        {"name": "words", "order": {"lines": [{"sku": "X", "qty": "two", "price": 1}]}, "expect": {"split": False}},
    )
    assert errors_of(text) == [
        (
            "$.tests[0]",
            "test 'words' failed: the case could not run: invalid literal for int() with base 10: 'two'",
        )
    ]


# ---- carriers ----------------------------------------------------------------


def test_a_carrier_case_that_fails_says_expected_and_got():
    text = with_cases(
        CARRIERS,
        {"name": "post", "parcel": {"weight_kg": 1.5}, "expect": {"carrier": "sim_parcel", "price": 3.9}},
        {"name": "freight", "parcel": {"weight_kg": 40}, "expect": {"carrier": "sim_freight", "price": 80}},
    )
    assert errors_of(text) == [
        ("$.tests[0].expect.carrier", "test 'post' failed: expected 'sim_parcel', got 'sim_post'"),
        ("$.tests[1].expect.price", "test 'freight' failed: expected 80, got 81.0"),
    ]


def test_a_carrier_case_may_expect_that_no_row_matches():
    table = load(CARRIERS)
    table["table"]["rows"] = table["table"]["rows"][:-1]  # no worldwide fallback
    table["tests"] = [
        {"name": "nothing to China", "parcel": {"country": "CN"}, "expect": {"no_carrier": True}},
        {"name": "China by express?", "parcel": {"country": "CN"}, "expect": {"carrier": "sim_express"}},
    ]
    ((path, message),) = errors_of(dump(table))
    assert path == "$.tests[1].expect.carrier"
    assert message.startswith(
        "test 'China by express?' failed: expected 'sim_express', got none: no carrier row of 'default' matches"
    )


def test_a_carrier_case_names_only_carriers_and_regions_the_table_has():
    text = with_cases(CARRIERS, {"name": "dhl", "expect": {"carrier": "sim_pots", "region": "europe"}})
    assert errors_of(text) == [
        ("$.tests[0].expect.carrier", "unknown carrier 'sim_pots' (did you mean 'sim_post'?)"),
        ("$.tests[0].expect.region", "unknown region 'europe'; regions are asia, domestic, eu, na, uk, other"),
    ]


# ---- channels ----------------------------------------------------------------

PAYLOAD = {
    "orderNumber": "MP-9",
    "items": [{"sellerSku": "MUG-LOGO", "quantity": 1, "unitPriceCents": 1999}],
    "paymentState": "PAID",
}


def test_a_channel_case_compares_the_keys_it_gives_item_by_item():
    good = {
        "name": "ok",
        "payload": PAYLOAD,
        "expect": {"order": {"lines": [{"price": 19.99}], "channel": "marketplace"}},
    }
    bad = {"name": "cents", "payload": PAYLOAD, "expect": {"order": {"lines": [{"price": 1999}], "coupon": "X"}}}
    source = validate_text(with_cases(MARKETPLACE, good, bad))
    assert [t.passed for t in source.tests] == [True, False]
    assert [(e.path, e.message) for e in source.errors] == [
        ("$.tests[1].expect.order.coupon", "test 'cents' failed: expected 'X', got nothing"),
        ("$.tests[1].expect.order.lines[0].price", "test 'cents' failed: expected 1999, got 19.99"),
    ]


def test_a_channel_case_expects_the_mapping_error_by_field():
    refunded = {**PAYLOAD, "paymentState": "REFUNDED"}
    text = with_cases(
        MARKETPLACE,
        {
            "name": "refused",
            "payload": refunded,
            "expect": {"error": {"field": "payment.status", "message": "REFUNDED"}},
        },
        {"name": "wrong field", "payload": refunded, "expect": {"error": {"field": "payment.method"}}},
        {"name": "an order?", "payload": refunded, "expect": {"order": {"external_id": "MP-9"}}},
        {"name": "an error?", "payload": PAYLOAD, "expect": {"error": {"field": "payment.status"}}},
    )
    why = "paymentState is 'REFUNDED', not one of AUTHORIZED, CAPTURED, PAID, PENDING"  # the dump sorts the table
    assert errors_of(text) == [
        (
            "$.tests[1].expect.error.field",
            f"test 'wrong field' failed: expected 'payment.method', got 'payment.status' ({why})",
        ),
        (
            "$.tests[2].expect.order",
            f"test 'an order?' failed: expected an order, got a mapping error at 'payment.status': {why}",
        ),
        (
            "$.tests[3].expect.error",
            "test 'an error?' failed: expected a mapping error at 'payment.status', got an order",
        ),
    ]


# ---- forms -------------------------------------------------------------------

RETURN = {"order_id": "ord_1", "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"}


def test_a_form_case_expects_errors_by_field_or_valid():
    text = with_cases(
        RETURN_FORM,
        {"name": "valid", "input": RETURN, "expect": {"valid": True, "document": {"kind": "refund"}}},
        {
            "name": "exchange",
            "input": {**RETURN, "kind": "exchange"},
            "expect": {"errors": {"replacement_sku": "is required"}},
        },
    )
    assert errors_of(text) == []


def test_a_form_case_that_fails_names_the_field():
    text = with_cases(
        RETURN_FORM,
        {"name": "valid?", "input": {**RETURN, "kind": "exchange"}, "expect": {"valid": True}},
        {
            "name": "qty",
            "input": {**RETURN, "lines": [{"line": 1, "qty": 0}]},
            "expect": {"errors": {"lines[0].qty": "at most"}},
        },
        {"name": "missing", "input": {**RETURN, "reason": "nope"}, "expect": {"errors": {"comment": "too long"}}},
    )
    assert errors_of(text) == [
        ("$.tests[0].expect.valid", "test 'valid?' failed: expected True, got False"),
        (
            "$.tests[1].expect.errors['lines[0].qty']",
            "test 'qty' failed: expected an error containing 'at most', got 'Line 1: quantity must be at least 1'",
        ),
        (
            "$.tests[2].expect.errors.comment",
            "test 'missing' failed: expected an error containing 'too long', got none",
        ),
        (
            "$.tests[2].expect.errors",
            "test 'missing' failed: unexpected errors at 'reason' (reason: Reason must be one of: changed_mind, "
            "wrong_size, not_as_described, wrong_item, defective, damaged_on_arrival)",
        ),
    ]


def test_a_form_case_cannot_expect_valid_and_errors():
    text = with_cases(RETURN_FORM, {"name": "both", "input": RETURN, "expect": {"valid": True, "errors": {"x": "y"}}})
    assert errors_of(text) == [("$.tests[0].expect.valid", "a valid input has no errors: drop one of them")]


# ---- templates ---------------------------------------------------------------


def test_a_notification_case_checks_subject_body_and_language():
    text = with_cases(
        SHIPPED_NOTE,
        {
            "name": "german",
            "order": {"external_id": "W-1", "customer": {"language": "de"}},
            "expect": {"language": "de", "subject_contains": "W-1 ist unterwegs", "contains": ["Sendungsnummer"]},
        },
        {"name": "wrong", "order": {"external_id": "W-2"}, "expect": {"contains": ["Paket"], "not_contains": ["W-2"]}},
    )
    source = validate_text(text)
    assert [t.passed for t in source.tests] == [True, False]
    assert [(e.path, e.message) for e in source.errors] == [
        (
            "$.tests[1].expect.contains[0]",
            "test 'wrong' failed: the text does not contain 'Paket': 'Hello Ann Example, your order W-2 has shipped. "
            "Parcel 1: Simulated Post, tracking number SIM000000001'",
        ),
        ("$.tests[1].expect.not_contains[0]", "test 'wrong' failed: the text contains 'W-2'"),
    ]


def test_a_print_template_case_sees_escaped_values():
    text = with_cases(
        LABEL,
        {"name": "escaped", "order": {"customer": {"name": "<i>Ann</i>"}}, "expect": {"contains": "&lt;i&gt;Ann"}},
        {"name": "raw?", "order": {"customer": {"name": "<i>Ann</i>"}}, "expect": {"contains": "<i>Ann"}},
    )
    ((path, message),) = errors_of(text)
    assert path == "$.tests[1].expect.contains[0]"
    assert message.startswith("test 'raw?' failed: the text does not contain '<i>Ann':")


def test_template_cases_name_languages_the_template_has_and_no_subject_of_a_print_template():
    note = with_cases(SHIPPED_NOTE, {"name": "fr", "expect": {"language": "fr"}})
    assert errors_of(note) == [("$.tests[0].expect.language", "unknown language 'fr'; this template has de, en, zh")]
    label = with_cases(LABEL, {"name": "subject", "expect": {"subject_contains": "x"}})
    assert errors_of(label) == [("$.tests[0].expect.subject_contains", "a label template has no subject")]


# ---- the schemas ---------------------------------------------------------------


def test_an_unknown_key_in_a_case_is_a_schema_error_naming_the_allowed_ones():
    text = with_cases(CARRIERS, {"name": "x", "parcel": {}, "expect": {"carrier": "sim_post", "cost": 3}})
    assert errors_of(text) == [
        ("$.tests[0].expect", "unknown key 'cost'; allowed here: carrier, no_carrier, price, region, service")
    ]


def test_a_failing_stored_case_refuses_the_definition_and_names_its_line():
    text = replace_once(
        CARRIERS,
        "expect: {carrier: sim_post, service: small_parcel",
        "expect: {carrier: sim_parcel, service: small_parcel",
    )
    source = validate_text(text)
    (error,) = source.errors
    assert error.path == "$.tests[0].expect.carrier"
    from engine.sourcemap import error_lines

    (line,) = error_lines(text, [error])
    assert "carrier: sim_parcel" in text.splitlines()[line - 1]


# ---- flows: the schema takes everything the simulated effects can script -------


def test_a_stored_flow_case_scripts_per_visit_decisions_failures_results_and_expects_activities():
    order_flow = with_cases(
        read(DEFINITIONS / "flows" / "order.yaml"),
        {
            "name": "four-eyes after an escalation, then backordered",
            "order": {"lines": [{"sku": "LAPTOP-14", "qty": 9, "price": 1299}]},
            "audit": ["review"],
            "decisions": {"manual_review": ["timeout", "approve", "approve"]},
            "failures": {"reserve": ["out_of_stock", None]},
            "events": ["stock_received", {"type": "delivered", "data": {"by": "carrier"}}],
            "results": {"ship": {"parcels": 1}},
            "expect": {
                "status": "completed",
                "activities": ["reserve_stock", "reserve_stock", "notify", "create_shipment", "notify", "notify"],
            },
        },
    )
    source = validate_text(order_flow)
    assert source.errors == () and [t.passed for t in source.tests] == [True]
    return_flow = with_cases(
        read(DEFINITIONS / "flows" / "return.yaml"),
        {
            "name": "an exchange out of stock is refunded",
            "return": {"kind": "exchange"},
            "failures": {"reserve_exchange": "out_of_stock"},
            "decisions": {"inspect": "inspected"},
            "events": ["parcel_received"],
            "expect": {
                "path": [
                    "audit",
                    "approved",
                    "reserve_exchange",
                    "keep_check",
                    "label",
                    "notify_label",
                    "await_parcel",
                    "inspect",
                    "restock",
                    "settle",
                    "refund",
                    "notify_refunded",
                    "completed",
                ]
            },
        },
    )
    source = validate_text(return_flow)
    assert source.errors == () and [t.passed for t in source.tests] == [True]


def test_a_scripted_decision_per_period_must_be_one_of_the_step_or_timeout():
    text = with_cases(
        read(DEFINITIONS / "flows" / "order.yaml"),
        {
            "name": "typo",
            "audit": "review",
            "decisions": {"manual_review": ["timeout", "aprove"]},
            "expect": {"end": "rejected"},
        },
    )
    assert errors_of(text) == [
        (
            "$.tests[0].decisions.manual_review[1]",
            "'aprove' is not a decision of step 'manual_review'; decisions are approve, reject",
        )
    ]
