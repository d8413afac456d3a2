"""What-if of a flow: recorded orders replayed through a draft past the waits they passed, to the end or next wait."""

from __future__ import annotations

from engine.definitions import parse_published
from engine.interpreter import TIMEOUT
from engine.replay import TimelineLine, recorded_script
from engine.whatif import RecordedOrder, flow_whatif
from tests.engine.shipped import FLOW_FILE, read, replace_once

LIVE_TEXT = read(FLOW_FILE)
LIVE = parse_published(LIVE_TEXT)
ORDER = {
    "id": "o",
    "channel": "web",
    "external_id": "W-1",
    "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}],
    "total": 19.0,
    "payment": {"method": "card", "status": "paid"},
    "delivery_method": "ship",
}


def line(type_: str, step: str | None, **data) -> TimelineLine:
    return TimelineLine(type_, step, data)


# What production writes for a prepaid order up to its delivery wait.
SHIPPED = (
    line("audited", "audit", action="approve", fired=[]),
    line("stock_reserved", "reserve", allocations=[]),
    line("notification", "notify_confirmed", event="confirmed"),
    line("shipped", "ship", parcels=1),
    line("notification", "notify_shipped", event="shipped"),
)
DELIVERED = (
    *SHIPPED,
    line("event", "await_delivery", type="delivered", data={}),
    line("notification", "notify_delivered", event="delivered"),
    line("completed", "completed"),
)


def recorded(order_id: str, timeline: tuple[TimelineLine, ...], action: str = "approve", **order) -> RecordedOrder:
    return RecordedOrder(order_id, {**ORDER, "id": order_id, **order}, {}, action, timeline=timeline)


def draft(old: str, new: str):
    return parse_published(replace_once(LIVE_TEXT, old, new))


def test_a_waiting_order_is_walked_to_the_wait_it_has_not_passed_and_a_finished_one_to_its_end():
    report = flow_whatif(LIVE, LIVE, [recorded("waiting", SHIPPED), recorded("done", DELIVERED)], "live version v1")
    assert (report.considered, report.changed, report.unchanged) == (2, [], 2)
    assert (report.ended, report.waiting, report.failing) == (1, 1, 0)
    assert report.stops == {"await_delivery": 1, "completed": 1}
    assert report.summary() == (
        "0 of 2 orders would take another path (compared with the live version v1); "
        "with the draft 1 would end, 1 would wait"
    )


def test_a_draft_that_changes_what_happens_after_a_passed_wait_reports_the_changed_path():
    # The draft asks a person to confirm every delivery.
    at_the_wait = "      delivered: notify_delivered\n      delivery_exception: delivery_exception\n"
    after = "    on_timeout: delivery_check\n\n  - id: out_for_delivery"
    confirm = draft(at_the_wait + after, at_the_wait.replace("notify_delivered", "delivery_check") + after)
    report = flow_whatif(confirm, LIVE, [recorded("waiting", SHIPPED), recorded("done", DELIVERED)], "live version v1")
    (change,) = report.changed
    assert change.order_id == "done"
    assert change.before[-3:] == ("await_delivery", "notify_delivered", "completed")
    assert change.after[-2:] == ("await_delivery", "delivery_check")
    assert (change.before_outcome, change.after_outcome) == ("completed", "waiting at delivery_check")
    assert (report.ended, report.waiting, report.unchanged) == (0, 2, 1)
    assert report.summary().startswith("1 of 2 orders would take another path")


def test_decisions_taken_escalations_and_four_eyes_are_replayed():
    held = (
        line("audited", "audit", action="review", fired=[]),
        line("task_opened", "manual_review", task_id="t1"),
        line("task_escalated", "manual_review", task_id="t1"),
        line("task_approved_once", "manual_review", task_id="t1"),
        line("task_decided", "manual_review", task_id="t1", decision="approve"),
        *SHIPPED[1:],
    )
    big = recorded("big", held, "review", total=20000.0)
    report = flow_whatif(LIVE, LIVE, [big], "v1")
    assert report.stops == {"await_delivery": 1}
    # Without the second approval the four-eyes task would still wait: the replay stops there.
    once = recorded("once", held[:4], "review", total=20000.0)
    assert flow_whatif(LIVE, LIVE, [once], "v1").stops == {"manual_review": 1}
    # A draft that rejects what the first approver approved: the recorded decision now leads elsewhere.
    strict = draft(
        "    on:\n      approve: reserve\n      reject: rejected\n",
        "    on:\n      approve: rejected\n      reject: rejected\n",
    )
    (change,) = flow_whatif(strict, LIVE, [big], "v1").changed
    assert change.after == ("audit", "manual_review", "rejected") and change.after_outcome == "rejected"


def test_timeouts_failures_and_events_of_the_timeline_are_replayed():
    backordered = (
        line("audited", "audit", action="approve"),
        line("out_of_stock", "reserve"),
        line("waiting", "backorder"),
        line("event", "backorder", type="stock_received", data={"sku": "MUG-LOGO"}),
        *SHIPPED[1:],
    )
    unpaid = (
        line("audited", "audit", action="approve"),
        line("stock_reserved", "reserve"),
        line("waiting", "await_payment"),
        line("timed_out", "await_payment"),
        line("stock_released", "release_unpaid"),
    )
    orders = [recorded("back", backordered), recorded("unpaid", unpaid, payment={"status": "pending"})]
    report = flow_whatif(LIVE, LIVE, orders, "v1")
    assert report.changed == [] and report.stops == {"await_delivery": 1, "cancelled": 1}
    # A draft that no longer handles out_of_stock fails the backordered order; the unpaid one waits longer.
    no_backorder = draft("      out_of_stock: backorder      # when_short: backorder\n", "")
    report = flow_whatif(no_backorder, LIVE, orders, "v1")
    (change,) = report.changed
    assert change.order_id == "back" and change.after == ("audit", "reserve")
    assert change.after_outcome == (
        "fails: step 'reserve': activity 'reserve_stock' failed with 'out_of_stock', which the flow does not handle"
    )
    assert report.failing == 1 and report.summary().endswith("1 would fail")


def test_the_script_read_from_a_timeline():
    held = (
        line("audited", "audit", action="review"),
        line("task_escalated", "manual_review"),
        line("task_decided", "manual_review", decision="approve"),
        line("out_of_stock", "reserve"),
        line("event", "backorder", type="stock_received", data={"sku": "X"}),
        line("stock_reserved", "reserve", allocations=[1]),
        line("waiting", "await_payment"),
        line("timed_out", "await_payment"),
        line("task_closed", "delivery_exception", event="delivered"),
        line("webhook_failed", "reserve"),
    )
    script = recorded_script(held, [LIVE], "review")
    assert script.audit == {"audit": ["review"]} and script.audit_default == "review"
    assert script.decisions == {"manual_review": [TIMEOUT, "approve"]}
    assert script.events == [{"type": "stock_received", "data": {"sku": "X"}}, {"type": "delivered", "data": {}}]
    assert script.failures == {"reserve": ["out_of_stock", None]}
    assert script.results == {"reserve": {"allocations": [1]}}
    assert script.timeouts == {"await_payment": [True]} and script.stop_at_waits


def test_a_new_flow_with_nothing_live_reports_where_orders_would_go_without_comparing():
    report = flow_whatif(LIVE, None, [recorded("done", DELIVERED)])
    assert (report.changed, report.ended, report.baseline) == ([], 1, "")
    assert report.summary() == "0 of 1 orders would take another path; with the draft 1 would end, 0 would wait"
