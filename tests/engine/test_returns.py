"""The pure side of returns: quantities left, quality checks, refunds, the shipped policy and flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import compile_text, load
from engine.flows import ApprovalStep
from engine.interpreter import next_step
from engine.returns import (
    Asked,
    arrived,
    over_returned,
    qc_problem,
    refund_for,
    resolve_lines,
)
from engine.rules import evaluate_rules

ROOT = Path(__file__).resolve().parents[2]
LINES = [
    {"sku": "MUG", "qty": 2, "price": 9.5},
    {"sku": "TEE", "qty": 1, "price": 19.9},
    {"sku": "MUG", "qty": 1, "price": 8},
]


def test_lines_are_named_by_number_or_by_an_unambiguous_sku():
    asked, problems = resolve_lines(LINES, [{"line": 1, "qty": 1}, {"sku": "TEE", "qty": 1}])
    assert asked == [Asked(1, 1), Asked(2, 1)] and problems == []
    _, problems = resolve_lines(
        LINES,
        [
            {"sku": "MUG", "qty": 1},
            {"line": 9, "qty": 1},
            {"line": 2, "sku": "MUG", "qty": 1},
            {"qty": 1},
            {"sku": "TEE", "qty": 1},
            {"line": 2, "qty": 1},
        ],
    )
    assert problems == [
        ("lines[0].sku", "Line 1: MUG is on order lines [1, 3]; name the line"),
        ("lines[1].line", "Line 2: the order has no line 9; it has 3"),
        ("lines[2].sku", "Line 3: order line 2 is TEE, not MUG"),
        ("lines[3].line", "Line 4: name the order line or its SKU"),
        ("lines[5].line", "Line 6: order line 2 is named twice"),
    ]


def test_returned_never_exceeds_delivered_minus_already_returned():
    assert over_returned(LINES, [Asked(1, 2)], {}) == []
    assert over_returned(LINES, [Asked(1, 1)], {1: 1}) == []
    assert over_returned(LINES, [Asked(1, 2)], {1: 1}) == [
        (1, "order line 1 (MUG): 2 asked back, but only 1 of 2 delivered is left to return")
    ]
    assert over_returned(LINES, [Asked(2, 1)], {2: 1})[0][0] == 2


def test_a_quality_check_covers_every_item_exactly():
    lines = {1: 2, 2: 1}
    ok = [
        {"line": 1, "result": "resellable", "qty": 1},
        {"line": 1, "result": "damaged", "qty": 1, "reason": "dent"},
        {"line": 2, "result": "missing"},
    ]
    assert qc_problem(lines, ok) is None
    assert arrived(ok, lines) == {
        1: {"resellable": 1, "damaged": 1, "missing": 0},
        2: {"resellable": 0, "damaged": 0, "missing": 1},
    }
    assert qc_problem(lines, []) == "the quality check needs a result for every line: line 1, line 2"
    assert (
        qc_problem(lines, [{"line": 1, "result": "lost"}])
        == "result 1: 'lost' is not one of resellable, damaged, missing"
    )
    assert (
        qc_problem(lines, [{"line": 1, "result": "damaged"}, {"line": 2, "result": "missing"}])
        == "result 1: a damaged item needs a reason"
    )
    assert (
        qc_problem(lines, [{"line": 1, "result": "resellable", "qty": 3}, {"line": 2, "result": "missing"}])
        == "line 1: results for 3 of 2"
    )
    assert (
        qc_problem(lines, [{"line": 1, "result": "resellable", "qty": 0}])
        == "result 1: qty must be a whole number of at least 1"
    )
    assert qc_problem(lines, [{"line": "1", "result": "resellable"}]).startswith(
        "result 1: line '1' is not in this return"
    )


@pytest.mark.parametrize(
    "goods, paid, before, fee, shipping, shipped_before, expected",
    [
        (9.5, 19.0, 0, 0, False, 0, (9.5, 9.5, 0, False)),
        (9.5, 23.9, 0, 4.9, True, 0, (14.4, 9.5, 4.9, False)),
        (9.5, 23.9, 14.4, 4.9, True, 4.9, (9.5, 9.5, 0, False)),  # shipping refunded once per order
        (9.5, 19.0, 14.0, 0, False, 0, (5.0, 5.0, 0, True)),  # never more than is left of the payment
        (9.5, 0, 0, 0, False, 0, (0.0, 0.0, 0, True)),  # nothing paid, nothing refunded
    ],
)
def test_refund_never_exceeds_what_was_paid(goods, paid, before, fee, shipping, shipped_before, expected):
    refund = refund_for(goods, paid, before, fee, shipping, shipped_before)
    assert (refund.amount, refund.goods, refund.shipping, refund.capped) == expected
    assert refund.amount <= round(max(paid - before, 0), 2)


def _facts(**overrides):
    facts = {
        "days_since_delivery": 3,
        "value": 9.5,
        "reason": "wrong_size",
        "kind": "refund",
        "photos": 0,
        "lines": [
            {
                "line": 1,
                "sku": "MUG",
                "qty": 1,
                "price": 9.5,
                "value": 9.5,
                "category": "home",
                "delivered": 2,
                "left": 2,
            }
        ],
        "categories": ["home"],
        "quantity_ok": True,
        "returns_before": 0,
        "order_total": 19,
    }
    facts.update(overrides)
    return facts


def _policy():
    return compile_text((ROOT / "definitions/rules/return_policy.yaml").read_text())


@pytest.mark.parametrize(
    "overrides, action, tags",
    [
        ({}, "approve", []),
        ({"days_since_delivery": 31}, "reject", []),
        ({"quantity_ok": False}, "reject", []),
        ({"value": 600}, "review", []),
        ({"reason": "damaged_on_arrival"}, "approve", ["keep_item", "refund_shipping"]),
        ({"reason": "damaged_on_arrival", "value": 45}, "approve", ["refund_shipping"]),
        (
            {
                "lines": [
                    {
                        "line": 1,
                        "sku": "GIFT",
                        "qty": 1,
                        "price": 20,
                        "value": 20,
                        "category": "gift_card",
                        "delivered": 1,
                        "left": 1,
                    }
                ],
                "categories": ["gift_card"],
            },
            "reject",
            [],
        ),
    ],
)
def test_the_shipped_return_policy(overrides, action, tags):
    decision = evaluate_rules(_policy(), {"order": {}, "facts": _facts(**overrides), "return": {}})
    assert (decision.action, list(decision.tags)) == (action, tags)


def test_the_shipped_return_flow_and_its_quality_check_step():
    source = load((ROOT / "definitions/flows/return.yaml").read_text())
    assert source.errors == ()
    flow = compile_text(source.text)
    assert flow.form == "return_request" and flow.rule_sets == ("return_policy",)
    inspect = flow.steps["inspect"]
    assert isinstance(inspect, ApprovalStep) and list(inspect.on) == ["inspected"]
    ctx = {"return": {"kind": "exchange"}, "audit": {"tags": []}, "results": {}}
    assert next_step(flow, flow.steps["approved"], None, ctx) == "reserve_exchange"
    assert next_step(flow, flow.steps["keep_check"], None, ctx) == "label"
    assert next_step(flow, flow.steps["keep_check"], None, {**ctx, "audit": {"tags": ["keep_item"]}}) == "settle"
    # An exchange whose replacement could not be held is settled by a refund.
    assert next_step(flow, flow.steps["settle"], None, ctx) == "refund"
    assert (
        next_step(
            flow, flow.steps["settle"], None, {**ctx, "results": {"reserve_exchange": {"exchange_order": "ord_x"}}}
        )
        == "exchange"
    )
    assert next_step(flow, flow.steps["await_parcel"], "timeout") == "remind"
    assert next_step(flow, flow.steps["await_parcel_late"], "timeout") == "expire"


def test_a_return_flow_naming_an_unknown_activity_is_refused():
    shipped = (ROOT / "definitions/flows/return.yaml").read_text()
    text = shipped.replace("activity: refund_return", "activity: refund_retrun")
    errors = load(text).errors
    assert any(
        "unknown activity 'refund_retrun'" in e.message and "did you mean 'refund_return'" in e.message for e in errors
    ), errors
