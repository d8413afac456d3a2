"""The shipped `order_audit` rule set rule by rule, and the hit policies of evaluate_rules."""

from __future__ import annotations

from datetime import date

import pytest

from engine.definitions import compile_text
from engine.reference import Promotions, Regions
from engine.rules import AuditDecision, FiredRule, RuleSet, evaluate_rules
from tests.engine.shipped import PROMOTIONS_FILE, REGIONS_FILE, RULES_FILE, read

REGIONS: Regions = compile_text(read(REGIONS_FILE))
PROMOTIONS: Promotions = compile_text(read(PROMOTIONS_FILE))

# Both shipped coupons are valid on this day: WELCOME10 (2026-01-01..2027-12-31, min 50)
# and SUMMER25 (2026-06-01..2026-08-31, min 100).
TODAY = date(2026, 7, 1)
ADDRESS_PARTS = ("street", "city", "postal_code", "country")  # as activities/facts.py


def shipped_rules() -> RuleSet:
    return compile_text(read(RULES_FILE))


@pytest.fixture(scope="module")
def order_audit() -> RuleSet:
    return shipped_rules()


def audit_context(
    *,
    total: float = 120,
    channel: str = "web",
    customer_type: str = "consumer",
    phone: str = "+49 30 1234567",
    city: str = "Berlin",
    postal_code: str = "10115",
    country: str = "DE",
    coupon: str | None = None,
    today: date = TODAY,
    first_time_address: bool = False,
    ip_orders: int = 1,
    phone_orders: int = 1,
    address_orders: int = 1,
    orders_so_far: int = 3,
    returned_orders: int = 0,
    returns_ratio: float | None = None,
    credit_remaining: float = 10_000,
    available: int = 50,
) -> dict:
    """An ordinary order and its facts, which no shipped rule objects to unless told otherwise.

    ``order`` is the document intake stores (the form's output plus ``id`` and
    ``total``); ``facts`` has the exact shape ``services.orders.facts.order_facts``
    produces, with the address and coupon facts computed by the shipped
    regions and promotions. Velocity counts include the order itself.
    """
    order = {
        "channel": channel,
        "external_id": "A-1001",
        "customer": {
            "name": "Ann Lee",
            "email": "ann@example.com",
            "phone": phone,
            "type": customer_type,
            "id": "C-1001",
        },
        "shipping_address": {
            "name": "Ann Lee",
            "street": "Main St 1",
            "city": city,
            "postal_code": postal_code,
            "country": country,
        },
        "lines": [{"sku": "MUG-BLUE", "qty": 1, "price": total}],
        "payment": {"method": "card", "status": "pending"},
        "client_ip": "203.0.113.7",
        "id": "ord_0123456789abcdef",
        "total": total,
    }
    if coupon is not None:
        order["coupon"] = coupon

    address = order["shipping_address"]
    missing = [part for part in ADDRESS_PARTS if not str(address.get(part) or "").strip()]
    serviceable, why = REGIONS.serviceable(address)
    if customer_type == "b2b":
        credit = {"limit": 10_000.0, "open_balance": 10_000.0 - credit_remaining, "remaining": credit_remaining}
    else:
        credit = {"limit": 0.0, "open_balance": 0.0, "remaining": 0.0}
    if returns_ratio is None:
        returns_ratio = round(returned_orders / orders_so_far, 3) if orders_so_far else 0.0
    lines = [
        {"sku": line["sku"], "qty": line["qty"], "available": available, "enough": available >= line["qty"]}
        for line in order["lines"]
    ]
    facts = {
        "first_time_address": first_time_address,
        "orders_from_ip_last_hour": ip_orders,
        "velocity": {"ip": ip_orders, "phone": phone_orders, "address": address_orders, "window_minutes": 60},
        "customer": {
            "known": orders_so_far > 0,
            "orders_so_far": orders_so_far,
            "returned_orders": returned_orders,
            "returns_ratio": returns_ratio,
        },
        "credit": credit,
        "address": {
            "complete": not missing,
            "missing": missing,
            "serviceable": serviceable,
            "unserviceable_reason": why,
            "regions_version": 1,
        },
        "stock": {"lines": lines, "all_available": all(line["enough"] for line in lines)},
        "coupon": {**PROMOTIONS.check(coupon, total, today), "promotions_version": 1},
    }
    return {"order": order, "facts": facts}


def high_value(total: str) -> FiredRule:
    return FiredRule("high_value", "tag", f"order of {total}", "high_value")


BACKORDER = FiredRule("backorder_risk", "tag", "not every line is in stock", "backorder_risk")


def review(rule: str, reason: str, *tags: FiredRule) -> AuditDecision:
    return AuditDecision("review", (FiredRule(rule, "review", reason), *tags))


def approved(*tags: FiredRule) -> AuditDecision:
    return AuditDecision("approve", tags)


def test_shipped_rule_set_shape(order_audit):
    assert (order_audit.name, order_audit.hit_policy, order_audit.default) == ("order_audit", "collect", "approve")
    assert [r.id for r in order_audit.rules] == [
        "high_value_new_address",
        "incomplete_address",
        "undeliverable_address",
        "over_credit",
        "ip_velocity",
        "phone_velocity",
        "address_velocity",
        "serial_returner",
        "invalid_coupon",
        "channel_risk",
        "backorder_risk",
        "high_value",
    ]
    [table] = [r.table for r in order_audit.rules if r.table is not None]
    assert [(row.action, row.tag) for row in table.rows] == [("review", None), ("review", None)]


def test_an_ordinary_order_is_approved_with_no_rule_fired(order_audit):
    assert evaluate_rules(order_audit, audit_context()) == approved()


def test_the_ordinary_facts_are_what_the_reference_data_says():
    facts = audit_context()["facts"]
    assert facts["address"] == {
        "complete": True,
        "missing": [],
        "serviceable": True,
        "unserviceable_reason": "",
        "regions_version": 1,
    }
    assert facts["coupon"] == {
        "code": None,
        "exists": False,
        "valid": False,
        "min_spend_met": False,
        "promotions_version": 1,
    }


# ---- each rule: a context that fires it, and ones that just miss it ------------


FIRES = {
    # high_value_new_address
    "5000.01 to a first-time address": (
        dict(total=5000.01, first_time_address=True),
        review("high_value_new_address", "amount 5000.01 to a first-time address", high_value("5000.01")),
    ),
    # incomplete_address
    "no city": (
        dict(city=""),
        review("incomplete_address", "shipping address is incomplete: city missing"),
    ),
    "a blank postal code": (
        dict(postal_code="   "),
        review("incomplete_address", "shipping address is incomplete: postal_code missing"),
    ),
    # undeliverable_address
    "an unserved country": (
        dict(country="BR"),
        review("undeliverable_address", "no carrier serves BR"),
    ),
    "an excluded postal code": (
        dict(postal_code="27498"),
        review("undeliverable_address", "no carrier serves postal code 27498 in DE"),
    ),
    # over_credit
    "b2b a cent over its credit": (
        dict(customer_type="b2b", total=1500, credit_remaining=1499.99),
        review("over_credit", "B2B order of 1500 exceeds the remaining credit 1499.99", high_value("1500")),
    ),
    # velocity
    "five orders from one ip": (
        dict(ip_orders=5),
        review("ip_velocity", "5 orders from 203.0.113.7 within an hour"),
    ),
    "five orders from one phone": (
        dict(phone_orders=5),
        review("phone_velocity", "5 orders from phone +49 30 1234567 within an hour"),
    ),
    "five orders to one address": (
        dict(address_orders=5),
        review("address_velocity", "5 orders to this address within an hour"),
    ),
    # serial_returner
    "returns ratio 0.51 with 4 orders": (
        dict(orders_so_far=4, returned_orders=2, returns_ratio=0.51),
        review("serial_returner", "customer returned 2 of 4 orders"),
    ),
    "3 of 4 orders returned": (
        dict(orders_so_far=4, returned_orders=3),
        review("serial_returner", "customer returned 3 of 4 orders"),
    ),
    # invalid_coupon
    "an expired coupon": (
        dict(coupon="SUMMER25", total=120, today=date(2026, 9, 1)),
        review("invalid_coupon", "coupon SUMMER25 is unknown, expired or below its minimum spend"),
    ),
    "a coupon not valid yet": (
        dict(coupon="SUMMER25", total=120, today=date(2026, 5, 31)),
        review("invalid_coupon", "coupon SUMMER25 is unknown, expired or below its minimum spend"),
    ),
    "a coupon a cent below its minimum spend": (
        dict(coupon="WELCOME10", total=49.99),
        review("invalid_coupon", "coupon WELCOME10 is unknown, expired or below its minimum spend"),
    ),
    "an unknown coupon": (
        dict(coupon="WINTER99"),
        review("invalid_coupon", "coupon WINTER99 is unknown, expired or below its minimum spend"),
    ),
    # channel_risk, row 0
    "marketplace 1500.01 to a non-EU country": (
        dict(channel="marketplace", total=1500.01, country="US"),
        review("channel_risk[0]", "marketplace order of 1500.01 shipped to US", high_value("1500.01")),
    ),
    "marketplace 1500.01 to GB, served but not in the list": (
        dict(channel="marketplace", total=1500.01, country="GB"),
        review("channel_risk[0]", "marketplace order of 1500.01 shipped to GB", high_value("1500.01")),
    ),
    # channel_risk, row 1
    "20000.01 from any channel": (
        dict(total=20000.01),
        review("channel_risk[1]", "order of 20000.01 is above the 20000 review limit", high_value("20000.01")),
    ),
    "marketplace 20000.01 to an EU country takes the second row": (
        dict(channel="marketplace", total=20000.01, country="FR"),
        review("channel_risk[1]", "order of 20000.01 is above the 20000 review limit", high_value("20000.01")),
    ),
    "marketplace 20000.01 to a non-EU country: the first matching row wins": (
        dict(channel="marketplace", total=20000.01, country="US"),
        review("channel_risk[0]", "marketplace order of 20000.01 shipped to US", high_value("20000.01")),
    ),
    # tags: they label, the action stays the default
    "a line out of stock": (dict(available=0), approved(BACKORDER)),
    "exactly 1000": (dict(total=1000), approved(high_value("1000"))),
}


@pytest.mark.parametrize("changes, expected", FIRES.values(), ids=FIRES.keys())
def test_rule_fires(order_audit, changes, expected):
    assert evaluate_rules(order_audit, audit_context(**changes)) == expected


MISSES = {
    # high_value_new_address (the high_value tag still labels these)
    "exactly 5000 to a first-time address": (dict(total=5000, first_time_address=True), (high_value("5000"),)),
    "5000.01 to a known address": (dict(total=5000.01, first_time_address=False), (high_value("5000.01"),)),
    # incomplete_address: region and name are not address parts the rule needs
    "no region, every needed part": ({}, ()),
    # undeliverable_address
    "the last served country in the list": (dict(country="CN"), ()),
    "a postal code next to the excluded one": (dict(postal_code="27499"), ()),
    "the excluded prefix in another country": (dict(country="AT", postal_code="27498"), ()),
    # over_credit
    "b2b exactly at its credit": (dict(customer_type="b2b", total=1500, credit_remaining=1500), (high_value("1500"),)),
    "consumer over the (zero) credit figure": (dict(customer_type="consumer", total=1500), (high_value("1500"),)),
    # velocity
    "four orders from one ip": (dict(ip_orders=4), ()),
    "four orders from one phone": (dict(phone_orders=4), ()),
    "four orders to one address": (dict(address_orders=4), ()),
    # serial_returner
    "returns ratio 0.5 with 4 orders": (dict(orders_so_far=4, returned_orders=2), ()),
    "every one of 3 orders returned": (dict(orders_so_far=3, returned_orders=3), ()),
    # invalid_coupon
    "a valid coupon": (dict(coupon="SUMMER25", total=120), ()),
    "a coupon on its last valid day": (dict(coupon="SUMMER25", total=120, today=date(2026, 8, 31)), ()),
    "a coupon on its first valid day": (dict(coupon="SUMMER25", total=120, today=date(2026, 6, 1)), ()),
    "a coupon exactly at its minimum spend": (dict(coupon="WELCOME10", total=50), ()),
    "a coupon in lower case": (dict(coupon="welcome10", total=50), ()),
    "no coupon": (dict(coupon=None), ()),
    "an empty coupon": (dict(coupon=""), ()),
    # channel_risk
    "marketplace exactly 1500 to a non-EU country": (
        dict(channel="marketplace", total=1500, country="US"),
        (high_value("1500"),),
    ),
    "marketplace 1500.01 to an EU country": (
        dict(channel="marketplace", total=1500.01, country="AT"),
        (high_value("1500.01"),),
    ),
    "web 1500.01 to a non-EU country": (dict(channel="web", total=1500.01, country="US"), (high_value("1500.01"),)),
    "exactly 20000": (dict(total=20000), (high_value("20000"),)),
    # tags
    "stock exactly enough": (dict(available=1), ()),
    "999.99": (dict(total=999.99), ()),
}


@pytest.mark.parametrize("changes, tags", MISSES.values(), ids=MISSES.keys())
def test_rule_just_misses(order_audit, changes, tags):
    assert evaluate_rules(order_audit, audit_context(**changes)) == approved(*tags)


def test_collect_records_every_matching_rule_in_rule_order(order_audit):
    ctx = audit_context(
        total=8000,
        first_time_address=True,
        country="BR",
        ip_orders=9,
        channel="marketplace",
        coupon="WINTER99",
        available=0,
    )
    decision = evaluate_rules(order_audit, ctx)
    assert decision == AuditDecision(
        "review",
        (
            FiredRule("high_value_new_address", "review", "amount 8000 to a first-time address"),
            FiredRule("undeliverable_address", "review", "no carrier serves BR"),
            FiredRule("ip_velocity", "review", "9 orders from 203.0.113.7 within an hour"),
            FiredRule("invalid_coupon", "review", "coupon WINTER99 is unknown, expired or below its minimum spend"),
            FiredRule("channel_risk[0]", "review", "marketplace order of 8000 shipped to BR"),
            BACKORDER,
            high_value("8000"),
        ),
    )
    assert decision.tags == ("backorder_risk", "high_value")


def test_an_incomplete_address_is_not_also_undeliverable(order_audit):
    # An empty country is unserviceable too; only the incomplete address is reported.
    assert evaluate_rules(order_audit, audit_context(country="")) == review(
        "incomplete_address", "shipping address is incomplete: country missing"
    )


def test_a_missing_fact_sends_to_review_naming_the_expression(order_audit):
    ctx = audit_context()
    del ctx["facts"]["address"]
    assert evaluate_rules(order_audit, ctx) == AuditDecision(
        "review",
        (
            FiredRule(
                "incomplete_address",
                "review",
                "rule could not be evaluated: expression 'not facts.address.complete' failed: "
                "vmError: Opcode Not: Unsupported type",
            ),
            FiredRule(
                "undeliverable_address",
                "review",
                "rule could not be evaluated: expression 'facts.address.complete and not facts.address.serviceable' "
                "failed: vmError: Opcode JumpIfFalse: Unsupported type",
            ),
        ),
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


# ---- tags: recorded, never deciding, never stopping `first` ---------------------


def tagged_rule_set(hit_policy: str, default: str = "approve") -> RuleSet:
    return compile_text(
        f"kind: rules\nname: tagged\nhit_policy: {hit_policy}\ndefault: {default}\nrules:\n"
        "  - {id: vip, when: 'order.vip', action: tag, tag: vip, reason: 'vip customer'}\n"
        "  - {id: big, when: 'order.total > 100', action: review, reason: 'big {{ order.total }}'}\n"
        "  - {id: blocked, when: 'order.blocked', action: reject, reason: 'customer is blocked'}\n"
        "  - {id: late_vip, when: 'order.vip', action: tag, tag: vip, reason: 'vip again'}\n"
        "  - {id: heavy, when: 'order.total > 100', action: tag, tag: heavy, reason: 'heavy'}\n"
    )


def tagged_order(total: float, vip: bool = True, blocked: bool = False) -> dict:
    return {"order": {"total": total, "vip": vip, "blocked": blocked}}


VIP = FiredRule("vip", "tag", "vip customer", "vip")
LATE_VIP = FiredRule("late_vip", "tag", "vip again", "vip")
HEAVY = FiredRule("heavy", "tag", "heavy", "heavy")

TAG_CASES = {
    "first: a tag does not stop; the deciding rule does": (
        "first",
        "approve",
        tagged_order(500, blocked=True),
        AuditDecision("review", (VIP, BIG)),
    ),
    "first: only tags match, every one is recorded": (
        "first",
        "approve",
        tagged_order(50),
        AuditDecision("approve", (VIP, LATE_VIP)),
    ),
    "collect: tags and decisions all recorded, strictest wins": (
        "collect",
        "approve",
        tagged_order(500, blocked=True),
        AuditDecision("reject", (VIP, BIG, BLOCKED, LATE_VIP, HEAVY)),
    ),
    "collect: only tags keep the default approve": (
        "collect",
        "approve",
        tagged_order(50),
        AuditDecision("approve", (VIP, LATE_VIP)),
    ),
    "collect: only tags keep the default review": (
        "collect",
        "review",
        tagged_order(50),
        AuditDecision("review", (VIP, LATE_VIP)),
    ),
    "collect: only tags keep the default reject": (
        "collect",
        "reject",
        tagged_order(50),
        AuditDecision("reject", (VIP, LATE_VIP)),
    ),
}


@pytest.mark.parametrize("hit_policy, default, ctx, expected", TAG_CASES.values(), ids=TAG_CASES.keys())
def test_tags(hit_policy, default, ctx, expected):
    assert evaluate_rules(tagged_rule_set(hit_policy, default), ctx) == expected


def test_tags_are_listed_once_in_the_order_they_first_fired():
    decision = evaluate_rules(tagged_rule_set("collect"), tagged_order(500))
    assert decision.tags == ("vip", "heavy")


def test_no_tags_when_only_deciding_rules_fire():
    assert evaluate_rules(tagged_rule_set("collect"), tagged_order(500, vip=False)).tags == ("heavy",)
    assert evaluate_rules(rule_set("collect"), order(500)).tags == ()


# ---- decision tables inside a rule set -----------------------------------------


def table_rule_set(hit_policy: str = "collect") -> RuleSet:
    return compile_text(
        f"kind: rules\nname: tables\nhit_policy: {hit_policy}\nrules:\n"
        "  - id: risk\n"
        "    table:\n"
        "      inputs: [order.channel, order.country, order.total]\n"
        "      rows:\n"
        "        - {when: [\"'shop'\", '-', '> 100'], action: reject, reason: 'shop over 100: {{ order.total }}'}\n"
        "        - {when: ['', \"'BR'\", ''], action: review, reason: 'ships to {{ order.country }}'}\n"
        "        - {when: ['-', '-', '< 0'], action: tag, tag: refund, reason: 'negative'}\n"
        "        - {when: [\"'shop'\", '-', '-'], action: approve, reason: 'shop order'}\n"
        "  - {id: blocked, when: 'order.blocked', action: reject, reason: 'customer is blocked'}\n"
    )


def table_order(channel: str = "web", country: str = "DE", total: float = 50, blocked: bool = False) -> dict:
    return {"order": {"channel": channel, "country": country, "total": total, "blocked": blocked}}


TABLE_CASES = {
    "first row": (
        table_order("shop", "BR", 150),
        AuditDecision("reject", (FiredRule("risk[0]", "reject", "shop over 100: 150"),)),
    ),
    "empty cells match anything": (
        table_order("web", "BR", 150),
        AuditDecision("review", (FiredRule("risk[1]", "review", "ships to BR"),)),
    ),
    "a tag row labels without deciding": (
        table_order("web", "DE", -5),
        AuditDecision("approve", (FiredRule("risk[2]", "tag", "negative", "refund"),)),
    ),
    "dashes match anything": (
        table_order("shop", "DE", 100),
        AuditDecision("approve", (FiredRule("risk[3]", "approve", "shop order"),)),
    ),
    "the first matching row wins over a later one": (
        table_order("shop", "DE", -5),
        AuditDecision("approve", (FiredRule("risk[2]", "tag", "negative", "refund"),)),
    ),
    "no matching row fires nothing": (table_order("web", "DE", 50), AuditDecision("approve", ())),
    "no matching row, a later rule still fires": (
        table_order("web", "DE", 50, blocked=True),
        AuditDecision("reject", (BLOCKED,)),
    ),
}


@pytest.mark.parametrize("ctx, expected", TABLE_CASES.values(), ids=TABLE_CASES.keys())
def test_decision_table(ctx, expected):
    assert evaluate_rules(table_rule_set(), ctx) == expected


def test_a_table_row_that_decides_stops_first():
    assert evaluate_rules(table_rule_set("first"), table_order("shop", "BR", 150, blocked=True)) == AuditDecision(
        "reject", (FiredRule("risk[0]", "reject", "shop over 100: 150"),)
    )


def test_a_table_tag_row_does_not_stop_first():
    assert evaluate_rules(table_rule_set("first"), table_order("web", "DE", -5, blocked=True)) == AuditDecision(
        "reject", (FiredRule("risk[2]", "tag", "negative", "refund"), BLOCKED)
    )


def test_a_table_whose_input_fails_sends_to_review():
    rule_set_ = compile_text(
        "kind: rules\nname: failing_table\nrules:\n"
        "  - id: long\n"
        "    table:\n"
        "      inputs: [len(order.total)]\n"
        "      rows:\n"
        "        - {when: ['> 3'], action: approve, reason: long}\n"
    )
    assert evaluate_rules(rule_set_, order(5)).action == "review"


# ---- a rule that fails when evaluated ------------------------------------------


def failing_rule_set(hit_policy: str) -> RuleSet:
    return compile_text(
        f"kind: rules\nname: failing\nhit_policy: {hit_policy}\nrules:\n"
        "  - {id: too_long, when: 'len(order.total) > 3', action: approve, reason: 'long'}\n"
        "  - {id: blocked, when: 'order.blocked', action: reject, reason: 'customer is blocked'}\n"
    )


FAILED = FiredRule(
    "too_long",
    "review",
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


def test_a_tag_rule_that_fails_sends_to_review():
    rule_set_ = compile_text(
        "kind: rules\nname: failing_tag\nrules:\n"
        "  - {id: long, when: 'len(order.total) > 3', action: tag, tag: long, reason: 'long'}\n"
    )
    decision = evaluate_rules(rule_set_, order(5))
    assert decision == AuditDecision(
        "review",
        (
            FiredRule(
                "long",
                "review",
                "rule could not be evaluated: expression 'len(order.total) > 3' failed: "
                "vmError: Opcode CallFunction: Function `len` failed: Cannot determine len of type number",
            ),
        ),
    )
    assert decision.tags == ()


def test_a_reason_that_fails_to_render_sends_to_review():
    rule_set_ = compile_text(
        "kind: rules\nname: failing_reason\nrules:\n"
        "  - {id: big, when: 'order.total > 1', action: approve, reason: 'size {{ len(order.total) }}'}\n"
    )
    assert evaluate_rules(rule_set_, order(5)) == AuditDecision(
        "review",
        (
            FiredRule(
                "big",
                "review",
                "rule could not be evaluated: template 'size {{ len(order.total) }}' failed: "
                "vmError: Opcode CallFunction: Function `len` failed: Cannot determine len of type number",
            ),
        ),
    )


# ---- exemptions found by the demo traffic (bench/demo_traffic.py) -------------


def _with(context: dict, **order_changes) -> dict:
    context["order"].update(order_changes)
    return context


def test_store_pickups_sharing_the_store_address_are_not_velocity():
    context = _with(audit_context(address_orders=9), delivery_method="pickup")
    assert evaluate_rules(shipped_rules(), context).action == "approve"
    shipped = _with(audit_context(address_orders=9), delivery_method="ship")
    assert [f.rule for f in evaluate_rules(shipped_rules(), shipped).fired] == ["address_velocity"]


def test_a_prepaid_business_order_is_not_held_for_credit():
    unpaid = audit_context(customer_type="b2b", total=500, credit_remaining=0)
    assert [f.rule for f in evaluate_rules(shipped_rules(), unpaid).fired] == ["over_credit"]
    prepaid = _with(
        audit_context(customer_type="b2b", total=500, credit_remaining=0), payment={"method": "card", "status": "paid"}
    )
    assert evaluate_rules(shipped_rules(), prepaid).action == "approve"


def test_buyers_of_a_business_account_may_share_an_office_ip():
    context = audit_context(customer_type="b2b", ip_orders=7)
    context["facts"]["credit"]["limit"] = 20_000
    assert evaluate_rules(shipped_rules(), context).action == "approve"
    context["facts"]["credit"]["limit"] = 0
    assert [f.rule for f in evaluate_rules(shipped_rules(), context).fired] == ["ip_velocity"]
