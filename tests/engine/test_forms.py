"""Form definitions: the shipped order form, every field type, visible_if, defaults, checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from engine.errors import DefinitionError
from engine.forms import (
    ADDRESS_FIELDS,
    FieldError,
    FormValidator,
    check_form,
    form_json_schema,
    parse_form,
)

ROOT = Path(__file__).resolve().parents[2]
ORDER_YAML = ROOT / "definitions" / "forms" / "order.yaml"
FORM_SCHEMA = ROOT / "definitions" / "schemas" / "form.json"


def load_yaml(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def order_raw() -> dict:
    return load_yaml(ORDER_YAML)


@pytest.fixture(scope="module")
def order_validator(order_raw) -> FormValidator:
    return FormValidator(parse_form(order_raw))


@pytest.fixture(scope="module")
def definition_validator() -> Draft202012Validator:
    schema = json.loads(FORM_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


GOOD_ORDER = {
    "channel": "web",
    "external_id": "W-1001",
    "customer": {"name": "Ann Lee", "email": "ann@example.com", "phone": "+49 (30) 123-456"},
    "shipping_address": {"street": "Main St 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "lines": [{"sku": "SKU-1", "qty": 2, "price": 19.99}, {"sku": "SKU-2", "qty": 1, "price": 5}],
    "utm_source": "newsletter",
}


# ---- the shipped order form ------------------------------------------------


def test_order_yaml_passes_form_json(order_raw, definition_validator):
    assert list(definition_validator.iter_errors(order_raw)) == []


def test_order_yaml_has_no_semantic_errors(order_raw):
    assert list(check_form(order_raw)) == []


def test_order_form_parses(order_raw):
    form = parse_form(order_raw)
    assert form.name == "order"
    assert form.title == {"en": "Order", "zh": "订单"}
    external_id = form.fields[1]
    assert external_id.label == {"en": "External order id", "zh": "外部订单号"}
    customer_id = form.fields[2].fields[4]
    assert customer_id.help == {"en": "Your customer number, if known", "zh": "客户编号，如已知"}  # noqa: RUF001
    assert form.fields[3].fields == ADDRESS_FIELDS
    lines = form.fields[4]
    assert (lines.row_label, lines.min_rows, lines.max_rows) == ({"en": "Line", "zh": "行"}, 1, 500)
    assert [c.id for c in lines.columns] == ["sku", "qty", "price"]
    assert form.fields[5].fields[0].options[1] == ("paypal", {"en": "paypal", "zh": "PayPal"})


def test_good_order_validates_with_defaults_and_extra_keys(order_validator):
    cleaned, errors = order_validator.validate(copy.deepcopy(GOOD_ORDER))
    assert errors == []
    assert cleaned["customer"]["type"] == "consumer"
    assert cleaned["payment"] == {"method": "card", "status": "pending"}
    assert cleaned["utm_source"] == "newsletter"
    assert cleaned["lines"] == GOOD_ORDER["lines"]


def test_validate_does_not_change_its_input(order_validator):
    order = copy.deepcopy(GOOD_ORDER)
    order_validator.validate(order)
    assert order == GOOD_ORDER


def test_non_object_document(order_validator):
    assert order_validator.validate(["not", "an", "order"]) == (
        {},
        [FieldError("", "The order must be a JSON object")],
    )


def test_empty_order_lists_required_fields_in_order(order_validator):
    _, errors = order_validator.validate({})
    assert errors == [
        FieldError("channel", "Channel is required"),
        FieldError("external_id", "External order id is required"),
        FieldError("customer", "Customer is required"),
        FieldError("shipping_address", "Shipping address is required"),
        FieldError("lines", "Order lines is required"),
    ]


def test_order_errors_in_the_forms_words(order_validator):
    order = copy.deepcopy(GOOD_ORDER)
    order["customer"] = {"email": "nope", "extra": 1}
    order["shipping_address"]["country"] = "Germany"
    order["lines"] = [
        {"qty": 1, "price": 1},
        {"sku": "B", "qty": 0, "price": 1.234},
        {"sku": "C", "qty": 1.5, "price": 1},
    ]
    order["payment"] = {"method": "bitcoin"}
    _, errors = order_validator.validate(order)
    assert errors == [
        FieldError("customer.name", "Customer name is required"),
        FieldError("customer.email", "Email must be a valid email address"),
        FieldError("customer.extra", "Customer has no field 'extra'"),
        FieldError("shipping_address.country", "Shipping address: country must be a 2-letter country code"),
        FieldError("lines[0].sku", "Line 1: SKU is required"),
        FieldError("lines[1].qty", "Line 2: quantity must be at least 1"),
        FieldError("lines[1].price", "Line 2: price must have at most 2 decimals"),
        FieldError("lines[2].qty", "Line 3: quantity must be a whole number"),
        FieldError("payment.method", "Payment method must be one of: card, paypal, invoice, cash, bank_transfer"),
    ]


def test_table_row_counts(order_validator):
    order = copy.deepcopy(GOOD_ORDER)
    order["lines"] = []
    assert order_validator.validate(order)[1] == [FieldError("lines", "Order lines must have at least 1 line")]
    order["lines"] = [{"sku": "A", "qty": 1, "price": 1}] * 501
    assert order_validator.validate(order)[1] == [FieldError("lines", "Order lines must have at most 500 lines")]


def test_address_parts(order_validator):
    order = copy.deepcopy(GOOD_ORDER)
    order["shipping_address"] = {"city": "Berlin", "postal_code": "10115", "country": "DE", "floor": 3}
    assert order_validator.validate(order)[1] == [
        FieldError("shipping_address.street", "Shipping address: street is required"),
        FieldError("shipping_address.floor", "Shipping address has no field 'floor'"),
    ]


def test_b2b_keeps_tax_id_and_consumer_drops_it(order_validator):
    order = copy.deepcopy(GOOD_ORDER)
    order["customer"] |= {"type": "b2b", "tax_id": "DE123"}
    cleaned, errors = order_validator.validate(order)
    assert errors == [] and cleaned["customer"]["tax_id"] == "DE123"
    order["customer"]["type"] = "consumer"
    cleaned, errors = order_validator.validate(order)
    assert errors == [] and "tax_id" not in cleaned["customer"]


# ---- every field type -------------------------------------------------------

ALL_TYPES = {
    "kind": "form",
    "name": "all_types",
    "title": "Sample",
    "fields": [
        {"id": "code", "type": "text", "label": "Code", "min_length": 2, "max_length": 5, "pattern": "^[A-Z]+$"},
        {"id": "weight", "type": "number", "label": "Weight", "min": 0.5, "max": 10},
        {"id": "count", "type": "integer", "label": "Count", "min": 1},
        {"id": "amount", "type": "money", "label": "Amount", "max": 1000},
        {"id": "email", "type": "email", "label": "Email"},
        {"id": "phone", "type": "phone", "label": "Phone"},
        {"id": "due", "type": "date", "label": "Due date"},
        {"id": "gift", "type": "boolean", "label": "Gift"},
        {
            "id": "size",
            "type": "select",
            "label": "Size",
            "options": [{"value": "s", "label": "Small"}, {"value": "m", "label": {"en": "Medium", "zh": "中"}}],
        },
        {"id": "address", "type": "address", "label": "Address"},
        {"id": "box", "type": "group", "label": "Box", "fields": [{"id": "note", "type": "text", "label": "Note"}]},
        {
            "id": "items",
            "type": "table",
            "label": "Items",
            "columns": [{"id": "n", "type": "integer", "label": "number"}],
        },
    ],
}


@pytest.fixture(scope="module")
def sample() -> FormValidator:
    assert list(check_form(ALL_TYPES)) == []
    return FormValidator(parse_form(ALL_TYPES))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("code", 12, "Code must be text"),
        ("code", "A", "Code must be at least 2 characters"),
        ("code", "ABCDEF", "Code must be at most 5 characters"),
        ("code", "abc", "Code is not in the expected format"),
        ("weight", "heavy", "Weight must be a number"),
        ("weight", True, "Weight must be a number"),
        ("weight", 0.4, "Weight must be at least 0.5"),
        ("weight", 10.5, "Weight must be at most 10"),
        ("count", 1.5, "Count must be a whole number"),
        ("count", "3", "Count must be a whole number"),
        ("count", 0, "Count must be at least 1"),
        ("amount", "12.00", "Amount must be a number"),
        ("amount", 0.1 + 0.2, "Amount must have at most 2 decimals"),
        ("amount", 1000.01, "Amount must be at most 1000"),
        ("email", "ann@", "Email must be a valid email address"),
        ("email", 7, "Email must be a valid email address"),
        ("phone", "call me", "Phone must be a valid phone number"),
        ("due", "2024-02-30", "Due date must be a date (YYYY-MM-DD)"),
        ("due", "20240101", "Due date must be a date (YYYY-MM-DD)"),
        ("due", 20240101, "Due date must be a date (YYYY-MM-DD)"),
        ("gift", "yes", "Gift must be true or false"),
        ("size", "xl", "Size must be one of: s, m"),
        ("size", 3, "Size must be one of: s, m"),
        ("address", "Main St 1", "Address must be an address with street, city, postal code and country"),
        ("box", "fragile", "Box must be a group of fields"),
        ("items", {"n": 1}, "Items must be a list of rows"),
    ],
)
def test_each_type_refused_with_its_message(sample, field, value, message):
    assert sample.validate({field: value})[1] == [FieldError(field, message)]


@pytest.mark.parametrize(
    "field, value",
    [
        ("code", "AB"),
        ("weight", 0.5),
        ("count", 3),
        ("amount", 19.99),
        ("amount", 5),
        ("email", "a.b@example.org"),
        ("phone", "+1 (555) 010-0000"),
        ("due", "2024-02-29"),
        ("gift", False),
        ("size", "m"),
        ("address", {"street": "1 Rue", "city": "Paris", "postal_code": "75001", "country": "FR", "region": "IDF"}),
        ("box", {"note": "fragile"}),
        ("items", [{"n": 1}, {}]),
    ],
)
def test_each_type_accepts_good_values(sample, field, value):
    assert sample.validate({field: value}) == ({field: value}, [])


def test_table_row_that_is_not_an_object(sample):
    assert sample.validate({"items": [{"n": 1}, 5]})[1] == [FieldError("items[1]", "Row 2 must be a group of fields")]


def test_one_error_per_field_the_most_basic(sample):
    # "a" is too short and lower case: only the first rule broken is reported
    assert sample.validate({"code": "a"})[1] == [FieldError("code", "Code is not in the expected format")]


def test_blank_values_count_as_absent(sample):
    cleaned, errors = sample.validate({"code": "  ", "email": None, "other": None})
    assert (cleaned, errors) == ({"other": None}, [])


def test_whole_floats_become_integers(sample):
    assert sample.validate({"count": 2.0}) == ({"count": 2}, [])


# ---- visible_if and defaults --------------------------------------------------

CONDITIONAL = {
    "kind": "form",
    "name": "conditional",
    "title": "Sign-up",
    "fields": [
        {
            "id": "type",
            "type": "select",
            "label": "Customer type",
            "options": ["consumer", "b2b"],
            "default": "consumer",
        },
        {
            "id": "tax_id",
            "type": "text",
            "label": "Company tax id",
            "required": True,
            "visible_if": "type == 'b2b'",
            "max_length": 5,
        },
        {
            "id": "prefs",
            "type": "group",
            "label": "Preferences",
            "fields": [
                {"id": "news", "type": "boolean", "label": "Newsletter", "default": False},
                {"id": "lang", "type": "text", "label": "Language"},
            ],
        },
        {
            "id": "account",
            "type": "group",
            "label": "Account",
            "required": True,
            "fields": [
                {"id": "plan", "type": "select", "label": "Plan", "options": ["free", "pro"], "default": "free"},
            ],
        },
        {
            "id": "rows",
            "type": "table",
            "label": "Contacts",
            "row_label": "Contact",
            "columns": [
                {"id": "role", "type": "text", "label": "role", "default": "buyer"},
                {"id": "vat", "type": "text", "label": "VAT", "required": True, "visible_if": "type == 'b2b'"},
            ],
        },
    ],
}


@pytest.fixture(scope="module")
def conditional() -> FormValidator:
    assert list(check_form(CONDITIONAL)) == []
    return FormValidator(parse_form(CONDITIONAL))


def test_hidden_required_field_is_neither_required_nor_kept(conditional):
    cleaned, errors = conditional.validate({"account": {}, "tax_id": "way too long"})
    assert errors == []
    assert "tax_id" not in cleaned


def test_visible_required_field_is_required(conditional):
    _, errors = conditional.validate({"type": "b2b", "account": {}, "rows": [{"vat": "X"}, {}]})
    assert errors == [
        FieldError("tax_id", "Company tax id is required"),
        FieldError("rows[1].vat", "Contact 2: VAT is required"),
    ]


def test_visible_field_is_validated(conditional):
    _, errors = conditional.validate({"type": "b2b", "tax_id": "TOO-LONG", "account": {}})
    assert errors == [FieldError("tax_id", "Company tax id must be at most 5 characters")]


def test_defaults_applied(conditional):
    cleaned, errors = conditional.validate({"account": {}, "rows": [{}, {"role": "owner"}]})
    assert errors == []
    assert cleaned == {
        "type": "consumer",
        "prefs": {"news": False},
        "account": {"plan": "free"},
        "rows": [{"role": "buyer"}, {"role": "owner"}],
    }


def test_required_group_is_not_created_from_defaults(conditional):
    cleaned, errors = conditional.validate({})
    assert "account" not in cleaned
    assert errors == [FieldError("account", "Account is required")]


def test_schema_leaves_conditional_fields_optional(conditional):
    schema = conditional.schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["account"]
    assert "additionalProperties" not in schema
    assert schema["properties"]["rows"]["items"]["additionalProperties"] is False
    assert schema["properties"]["type"] == {
        "title": "Customer type",
        "default": "consumer",
        "type": "string",
        "enum": ["consumer", "b2b"],
    }


def test_money_schema_uses_a_decimal_check_not_multiple_of():
    schema = form_json_schema(parse_form(ALL_TYPES))
    assert schema["properties"]["amount"] == {
        "title": "Amount",
        "type": "number",
        "x-maxDecimals": 2,
        "maximum": 1000,
    }


# ---- check_form -------------------------------------------------------------------


def broken_form(**overrides) -> dict:
    return {"kind": "form", "name": "broken", "title": "Broken", "fields": [overrides]}


@pytest.mark.parametrize(
    "field, path, message",
    [
        (
            {"id": "n", "type": "integer", "label": "N", "min": 5, "max": 1},
            "$.fields[0].min",
            "min (5) is greater than max (1)",
        ),
        (
            {"id": "t", "type": "text", "label": "T", "min_length": 9, "max_length": 3},
            "$.fields[0].min_length",
            "min_length (9) is greater than max_length (3)",
        ),
        (
            {"id": "s", "type": "select", "label": "S", "options": ["a", "b"], "default": "c"},
            "$.fields[0].default",
            "default 'c' is not one of the options: a, b",
        ),
        ({"id": "s", "type": "select", "label": "S"}, "$.fields[0]", "a select field needs options"),
        (
            {"id": "n", "type": "integer", "label": "N", "default": "one"},
            "$.fields[0].default",
            "default must be a whole number",
        ),
        (
            {"id": "n", "type": "number", "label": "N", "default": True},
            "$.fields[0].default",
            "default must be a number",
        ),
        (
            {"id": "m", "type": "money", "label": "M", "default": 1.005},
            "$.fields[0].default",
            "default must have at most 2 decimals",
        ),
        (
            {"id": "d", "type": "date", "label": "D", "default": "tomorrow"},
            "$.fields[0].default",
            "default must be a date (YYYY-MM-DD)",
        ),
        (
            {"id": "b", "type": "boolean", "label": "B", "default": "yes"},
            "$.fields[0].default",
            "default must be true or false",
        ),
        (
            {"id": "t", "type": "text", "label": "T", "pattern": "([a-z"},
            "$.fields[0].pattern",
            "pattern is not a valid regular expression (unterminated character set at position 1)",
        ),
        (
            {"id": "t", "type": "text", "label": "T", "visible_if": "customer.type =="},
            "$.fields[0].visible_if",
            "visible_if does not compile (parserError: Unexpected end of unary expression at (16, 16))",
        ),
        ({"id": "t", "type": "text", "label": "T", "min": 1}, "$.fields[0].min", "min does not apply to a text field"),
        ({"id": "g", "type": "group", "label": "G"}, "$.fields[0]", "a group field needs fields"),
    ],
)
def test_check_form_errors(field, path, message):
    assert list(check_form(broken_form(**field))) == [DefinitionError(path, message)]


def test_check_form_nested_paths():
    raw = {
        "kind": "form",
        "name": "nested",
        "title": "Nested",
        "fields": [
            {"id": "a", "type": "text", "label": "A"},
            {"id": "a", "type": "text", "label": "A again"},
            {
                "id": "g",
                "type": "group",
                "label": "G",
                "fields": [
                    {"id": "x", "type": "text", "label": "X"},
                    {"id": "x", "type": "number", "label": "X2"},
                ],
            },
            {
                "id": "t",
                "type": "table",
                "label": "T",
                "min_rows": 4,
                "max_rows": 2,
                "columns": [
                    {"id": "sku", "type": "text", "label": "SKU"},
                    {"id": "q", "type": "integer", "label": "q", "min": 3, "max": 2},
                ],
            },
        ],
    }
    assert list(check_form(raw)) == [
        DefinitionError("$.fields[1].id", "duplicate field id 'a' (first used at $.fields[0])"),
        DefinitionError("$.fields[2].fields[1].id", "duplicate field id 'x' (first used at $.fields[2].fields[0])"),
        DefinitionError("$.fields[3].min_rows", "min_rows (4) is greater than max_rows (2)"),
        DefinitionError("$.fields[3].columns[1].min", "min (3) is greater than max (2)"),
    ]


# ---- form.json ------------------------------------------------------------------------


def test_form_json_refuses_a_wrong_field_type_with_its_path(order_raw, definition_validator):
    raw = copy.deepcopy(order_raw)
    raw["fields"][4]["columns"][1]["type"] = "decimal"
    raw["fields"][0]["required"] = "yes"
    errors = sorted(definition_validator.iter_errors(raw), key=lambda e: e.json_path)
    assert [(e.json_path, e.validator) for e in errors] == [
        ("$.fields[0].required", "type"),
        ("$.fields[4].columns[1].type", "enum"),
    ]


def test_form_json_refuses_unknown_keys_and_bad_names(definition_validator):
    raw = {
        "kind": "form",
        "name": "Order",
        "title": "Order",
        "fields": [{"id": "a", "type": "text", "label": "A", "colour": "red"}],
    }
    errors = sorted(definition_validator.iter_errors(raw), key=lambda e: e.json_path)
    assert [(e.json_path, e.validator) for e in errors] == [
        ("$.fields[0]", "additionalProperties"),
        ("$.name", "pattern"),
    ]


def test_form_json_accepts_every_sample_definition(definition_validator):
    for raw in (ALL_TYPES, CONDITIONAL):
        assert list(definition_validator.iter_errors(raw)) == []
