"""Decision tables: the JDM they compile to, their semantic checks, and their schema."""

from __future__ import annotations

import json

import pytest
import zen

from engine.definitions import validate_text
from engine.tables import DecisionTable, Row, check_table, compile_table, to_jdm

RISK = {
    "inputs": ["order.channel", "order.shipping_address.country", "order.total"],
    "rows": [
        {
            "when": ["'marketplace'", "not in ['DE', 'FR']", "> 1500"],
            "action": "review",
            "reason": "marketplace order of {{ order.total }}",
        },
        {"when": ["-", "", 20000], "action": "review", "reason": "big"},
        {"when": [" - ", "-", "< 0"], "action": "tag", "tag": "refund", "reason": "negative"},
    ],
}


# ---- the JDM document -----------------------------------------------------------


def test_to_jdm_is_input_table_output():
    jdm = to_jdm(RISK, "order_audit.channel_risk")
    assert [(n["id"], n["type"]) for n in jdm["nodes"]] == [
        ("request", "inputNode"),
        ("table", "decisionTableNode"),
        ("response", "outputNode"),
    ]
    assert [(e["sourceId"], e["targetId"]) for e in jdm["edges"]] == [("request", "table"), ("table", "response")]
    assert jdm["nodes"][1]["name"] == "order_audit.channel_risk"


def test_to_jdm_table_content():
    content = to_jdm(RISK, "risk")["nodes"][1]["content"]
    assert content["hitPolicy"] == "first"
    assert content["inputs"] == [
        {"id": "i0", "name": "order.channel", "field": "order.channel"},
        {"id": "i1", "name": "order.shipping_address.country", "field": "order.shipping_address.country"},
        {"id": "i2", "name": "order.total", "field": "order.total"},
    ]
    assert content["outputs"] == [{"id": "o0", "name": "row", "field": "row"}]
    # One input per column; "-" and "" (any padding) become the empty cell, numbers become text.
    assert content["rules"] == [
        {"_id": "r0", "o0": "0", "i0": "'marketplace'", "i1": "not in ['DE', 'FR']", "i2": "> 1500"},
        {"_id": "r1", "o0": "1", "i0": "", "i1": "", "i2": "20000"},
        {"_id": "r2", "o0": "2", "i0": "", "i1": "", "i2": "< 0"},
    ]


def test_compiled_table_keeps_its_jdm_and_rows():
    table = compile_table(RISK, "risk")
    assert isinstance(table, DecisionTable)
    assert json.loads(table.jdm) == to_jdm(RISK, "risk")
    assert table.rows == (
        Row("review", "marketplace order of {{ order.total }}", None),
        Row("review", "big", None),
        Row("tag", "negative", "refund"),
    )


def test_the_jdm_runs_in_a_fresh_zen_engine():
    decision = zen.ZenEngine().create_decision(compile_table(RISK, "risk").jdm)
    ctx = {"order": {"channel": "marketplace", "shipping_address": {"country": "US"}, "total": 2000}}
    assert decision.evaluate(ctx)["result"] == {"row": 0}


def order(channel: str = "web", country: str = "DE", total: float = 100) -> dict:
    return {"order": {"channel": channel, "shipping_address": {"country": country}, "total": total}}


MATCHES = {
    "first row": (order("marketplace", "US", 1500.01), 0),
    "first row misses at its limit": (order("marketplace", "US", 1500), None),
    "first row misses inside the list": (order("marketplace", "FR", 1600), None),
    "a number cell is an equality test": (order("web", "DE", 20000), 1),
    "first matching row wins": (order("marketplace", "US", 20000), 0),
    "dashes match anything": (order("web", "DE", -1), 2),
    "no row matches": (order("web", "DE", 100), None),
}


@pytest.mark.parametrize("ctx, row", MATCHES.values(), ids=MATCHES.keys())
def test_first_match(ctx, row):
    table = compile_table(RISK, "risk")
    assert table.first_match(ctx) == (None if row is None else (row, table.rows[row]))


def test_a_boolean_cell_matches_true():
    table = compile_table(
        {"inputs": ["order.vip"], "rows": [{"when": [True], "action": "tag", "tag": "vip", "reason": "vip"}]}, "vip"
    )
    assert table.first_match({"order": {"vip": True}}) == (0, table.rows[0])
    assert table.first_match({"order": {}}) is None


# ---- check_table ----------------------------------------------------------------


def table_with(*rows: dict, inputs: tuple[str, ...] = ("order.channel", "order.total")) -> dict:
    return {"inputs": list(inputs), "rows": list(rows)}


def row(*when, action: str = "review", reason: str = "held", **extra) -> dict:
    return {"when": list(when), "action": action, "reason": reason, **extra}


PATH = "$.rules[9].table"

TABLE_ERRORS = {
    "a cell that does not compile": (
        table_with(row("-", ">> 1")),
        [
            (
                f"{PATH}.rows[0].when[1]",
                "test '>> 1' does not compile: parserError: Unexpected token: Operator at (1, 2); "
                "Expected UnaryOperator.",
            )
        ],
    ),
    "a row with too few tests": (
        table_with(row("-"), row("-", "-", "-")),
        [(f"{PATH}.rows[0].when", "has 1 tests for 2 inputs"), (f"{PATH}.rows[1].when", "has 3 tests for 2 inputs")],
    ),
    "an input that does not compile": (
        table_with(row("-", "-"), inputs=("order.channel", "order.total +")),
        [(f"{PATH}.inputs[1]", "input does not compile: parserError: Unexpected end of unary expression at (13, 13)")],
    ),
    "a reason placeholder that does not compile": (
        table_with(row("-", "-", reason="big {{ order.total + }}")),
        [
            (
                f"{PATH}.rows[0].reason",
                "placeholder {{ order.total + }} does not compile "
                "(parserError: Unexpected end of unary expression at (13, 13))",
            )
        ],
    ),
    "an unclosed reason placeholder": (
        table_with(row("-", "-", reason="big {{ order.total")),
        [(f"{PATH}.rows[0].reason", "unbalanced '{{' and '}}'")],
    ),
    "a tag row without tag": (
        table_with(row("-", "-", action="tag")),
        [(f"{PATH}.rows[0]", "a tag row needs `tag`")],
    ),
    "every error of every row at once": (
        table_with(row(">> 1", "-", reason="{{ x"), row("-", "-", action="tag"), row("-")),
        [
            (
                f"{PATH}.rows[0].when[0]",
                "test '>> 1' does not compile: parserError: Unexpected token: Operator at (1, 2); "
                "Expected UnaryOperator.",
            ),
            (f"{PATH}.rows[0].reason", "unbalanced '{{' and '}}'"),
            (f"{PATH}.rows[1]", "a tag row needs `tag`"),
            (f"{PATH}.rows[2].when", "has 1 tests for 2 inputs"),
        ],
    ),
}


@pytest.mark.parametrize("raw, expected", TABLE_ERRORS.values(), ids=TABLE_ERRORS.keys())
def test_check_table_errors(raw, expected):
    assert [(e.path, e.message) for e in check_table(raw, PATH)] == expected


def test_a_sound_table_has_no_errors():
    assert list(check_table(RISK, PATH)) == []
    assert list(check_table(table_with(row("", "-", action="tag", tag="any")), PATH)) == []


# ---- through validate_text: schema and semantic errors of a table rule -----------


def rules_text(rule: str) -> str:
    return (
        "kind: rules\nname: tables\nrules:\n"
        "  - {id: first, when: 'order.total > 1', action: approve, reason: ok}\n" + rule
    )


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


TABLE_RULE = "  - id: risk\n    table: {inputs: [order.total], rows: [{when: ['> 1'], action: review, reason: big}]}\n"

VALIDATION = {
    "a table without rows": (
        "  - id: risk\n    table: {inputs: [order.total]}\n",
        [("$.rules[1].table", "'rows' is required")],
    ),
    "a table with no rows": (
        "  - id: risk\n    table: {inputs: [order.total], rows: []}\n",
        [("$.rules[1].table.rows", "[] should be non-empty")],
    ),
    "a table with no inputs": (
        "  - id: risk\n    table: {inputs: [], rows: [{when: [], action: review, reason: big}]}\n",
        [("$.rules[1].table.inputs", "[] should be non-empty")],
    ),
    "a rule with both when and table": (
        "  - id: risk\n    when: 'order.total > 1'\n"
        "    table: {inputs: [order.total], rows: [{when: ['> 1'], action: review, reason: big}]}\n",
        [("$.rules[1]", "unknown key 'when'; allowed here: description, table")],
    ),
    "a table rule with its own action": (
        "  - id: risk\n    action: review\n"
        "    table: {inputs: [order.total], rows: [{when: ['> 1'], action: review, reason: big}]}\n",
        [("$.rules[1]", "unknown key 'action'; allowed here: description, table")],
    ),
    "a row with an unknown action": (
        "  - id: risk\n    table: {inputs: [order.total], rows: [{when: ['> 1'], action: block, reason: big}]}\n",
        [("$.rules[1].table.rows[0].action", "'block' is not one of 'approve', 'review', 'reject', 'tag'")],
    ),
    "a cell that does not compile, with the rule's path": (
        "  - id: risk\n    table: {inputs: [order.total], rows: [{when: ['>> 1'], action: review, reason: big}]}\n",
        [
            (
                "$.rules[1].table.rows[0].when[0]",
                "test '>> 1' does not compile: parserError: Unexpected token: Operator at (1, 2); "
                "Expected UnaryOperator.",
            )
        ],
    ),
    "a duplicate id on a table rule": (
        "  - id: first\n    table: {inputs: [order.total], rows: [{when: ['> 1'], action: review, reason: big}]}\n",
        [("$.rules[1].id", "duplicate rule id 'first'")],
    ),
}


@pytest.mark.parametrize("rule, expected", VALIDATION.values(), ids=VALIDATION.keys())
def test_validate_table_rule(rule, expected):
    assert errors_of(rules_text(rule)) == expected


def test_a_sound_table_rule_validates():
    assert errors_of(rules_text(TABLE_RULE)) == []
