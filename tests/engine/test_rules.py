"""The shipped `order_audit` rule set rule by rule, and the hit policies of evaluate_rules."""

from __future__ import annotations

import pytest

from engine.definitions import compile_text
from engine.rules import AuditDecision, FiredRule, RuleSet, evaluate_rules
from tests.engine.shipped import RULES_FILE, read


@pytest.fixture(scope="module")
def order_audit() -> RuleSet:
    return compile_text(read(RULES_FILE))


def audit_context(
    *,
    total: float = 120,
    customer_type: str = "consumer",
    country: str = "DE",
    client_ip: str = "203.0.113.7",
    first_time_address: bool = False,
    orders_from_ip_last_hour: int = 0,
    credit_remaining: float = 10_000,
    address_complete: bool = True,
) -> dict:
    """An order and its facts that no shipped rule objects to, unless told otherwise."""
    return {
        "order": {
            "total": total,
            "customer": {"name": "Ann Lee", "type": customer_type},
            "shipping_address": {"street": "Main St 1", "city": "Berlin", "postal_code": "10115",
                                 "country": country},
            "client_ip": client_ip,
        },
        "facts": {
            "first_time_address": first_time_address,
            "orders_from_ip_last_hour": orders_from_ip_last_hour,
            "credit": {"remaining": credit_remaining},
            "address": {"complete": address_complete},
            "customer": {"orders_so_far": 3},
        },
    }


def review(rule: str, reason: str) -> AuditDecision:
    return AuditDecision("review", (FiredRule(rule, "review", reason),))


APPROVED = AuditDecision("approve", ())


def test_shipped_rule_set_shape(order_audit):
    assert (order_audit.name, order_audit.hit_policy, order_audit.default) == ("order_audit", "collect", "approve")
    assert [r.id for r in order_audit.rules] == [
        "high_value_new_address", "incomplete_address", "undeliverable_country", "over_credit", "ip_velocity",
    ]


def test_an_ordinary_order_is_approved_with_no_rule_fired(order_audit):
    assert evaluate_rules(order_audit, audit_context()) == APPROVED


# ---- each rule: a context that fires it, and ones that just miss it ------------


FIRES = {
    "high value to a new address": (
        dict(total=6495, first_time_address=True),
        review("high_value_new_address", "amount 6495 to a first-time address"),
    ),
    "high value by a cent to a new address": (
        dict(total=5000.01, first_time_address=True),
        review("high_value_new_address", "amount 5000.01 to a first-time address"),
    ),
    "incomplete address": (
        dict(address_complete=False),
        review("incomplete_address", "shipping address is incomplete"),
    ),
    "unserved country": (
        dict(country="BR"),
        review("undeliverable_country", "no carrier serves BR"),
    ),
    "b2b over credit": (
        dict(customer_type="b2b", total=1500, credit_remaining=1499.99),
        review("over_credit", "B2B order of 1500 exceeds the remaining credit 1499.99"),
    ),
    "five orders from one ip": (
        dict(orders_from_ip_last_hour=5),
        review("ip_velocity", "5 orders from 203.0.113.7 within an hour"),
    ),
}


@pytest.mark.parametrize("changes, expected", FIRES.values(), ids=FIRES.keys())
def test_rule_fires(order_audit, changes, expected):
    assert evaluate_rules(order_audit, audit_context(**changes)) == expected


MISSES = {
    "exactly 5000 to a new address": dict(total=5000, first_time_address=True),
    "high value to a known address": dict(total=6495, first_time_address=False),
    "complete address": dict(address_complete=True),
    "last served country in the list": dict(country="CN"),
    "b2b exactly at its credit": dict(customer_type="b2b", total=1500, credit_remaining=1500),
    "consumer over the credit figure": dict(customer_type="consumer", total=1500, credit_remaining=10),
    "four orders from one ip": dict(orders_from_ip_last_hour=4),
}


@pytest.mark.parametrize("changes", MISSES.values(), ids=MISSES.keys())
def test_rule_just_misses(order_audit, changes):
    assert evaluate_rules(order_audit, audit_context(**changes)) == APPROVED


def test_collect_records_every_matching_rule_in_rule_order(order_audit):
    ctx = audit_context(total=8000, first_time_address=True, country="BR", orders_from_ip_last_hour=9)
    assert evaluate_rules(order_audit, ctx) == AuditDecision("review", (
        FiredRule("high_value_new_address", "review", "amount 8000 to a first-time address"),
        FiredRule("undeliverable_country", "review", "no carrier serves BR"),
        FiredRule("ip_velocity", "review", "9 orders from 203.0.113.7 within an hour"),
    ))


def test_a_missing_fact_sends_to_review_naming_the_expression(order_audit):
    ctx = audit_context()
    del ctx["facts"]["address"]
    decision = evaluate_rules(order_audit, ctx)
    assert decision.action == "review"
    [fired] = decision.fired
    assert (fired.rule, fired.action) == ("incomplete_address", "review")
    # The tail after "failed: " is zen-engine's own wording ("vmError: Opcode Not: ...").
    assert fired.reason.startswith(
        "rule could not be evaluated: expression 'not facts.address.complete' failed: "
    )


# ---- hit policies on a small rule set with every action -----------------------


def rule_set(hit_policy: str, default: str = "approve") -> RuleSet:
    return compile_text(
        f"kind: rules\nname: strictness\nhit_policy: {hit_policy}\ndefault: {default}\nrules:\n"
        "  - {id: small, when: 'order.total < 10', action: approve, reason: 'small {{ order.total }}'}\n"
        "  - {id: big, when: 'order.total > 100', action: review, reason: 'big {{ order.total }}'}\n"
        "  - {id: blocked, when: 'order.blocked', action: reject, reason: 'customer is blocked'}\n"
    )


def order(total: float, blocked: bool = False) -> dict:
    return {"order": {"total": total, "blocked": blocked}}


SMALL = FiredRule("small", "approve", "small 5")
BIG = FiredRule("big", "review", "big 500")
BLOCKED = FiredRule("blocked", "reject", "customer is blocked")

HIT_POLICY_CASES = {
    "collect: approve only": ("collect", order(5), AuditDecision("approve", (SMALL,))),
    "collect: review beats nothing": ("collect", order(500), AuditDecision("review", (BIG,))),
    "collect: reject beats review": ("collect", order(500, blocked=True), AuditDecision("reject", (BIG, BLOCKED))),
    "collect: reject beats approve": ("collect", order(5, blocked=True), AuditDecision("reject", (SMALL, BLOCKED))),
    "collect: nothing matches": ("collect", order(50), AuditDecision("approve", ())),
    "first: first match decides": ("first", order(500, blocked=True), AuditDecision("review", (BIG,))),
    "first: later match when earlier miss": ("first", order(50, blocked=True), AuditDecision("reject", (BLOCKED,))),
    "first: approve stops before reject": ("first", order(5, blocked=True), AuditDecision("approve", (SMALL,))),
}


@pytest.mark.parametrize("hit_policy, ctx, expected", HIT_POLICY_CASES.values(), ids=HIT_POLICY_CASES.keys())
def test_hit_policy(hit_policy, ctx, expected):
    assert evaluate_rules(rule_set(hit_policy), ctx) == expected


@pytest.mark.parametrize("default", ["approve", "review", "reject"])
def test_default_action_when_nothing_matches(default):
    assert evaluate_rules(rule_set("collect", default), order(50)) == AuditDecision(default, ())


def test_a_matching_rule_overrides_a_stricter_default():
    assert evaluate_rules(rule_set("collect", "review"), order(5)) == AuditDecision("approve", (SMALL,))


# ---- a rule that fails when evaluated ------------------------------------------


def failing_rule_set(hit_policy: str) -> RuleSet:
    return compile_text(
        f"kind: rules\nname: failing\nhit_policy: {hit_policy}\nrules:\n"
        "  - {id: too_long, when: 'len(order.total) > 3', action: approve, reason: 'long'}\n"
        "  - {id: blocked, when: 'order.blocked', action: reject, reason: 'customer is blocked'}\n"
    )


FAILED = FiredRule(
    "too_long", "review",
    "rule could not be evaluated: expression 'len(order.total) > 3' failed: "
    "vmError: Opcode CallFunction: Function `len` failed: Cannot determine len of type number",
)


def test_failing_rule_sends_to_review_with_its_reason():
    assert evaluate_rules(failing_rule_set("collect"), order(5)) == AuditDecision("review", (FAILED,))


def test_failing_rule_does_not_hide_a_stricter_rule_under_collect():
    assert evaluate_rules(failing_rule_set("collect"), order(5, blocked=True)) == AuditDecision(
        "reject", (FAILED, BLOCKED)
    )


def test_failing_rule_decides_under_first():
    assert evaluate_rules(failing_rule_set("first"), order(5, blocked=True)) == AuditDecision("review", (FAILED,))
