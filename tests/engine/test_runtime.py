"""The one interpreter with simulated effects: what stored test cases and what-if see."""

from __future__ import annotations

from pathlib import Path

from engine.definitions import parse_published
from engine.testcases import example_order, run_flow_case, walk_flow

ROOT = Path(__file__).resolve().parents[2]
ORDER_FLOW = parse_published((ROOT / "definitions" / "flows" / "order.yaml").read_text(encoding="utf-8"))
RETURN_FLOW = parse_published((ROOT / "definitions" / "flows" / "return.yaml").read_text(encoding="utf-8"))
FOUR_EYES = {"lines": [{"sku": "LAPTOP-14", "qty": 9, "price": 1299}]}


def test_a_stored_case_scripts_escalation_four_eyes_failures_and_events_and_checks_activities():
    case = {
        "name": "four-eyes after an escalation, then backordered",
        "order": FOUR_EYES,
        "audit": "review",
        "decisions": {"manual_review": ["timeout", "approve", "approve"]},
        "failures": {"reserve": ["out_of_stock"]},
        "events": ["stock_received", "delivered"],
        "expect": {
            "status": "completed",
            "activities": ["reserve_stock", "reserve_stock", "notify", "create_shipment", "notify", "notify"],
        },
    }
    result = run_flow_case(ORDER_FLOW, case, 0)
    assert result.passed, result.detail
    assert result.outcome["path"][:5] == ["audit", "manual_review", "reserve", "backorder", "reserve"]


def test_one_approval_of_a_four_eyes_task_is_not_enough():
    walk = walk_flow(ORDER_FLOW, example_order(FOUR_EYES), "review", {"manual_review": ["approve"]})
    assert walk.path == ("audit", "manual_review", "review_expired")
    assert "record_approval" in walk.activities and walk.status == "cancelled"


def test_an_event_closes_an_approval_as_in_production():
    walk = walk_flow(ORDER_FLOW, example_order({}), "review", events=["cancel_requested"])
    assert walk.path[:3] == ("audit", "manual_review", "release_cancelled")
    assert walk.status == "cancelled"


def test_an_order_update_is_seen_by_later_switches():
    walk = walk_flow(
        ORDER_FLOW,
        example_order({"payment": {"status": "pending"}}),
        events=["address_changed"],
        results={"change_address": {"order_update": {"payment": {"status": "paid"}}}},
        audit=["approve", "approve"],
    )
    assert walk.path[:9] == (
        "audit",
        "reserve",
        "payment_check",
        "await_payment",
        "change_address",
        "readdress_release",
        "audit",
        "reserve",
        "payment_check",
    )
    assert walk.path[9] == "delivery_method"  # paid after the update: no second payment wait


def test_an_unhandled_failure_is_a_problem_naming_the_step():
    walk = walk_flow(ORDER_FLOW, example_order({}), failures={"ship": "boom"})
    assert walk.problem == "step 'ship': activity 'create_shipment' failed with 'boom', which the flow does not handle"
    assert not walk.ended


def test_what_if_stops_at_the_first_wait_with_nothing_scripted():
    walk = walk_flow(ORDER_FLOW, example_order({"payment": {"status": "pending"}}), stop_at_waits=True)
    assert walk.path[-1] == "await_payment" and not walk.ended


def test_a_return_flow_case_sees_the_return():
    walk = walk_flow(
        RETURN_FLOW,
        {"id": "o"},
        audit="approve",
        decisions={"inspect": "inspected"},
        events=["parcel_received"],
        extra={"return": {"kind": "refund"}},
    )
    assert walk.path[-3:] == ("refund", "notify_refunded", "completed")
    assert "refund_return" in walk.activities and "audit_return" in walk.activities
