"""Migration plans: which waiting steps of a flow version move to another version, where, and why not."""

from __future__ import annotations

from pathlib import Path

from engine.definitions import compile_text, validate_text
from engine.migration import moved_deadline, plan_migration

ROOT = Path(__file__).resolve().parents[2]
ORDER_TEXT = (ROOT / "definitions" / "flows" / "order.yaml").read_text(encoding="utf-8")
RETURN_TEXT = (ROOT / "definitions" / "flows" / "return.yaml").read_text(encoding="utf-8")
FRAUD_CHECK = """\
  - id: fraud_check
    type: activity
    activity: notify
    params: {event: confirmed}
    next: record_payment

  - id: record_payment
"""


def order_v2(extra: str = "") -> str:
    """v2 of the shipped order flow: a longer payment wait and a new step after the payment."""
    text = ORDER_TEXT.replace("    timeout: 3d\n", "    timeout: 5d\n", 1)
    text = text.replace("payment_received: record_payment", "payment_received: fraud_check", 1)
    text = text.replace("  - id: record_payment\n", FRAUD_CHECK, 1)
    return text + extra


def test_the_shipped_order_flow_moves_every_waiting_step_to_a_v2_with_a_longer_wait_and_a_new_step():
    plan = plan_migration(compile_text(ORDER_TEXT), compile_text(order_v2()))
    payment = plan.step("await_payment")
    assert payment is not None and payment.movable and payment.target == "await_payment"
    assert payment.timers == "keep" and payment.notes == ()
    waits = {p.source for p in plan.movable}
    assert {"await_payment", "backorder", "manual_review"} <= waits
    assert all(p.kind in ("wait", "approval") for p in plan.movable)
    reserve = plan.step("reserve")
    assert reserve is not None and not reserve.movable
    assert reserve.reason == "not a safe point: an instance moves only while it waits (activity step)"


def test_a_step_the_new_version_removed_is_blocked_with_the_reason_and_a_mapping_unblocks_it():
    removed = ORDER_TEXT.replace("      out_of_stock: backorder      # when_short: backorder\n", "")
    start = removed.index("  - id: backorder\n")
    end = removed.index("  - id: backorder_expired\n")
    removed = removed[:start] + removed[end:]
    # backorder_expired / backorder_cancelled stay reachable through nothing: drop the check by mapping only.
    target = compile_text(_without_unreachable(removed))
    plan = plan_migration(compile_text(ORDER_TEXT), target)
    blocked = plan.step("backorder")
    assert blocked is not None and not blocked.movable
    assert blocked.reason == "the new version has no step 'backorder'; map it in its migrate: section"

    mapped = (
        _without_unreachable(removed) + "\nmigrate:\n  steps:\n    backorder: {to: await_payment, timers: restart}\n"
    )
    plan = plan_migration(compile_text(ORDER_TEXT), compile_text(mapped))
    moved = plan.step("backorder")
    assert moved is not None and moved.movable and moved.target == "await_payment" and moved.timers == "restart"
    assert "no longer reacts to stock_received" in moved.notes


def _without_unreachable(text: str) -> str:
    for step in ("backorder_expired", "backorder_cancelled"):
        start = text.index(f"  - id: {step}\n")
        rest = text[start + 1 :]
        end = rest.find("\n  - id: ")
        text = text[:start] + (rest[end + 1 :] if end >= 0 else "")
    return text


def test_a_type_change_and_a_lost_decision_block_the_step():
    as_wait = ORDER_TEXT.replace(
        "  - id: await_payment\n    type: wait\n", "  - id: await_payment_old\n    type: wait\n", 1
    ).replace("default: await_payment\n", "default: await_payment_old\n")
    as_wait += "\nmigrate:\n  steps:\n    manual_review: await_payment_old\n"
    plan = plan_migration(compile_text(ORDER_TEXT), compile_text(as_wait))
    review = plan.step("manual_review")
    assert review is not None and not review.movable
    assert review.reason == "'manual_review' is an approval step and 'await_payment_old' is a wait step"
    payment = plan.step("await_payment")
    assert payment is not None and not payment.movable

    no_reject = ORDER_TEXT.replace("      reject: rejected\n    events:", "    events:", 1).replace(
        "    comment_required: [reject]\n", "", 1
    )
    review = plan_migration(compile_text(ORDER_TEXT), compile_text(no_reject)).step("manual_review")
    assert review is not None and not review.movable
    assert review.reason == "the open task offers decisions 'manual_review' does not take: reject"


def test_timers_keep_the_original_deadline_or_restart_with_the_new_timeout():
    source, target = compile_text(ORDER_TEXT), compile_text(order_v2())
    keep = plan_migration(source, target).step("await_payment")
    assert keep is not None
    assert moved_deadline(keep, target, deadline=1000.0, now=400.0) == 1000.0
    restarting = compile_text(order_v2("\nmigrate:\n  timers: restart\n"))
    restart = plan_migration(source, restarting).step("await_payment")
    assert restart is not None and restart.timers == "restart"
    assert moved_deadline(restart, restarting, deadline=1000.0, now=400.0) == 400.0 + 5 * 86400


def test_the_return_flow_parcel_wait_moves_and_another_flow_never_does():
    reminded = RETURN_TEXT.replace(
        "    timeout: 7d\n    on:\n      parcel_received", "    timeout: 9d\n    on:\n      parcel_received", 1
    )
    plan = plan_migration(compile_text(RETURN_TEXT), compile_text(reminded))
    parcel = plan.step("await_parcel")
    assert parcel is not None and parcel.movable and parcel.target == "await_parcel"
    other = plan_migration(compile_text(RETURN_TEXT), compile_text(ORDER_TEXT))
    assert not other.movable and other.steps[0].reason == "flow 'return' cannot move to flow 'order'"


def test_a_migrate_section_naming_an_unknown_step_is_a_definition_error_with_its_path():
    errors = validate_text(order_v2("\nmigrate:\n  steps:\n    backorder: {to: await_paymnt}\n")).errors
    assert [(e.path, e.message) for e in errors] == [
        ("$.migrate.steps.backorder.to", "unknown step 'await_paymnt' (did you mean 'await_payment'?)")
    ]
    errors = validate_text(order_v2("\nmigrate:\n  timers: later\n")).errors
    assert [e.path for e in errors] == ["$.migrate.timers"]
