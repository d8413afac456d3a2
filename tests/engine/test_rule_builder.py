"""The rule builder's reading and writing of conditions, its fields, and the edits it makes (engine/rule_builder.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import load, validate_text
from engine.rule_builder import (
    RETURN_FACTS,
    ConditionError,
    condition_of,
    expression_of,
    return_rule_fields,
    rule_edits,
    rule_fields,
    rules_view,
)
from engine.yaml_edit import apply_edits, parse_edits

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
AUDIT = (DEFINITIONS / "rules" / "order_audit.yaml").read_text(encoding="utf-8")
FORM = load((DEFINITIONS / "forms" / "order.yaml").read_text(encoding="utf-8")).raw
RETURN_FORM = load((DEFINITIONS / "forms" / "return_request.yaml").read_text(encoding="utf-8")).raw
POLICY = (DEFINITIONS / "rules" / "return_policy.yaml").read_text(encoding="utf-8")
STEPS = (Path(__file__).resolve().parents[2] / "services" / "returns" / "steps.py").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "expression",
    [
        "order.total > 5000 and facts.first_time_address",
        "not facts.address.complete",
        "facts.address.complete and not facts.address.serviceable",
        "facts.velocity.address >= 5 and order.delivery_method != 'pickup'",
        "facts.customer.orders_so_far >= 4 and facts.customer.returns_ratio > 0.5",
        "facts.reason in ['damaged_on_arrival', 'wrong_item', 'defective']",
        "order.channel == 'marketplace' or order.total <= 10.5",
        "some(order.lines, #.sku == 'LAPTOP-14') and order.shipping_address.country not in ['DE', 'FR']",
        'order.customer.name == "O\'Brien"',
        "some(facts.lines, #.category in ['food', 'hygiene', 'gift_card'])",
        "return.reason == 'damaged_on_arrival' and facts.value < 30",
    ],
)
def test_what_the_builder_writes_it_reads_back_the_same(expression):
    condition = condition_of(expression)
    assert condition is not None
    assert expression_of(condition) == expression


def test_the_seeds_rule_reads_as_two_comparisons_joined_by_and():
    assert condition_of("order.total > 5000 and facts.first_time_address") == {
        "join": "and",
        "terms": [
            {"field": "order.total", "op": ">", "value": 5000},
            {"field": "facts.first_time_address", "op": "is true", "value": None},
        ],
    }


@pytest.mark.parametrize(
    "expression",
    [
        "facts.velocity.ip >= 5 and not (order.customer.type == 'b2b' and facts.credit.limit > 0)",
        "order.total > facts.credit.remaining",
        "order.total * 2 > 100",
        "a and b or c",
        "facts.x > 1 and facts.y < 2 or facts.z",
        "some(return.lines, #.category in ['food'])",
        "len(order.lines) > 3",
        "order.total >",
    ],
)
def test_an_expression_that_says_more_is_not_read_so_the_builder_shows_it_read_only(expression):
    assert condition_of(expression) is None


def test_every_shipped_rule_is_either_read_exactly_or_left_as_text():
    views = rules_view(load(AUDIT).raw)
    by_id = {v["id"]: v for v in views}
    assert by_id["high_value_new_address"]["condition"] is not None
    assert by_id["ip_velocity"]["condition"] is None  # brackets: read-only in the builder
    assert by_id["channel_risk"]["table"] is True
    for view in views:
        if view["condition"] is not None:
            assert expression_of(view["condition"]) == view["when"]


@pytest.mark.parametrize(
    ("condition", "where", "message"),
    [
        ({"join": "xor", "terms": []}, "join", "combine with and or or"),
        ({"terms": []}, "terms", "at least one comparison"),
        ({"terms": [{"field": "order.total", "op": ">", "value": "lots"}]}, "terms[0].value", "give a number"),
        ({"terms": [{"field": "total", "op": ">", "value": 1}]}, "terms[0].field", "not a field"),
        ({"terms": [{"field": "order.total", "op": "~", "value": 1}]}, "terms[0].op", "'~' is not an operator"),
        ({"terms": [{"field": "order.channel", "op": "in", "value": []}]}, "terms[0].value", "needs a list"),
    ],
)
def test_a_condition_that_cannot_be_written_names_its_part(condition, where, message):
    with pytest.raises(ConditionError) as refused:
        expression_of(condition)
    assert refused.value.where == where
    assert message in refused.value.message


SEEDS_RULE = {
    "id": "big_new_address",
    "condition": {
        "join": "and",
        "terms": [
            {"field": "order.total", "op": ">", "value": 5000},
            {"field": "facts.first_time_address", "op": "is true", "value": None},
        ],
    },
    "action": "review",
    "reason": "amount {{ order.total }} to a first-time address",
}


def test_a_new_rule_is_inserted_at_the_end_and_the_rule_set_stays_valid():
    rules = load(AUDIT).raw["rules"]
    text = apply_edits(AUDIT, parse_edits(rule_edits(rules, None, SEEDS_RULE)))
    added = load(text).raw["rules"][-1]
    assert added == {
        "id": "big_new_address",
        "when": "order.total > 5000 and facts.first_time_address",
        "action": "review",
        "reason": "amount {{ order.total }} to a first-time address",
    }
    assert validate_text(text).errors == ()


def test_changing_a_rule_sets_only_what_changed_and_a_tag_goes_when_the_action_is_no_longer_tag():
    rules = load(AUDIT).raw["rules"]
    index = next(i for i, r in enumerate(rules) if r["id"] == "high_value")
    spec = {
        "id": "high_value",
        "condition": {"join": "and", "terms": [{"field": "order.total", "op": ">=", "value": 2000}]},
        "action": "review",
        "reason": rules[index]["reason"]["en"],  # the builder edits the English of a reason given per language
    }
    assert rule_edits(rules, index, spec) == [
        {"op": "set", "path": ["rules", index, "when"], "value": "order.total >= 2000"},
        {"op": "set", "path": ["rules", index, "action"], "value": "review"},
        {"op": "delete", "path": ["rules", index, "tag"]},
    ]


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"id": "High Value"}, "id", "lower-case letters"),
        ({"id": "ip_velocity"}, "id", "another rule is already called 'ip_velocity'"),
        ({"action": "hold"}, "action", "the action is one of"),
        ({"reason": "  "}, "reason", "write the reason"),
        ({"action": "tag"}, "tag", "a tag rule needs the label"),
    ],
)
def test_a_rule_the_builder_cannot_write_is_refused_naming_the_part(change, where, message):
    with pytest.raises(ConditionError) as refused:
        rule_edits(load(AUDIT).raw["rules"], None, {**SEEDS_RULE, **change})
    assert refused.value.where == where
    assert message in refused.value.message


def test_fields_come_from_the_form_any_line_and_every_fact_with_types_and_samples():
    document = {"total": 5196.0, "channel": "web", "lines": [{"sku": "LAPTOP-14", "qty": 4, "price": 1299}]}
    facts = {"first_time_address": True, "velocity": {"ip": 2, "phone": 1, "address": 1}, "regions_version": 3}
    fields = {f.path: f for f in rule_fields(FORM, document, facts)}
    assert (fields["order.total"].type, fields["order.total"].sample) == ("number", 5196.0)
    assert fields["order.lines[].sku"].sample == "LAPTOP-14"
    assert fields["order.lines[].qty"].type == "number"
    assert fields["order.customer.type"].options == ("consumer", "b2b")
    assert fields["order.shipping_address.country"].type == "text"
    first = fields["facts.first_time_address"]
    assert (first.type, first.sample, first.group) == ("boolean", True, "Facts the audit computes")
    assert first.label == "First-time address (no earlier order went to it)"
    assert fields["facts.velocity.ip"].sample == 2
    assert fields["facts.credit.remaining"].type == "number"  # from the ordinary facts when not recorded
    assert "facts.regions_version" not in fields


def test_a_return_policy_offers_the_return_its_lines_and_the_facts_the_return_audit_computes():
    request = {"kind": "refund", "reason": "damaged_on_arrival", "value": 19.0}
    facts = {"days_since_delivery": 4.5, "value": 19.0, "lines": [{"category": "kitchen", "qty": 1}]}
    fields = {f.path: f for f in return_rule_fields(FORM, RETURN_FORM, {"total": 99.0}, request, facts)}
    reason = fields["return.reason"]
    assert (reason.type, reason.sample, reason.group) == ("text", "damaged_on_arrival", "Return")
    assert "damaged_on_arrival" in reason.options and "changed_mind" in reason.options
    assert fields["facts.reason"].options == reason.options
    assert fields["facts.kind"].options == ("refund", "exchange")
    assert (fields["facts.days_since_delivery"].type, fields["facts.days_since_delivery"].sample) == ("number", 4.5)
    assert fields["facts.quantity_ok"].type == "boolean"
    line = fields["facts.lines[].category"]
    assert (line.type, line.sample, line.group) == ("text", "kitchen", "Any returned line")
    assert (fields["order.total"].sample, fields["order.total"].group) == (99.0, "Returned order")
    assert not [path for path in fields if path.startswith("facts.velocity") or path == "facts.first_time_address"]


def test_the_return_facts_offered_are_the_ones_the_return_audit_computes():
    # services/returns/steps.py return_facts: every key the builder offers is one it returns.
    for key in RETURN_FACTS:
        assert f'"{key}":' in STEPS, key


def test_every_return_policy_rule_reads_into_the_builder_with_the_fields_it_offers():
    views = rules_view(load(POLICY).raw)
    fields = {f.path for f in return_rule_fields(FORM, RETURN_FORM, None, None, None)}
    for view in views:
        assert view["condition"] is not None, view["id"]
        assert expression_of(view["condition"]) == view["when"]
        assert {t["field"] for t in view["condition"]["terms"]} <= fields, view["id"]
