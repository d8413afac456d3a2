"""Mappings with expressions: a leaf may be a zen expression over the payload (`expr:`).

Errors name the canonical field and where in the payload the expression ran; validation refuses an
expression that does not compile, at its path.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.channels import MappingError, read_paths
from engine.definitions import compile_text, validate_text
from tests.engine.shipped import KNOWN

HEAD = "kind: channel\nname: demo_shop\ntype: web_shop\nsecret_env: OMS_CHANNEL_SECRET_DEMO\n"


def mapped(mapping: str, payload: Any) -> dict:
    return compile_text(HEAD + "mapping:\n" + mapping).to_order(payload)


def mapping_error(mapping: str, payload: Any) -> tuple[str, str]:
    with pytest.raises(MappingError) as caught:
        mapped(mapping, payload)
    return caught.value.field, caught.value.message


def errors_of(mapping: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(HEAD + "mapping:\n" + mapping, KNOWN).errors]


SHOP_ORDER = {
    "id": 820982911946154508,
    "billing": {"first_name": "Ann", "last_name": "Lee"},
    "total": "49.00",
    "paid_at": None,
    "shipping_lines": [
        {"method_id": "flat_rate", "title": "Standard", "total": "4.90"},
        {"method_id": "express", "title": "Express", "total": "9.90"},
    ],
    "items": [{"sku": "MUG-LOGO", "qty": 2, "price": "9.50"}, {"sku": "", "product_id": 93, "qty": 1, "price": "30"}],
}


@pytest.mark.parametrize(
    "leaf, value",
    [
        ("\"billing.first_name + ' ' + billing.last_name\"", "Ann Lee"),
        ("number(total)", 49),
        ("'number(total) * 2'", 98),
        ("\"filter(shipping_lines, #.method_id == 'express')[0].title\"", "Express"),
        ("\"paid_at != null ? 'paid' : 'pending'\"", "pending"),
        ("string(id)", "820982911946154508"),  # exact: a 64-bit id as a number would lose digits
        ("len(items)", 2),
        ("\"billing.middle_name ?? 'none'\"", "none"),
    ],
)
def test_an_expression_leaf(leaf, value):
    order = mapped(f"  note: {{expr: {leaf}}}\n", SHOP_ORDER)
    assert order == {"note": value, "channel": "demo_shop"}
    assert type(order["note"]) is type(value)  # 49, not 49.0: a whole number stays an integer


def test_inside_each_an_expression_sees_the_element():
    order = mapped(
        "  lines:\n    each: items\n    map:\n"
        "      sku: {expr: \"sku != '' ? sku : 'WC-' + string(product_id)\"}\n"
        "      qty: {path: qty}\n"
        "      price: {expr: number(price)}\n",
        SHOP_ORDER,
    )
    assert order["lines"] == [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}, {"sku": "WC-93", "qty": 1, "price": 30}]


def test_a_null_or_blank_result_takes_the_default():
    mapping = "  payment:\n    method: {expr: \"coupon_code == 'STAFF' ? null : gateway\", default: card}\n"
    assert mapped(mapping, {"coupon_code": "STAFF", "gateway": "paypal"})["payment"] == {"method": "card"}
    assert mapped(mapping, {"gateway": " "})["payment"] == {"method": "card"}
    assert mapped(mapping, {"gateway": "paypal"})["payment"] == {"method": "paypal"}


def test_an_expression_with_a_code_table_and_a_conversion():
    mapping = (
        "  payment:\n    status: {expr: 'upper(state)', table: {PAID: paid, OPEN: pending}}\n"
        "  total: {expr: 'number(amount)', divide: 100}\n"
    )
    assert mapped(mapping, {"state": "paid", "amount": "4900"}) == {
        "payment": {"status": "paid"},
        "total": 49,
        "channel": "demo_shop",
    }


# ---- errors name the field and the payload path -----------------------------------------


ERRORS = {
    "a missing part of a joined name": (
        "  customer:\n    name: {expr: \"billing.first_name + ' ' + billing.last_name\"}\n",
        {"billing": {"first_name": "Ann"}},
        (
            "customer.name",
            "expression \"billing.first_name + ' ' + billing.last_name\" failed at the payload: "
            "vmError: Opcode Add: Unsupported type (billing.last_name is missing)",
        ),
    ),
    "a price that is no number, second line": (
        "  lines:\n    each: items\n    map:\n      price: {expr: number(price)}\n",
        {"items": [{"price": "9.50"}, {"price": "9,50"}]},
        (
            "lines[1].price",
            "expression 'number(price)' failed at items[1]: vmError: Opcode CallFunction: "
            "Function `number` failed: Invalid number",
        ),
    ),
    "a code the table does not have": (
        "  payment:\n    status: {expr: 'lower(state)', table: {paid: paid}}\n",
        {"state": "REFUNDED"},
        ("payment.status", "expression 'lower(state)' gives 'refunded', not one of paid"),
    ),
    "text to divide, in a list element": (
        "  lines:\n    each: order.items\n    map:\n      price: {expr: cents, divide: 100}\n",
        {"order": {"items": [{"cents": "950"}]}},
        ("lines[0].price", "expression 'cents' at order.items[0] must give a number to convert, not '950'"),
    ),
    "a path in a nested list names the element": (
        "  lines:\n    each: order.items\n    map:\n      price: {path: cents, divide: 100}\n",
        {"order": {"items": [{"cents": 950}, {"cents": "950"}]}},
        ("lines[1].price", "order.items[1].cents must be a number to convert, not '950'"),
    ),
}


@pytest.mark.parametrize("mapping, payload, expected", ERRORS.values(), ids=ERRORS.keys())
def test_mapping_error_names_the_field_and_the_payload_path(mapping, payload, expected):
    assert mapping_error(mapping, payload) == expected


@pytest.mark.parametrize(
    "text, paths",
    [
        ("billing.first_name + ' ' + billing.last_name", ("billing.first_name", "billing.last_name")),
        ("filter(shipping_lines, #.method_id == 'x')[0].title", ("shipping_lines",)),
        ("a ? 'b.c' : d ?? null", ("a", "d")),
        ("x in [1, 2] and not y", ("x", "y")),
        ('number(total) > 10 or total == "it\'s"', ("total",)),
    ],
)
def test_the_paths_an_expression_reads(text, paths):
    assert read_paths(text) == paths


# ---- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mapping, expected",
    [
        (
            "  external_id: {expr: 'id +'}\n",
            [
                (
                    "$.mapping.external_id.expr",
                    "expression does not compile: parserError: Unexpected end of unary expression at (4, 4)",
                )
            ],
        ),
        (
            "  lines:\n    each: items\n    map:\n      qty: {expr: 'map([0..1000000000], #)'}\n",
            [
                (
                    "$.mapping.lines.map.qty.expr",
                    "expression does not compile: its ranges hold 1000000001 values; at most 10000",
                )
            ],
        ),
        (
            "  external_id: {expr: string(id), path: id}\n",
            [("$.mapping.external_id", "give one of `path`, `const` or `expr`, not path and expr")],
        ),
        ("  external_id: {expr: ''}\n", [("$.mapping.external_id.expr", "'' should be non-empty")]),
        ("  external_id: {expr: 42}\n", [("$.mapping.external_id.expr", "must be of type string, not int")]),
    ],
    ids=["does not compile", "too costly", "expr and path", "empty", "not text"],
)
def test_a_broken_expression_is_refused_at_its_path(mapping, expected):
    assert errors_of(mapping) == expected
