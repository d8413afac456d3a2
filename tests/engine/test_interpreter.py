"""The interpreter's step logic on the shipped order flow, without Temporal."""

from __future__ import annotations

import pytest

from engine.definitions import compile_text
from engine.expressions import ExpressionError
from engine.flows import ActivityStep, EndStep, Flow
from engine.interpreter import (
    TIMEOUT,
    Event,
    FlowError,
    TaskState,
    context,
    decision_problem,
    evaluate_switch,
    first_awaited_event,
    next_step,
)
from tests.engine.shipped import FLOW_FILE, read


@pytest.fixture(scope="module")
def flow() -> Flow:
    return compile_text(read(FLOW_FILE))


def order_ctx(payment_status: str | None = "pending", delivery_method: str | None = None) -> dict:
    order = {"total": 120, "payment": {"status": payment_status} if payment_status else {}}
    if delivery_method is not None:
        order["delivery_method"] = delivery_method
    return context(order, None, {}, {})


def go(flow: Flow, step_id: str, outcome: str | None, ctx: dict | None = None) -> str:
    return next_step(flow, flow.steps[step_id], outcome, ctx)


# ---- next_step, per step type --------------------------------------------------


WAYS_ON = {
    "activity done": ("reserve", None, "payment_check"),
    "activity failure handled": ("reserve", "out_of_stock", "backorder"),
    "activity done, shipped": ("ship", None, "notify_shipped"),
    "activity without on_error done": ("notify_shipped", None, "await_delivery"),
    "no carrier for the parcel": ("ship", "no_carrier", "shipping_problem"),
    "payment recorded": ("record_payment", None, "delivery_method"),
    "handed over in the store": ("hand_over", None, "completed"),
    "audit approve": ("audit", "approve", "reserve"),
    "audit review": ("audit", "review", "manual_review"),
    "audit reject": ("audit", "reject", "rejected"),
    "approval approve": ("manual_review", "approve", "reserve"),
    "approval reject": ("manual_review", "reject", "rejected"),
    "approval timeout": ("manual_review", TIMEOUT, "review_expired"),
    "overdue approval delivered": ("delivery_check", "delivered", "notify_delivered"),
    "overdue approval lost": ("delivery_check", "lost", "lost"),
    "overdue approval timeout": ("delivery_check", TIMEOUT, "lost"),
    "wait payment received": ("await_payment", "payment_received", "record_payment"),
    "wait cancel requested": ("await_payment", "cancel_requested", "release_cancelled"),
    "wait timeout": ("await_payment", TIMEOUT, "release_unpaid"),
    "wait delivered": ("await_delivery", "delivered", "notify_delivered"),
    "tracking: in transit waits on": ("await_delivery", "in_transit", "await_delivery"),
    "tracking: out for delivery": ("await_delivery", "out_for_delivery", "out_for_delivery"),
    "tracking: exception opens a task": ("await_delivery", "delivery_exception", "delivery_exception"),
    "tracking: delivered after going out": ("out_for_delivery", "delivered", "notify_delivered"),
    "exception resolved by a person": ("delivery_exception", "resolved", "await_delivery"),
    "exception task closed by a delivery": ("delivery_exception", "delivered", "notify_delivered"),
    "cancel while held": ("manual_review", "cancel_requested", "release_cancelled"),
    "address change while unpaid": ("await_payment", "address_changed", "change_address"),
    "new address: released, then audited again": ("readdress_release", None, "audit"),
    "wait delivery timeout": ("await_delivery", TIMEOUT, "delivery_check"),
}


@pytest.mark.parametrize("step_id, outcome, expected", WAYS_ON.values(), ids=WAYS_ON.keys())
def test_next_step(flow, step_id, outcome, expected):
    assert go(flow, step_id, outcome) == expected


DEAD_ENDS = {
    "activity failure not handled": (
        "reserve",
        "warehouse_closed",
        "step 'reserve': activity 'reserve_stock' failed with 'warehouse_closed', which the flow does not handle",
    ),
    "activity with no on_error fails": (
        "ship",
        "out_of_stock",
        "step 'ship': activity 'create_shipment' failed with 'out_of_stock', which the flow does not handle",
    ),
    "unknown audit action": ("audit", "hold", "step 'audit' has no way on for 'hold'"),
    "audit cannot time out": ("audit", TIMEOUT, "step 'audit' has no way on for 'timeout'"),
    "unknown decision": ("manual_review", "escalate", "step 'manual_review' has no way on for 'escalate'"),
    "event the wait does not expect": (
        "await_payment",
        "delivered",
        "step 'await_payment' has no way on for 'delivered'",
    ),
    "end step": ("completed", None, "step 'completed' is an end step"),
}


@pytest.mark.parametrize("step_id, outcome, message", DEAD_ENDS.values(), ids=DEAD_ENDS.keys())
def test_next_step_refuses(flow, step_id, outcome, message):
    with pytest.raises(FlowError) as caught:
        go(flow, step_id, outcome)
    assert str(caught.value) == message


SWITCH_CASES = {
    "prepaid": (order_ctx("paid"), "delivery_method"),
    "prepaid pickup": (order_ctx("paid", "pickup"), "delivery_method"),
    "pending payment": (order_ctx("pending"), "await_payment"),
    "no payment status": (order_ctx(None), "await_payment"),
    "no order in the context": ({}, "await_payment"),
    "no context at all": (None, "await_payment"),
}


@pytest.mark.parametrize("ctx, expected", SWITCH_CASES.values(), ids=SWITCH_CASES.keys())
def test_switch(flow, ctx, expected):
    assert go(flow, "payment_check", None, ctx) == expected


def test_switch_ignores_the_outcome(flow):
    assert go(flow, "payment_check", "anything", order_ctx("paid")) == "delivery_method"


DELIVERY_CASES = {
    "pickup": (order_ctx("paid", "pickup"), "hand_over"),
    "ship": (order_ctx("paid", "ship"), "notify_confirmed"),
    "unknown method ships": (order_ctx("paid", "drone"), "notify_confirmed"),
    "no delivery method": (order_ctx("paid"), "notify_confirmed"),
    "pickup does not depend on the payment": (order_ctx("pending", "pickup"), "hand_over"),
    "no order in the context": ({}, "notify_confirmed"),
    "no context at all": (None, "notify_confirmed"),
}


@pytest.mark.parametrize("ctx, expected", DELIVERY_CASES.values(), ids=DELIVERY_CASES.keys())
def test_delivery_method_switch(flow, ctx, expected):
    assert go(flow, "delivery_method", None, ctx) == expected


def test_hand_over_creates_a_store_pickup_shipment(flow):
    assert flow.steps["hand_over"] == ActivityStep(
        id="hand_over",
        status="handed_over",
        activity="create_shipment",
        next="completed",
        params={"carrier": "store_pickup"},
    )


SWITCH_FLOW = """
kind: flow
name: routing
form: order
start: route
steps:
  - id: route
    type: switch
    cases:
      - {when: "order.total > 1000", next: big}
      - {when: "order.total > 100", next: medium}
      - {when: "events.payment_received.amount == order.total", next: paid}
    default: small
  - {id: big, type: end, status: big}
  - {id: medium, type: end, status: medium}
  - {id: paid, type: end, status: paid}
  - {id: small, type: end, status: small}
"""


@pytest.mark.parametrize(
    "total, events, expected",
    [(5000, {}, "big"), (500, {}, "medium"), (50, {"payment_received": {"amount": 50}}, "paid"), (50, {}, "small")],
)
def test_switch_takes_the_first_true_case(total, events, expected):
    routing = compile_text(SWITCH_FLOW)
    ctx = context({"total": total}, None, {}, events)
    assert next_step(routing, routing.steps["route"], None, ctx) == expected


def test_switch_condition_that_fails_when_evaluated_counts_as_false_and_is_reported():
    routing = compile_text(SWITCH_FLOW)
    ctx = context({"total": "a lot"}, None, {}, {})
    target, problems = evaluate_switch(routing.steps["route"], ctx)
    assert target == next_step(routing, routing.steps["route"], None, ctx)
    assert problems[0] == "expression 'order.total > 1000' failed: vmError: Opcode Compare: Unsupported type"


def test_a_condition_that_is_not_true_or_false_is_an_error_not_a_silent_false():
    from engine.expressions import compile_expression

    with pytest.raises(ExpressionError) as caught:
        compile_expression("order.total").is_true({"order": {"total": 5.0}})
    assert str(caught.value) == "condition 'order.total' gave 5, not true or false"


def test_context_names():
    assert context({"id": 1}, None, {"reserve": {"w": "A"}}, {"paid": {}}) == {
        "order": {"id": 1},
        "audit": {},
        "results": {"reserve": {"w": "A"}},
        "events": {"paid": {}},
    }


# ---- first_awaited_event --------------------------------------------------------


def events(*types: str) -> list[Event]:
    return [Event(t, {"n": i}) for i, t in enumerate(types)]


@pytest.mark.parametrize(
    "received, expected",
    [
        ((), None),
        (("delivered",), None),
        (("payment_received",), 0),
        (("delivered", "shipped", "payment_received"), 2),
        (("cancel_requested", "payment_received"), 0),
        (("payment_received", "cancel_requested"), 0),
    ],
)
def test_first_awaited_event(flow, received, expected):
    assert first_awaited_event(flow.steps["await_payment"], events(*received)) == expected


# ---- decision_problem -----------------------------------------------------------


OPEN = TaskState("open")

DECISIONS = {
    "already decided": (
        TaskState("decided"),
        "approve",
        "operator",
        "",
        ("already_decided", "task is already decided"),
    ),
    "already expired": (
        TaskState("expired"),
        "approve",
        "operator",
        "",
        ("already_decided", "task is already expired"),
    ),
    "decided beats wrong role": (
        TaskState("decided"),
        "hold",
        "channel",
        "",
        ("already_decided", "task is already decided"),
    ),
    "wrong role": (OPEN, "approve", "analyst", "", ("forbidden", "only role 'operator' may decide this task")),
    "channel may not decide": (
        OPEN,
        "approve",
        "channel",
        "",
        ("forbidden", "only role 'operator' may decide this task"),
    ),
    "unknown decision": (
        OPEN,
        "hold",
        "operator",
        "",
        ("unknown_decision", "unknown decision 'hold'; choose one of: approve, reject"),
    ),
    "reject without comment": (OPEN, "reject", "operator", "", ("comment_required", "a comment is required to reject")),
    "reject with a blank comment": (
        OPEN,
        "reject",
        "operator",
        "  \n",
        ("comment_required", "a comment is required to reject"),
    ),
    "operator approves": (OPEN, "approve", "operator", "", None),
    "operator rejects with a comment": (OPEN, "reject", "operator", "address is a parcel locker", None),
    "admin may decide": (OPEN, "approve", "admin", "", None),
    "admin still needs a comment": (
        OPEN,
        "reject",
        "admin",
        "",
        ("comment_required", "a comment is required to reject"),
    ),
}


@pytest.mark.parametrize("task, decision, role, comment, expected", DECISIONS.values(), ids=DECISIONS.keys())
def test_decision_problem(flow, task, decision, role, comment, expected):
    assert decision_problem(flow.steps["manual_review"], task, decision, role, comment) == expected


def test_no_comment_needed_where_the_step_requires_none(flow):
    assert decision_problem(flow.steps["delivery_check"], OPEN, "lost", "operator", "") is None


# ---- walking the shipped flow ---------------------------------------------------


def walk(
    flow: Flow,
    outcomes: dict[str, str],
    payment_status: str = "pending",
    delivery_method: str | None = None,
) -> list[str]:
    """Step ids from start to an end step; steps not in ``outcomes`` complete with None."""
    ctx = order_ctx(payment_status, delivery_method)
    step = flow.steps[flow.start]
    path = [step.id]
    while not isinstance(step, EndStep):
        assert len(path) < 50, f"flow does not end: {path}"
        step = flow.steps[next_step(flow, step, outcomes.get(step.id), ctx)]
        path.append(step.id)
    return path


# Orders without delivery_method (None) take the switch's default: ship.
PATHS = {
    "happy prepaid": (
        {"audit": "approve", "await_delivery": "delivered"},
        "paid",
        None,
        [
            "audit",
            "reserve",
            "payment_check",
            "delivery_method",
            "notify_confirmed",
            "ship",
            "notify_shipped",
            "await_delivery",
            "notify_delivered",
            "completed",
        ],
        "completed",
    ),
    "prepaid, shipped on request": (
        {"audit": "approve", "await_delivery": "delivered"},
        "paid",
        "ship",
        [
            "audit",
            "reserve",
            "payment_check",
            "delivery_method",
            "notify_confirmed",
            "ship",
            "notify_shipped",
            "await_delivery",
            "notify_delivered",
            "completed",
        ],
        "completed",
    ),
    "paid at the store till, picked up": (
        {"audit": "approve"},
        "paid",
        "pickup",
        ["audit", "reserve", "payment_check", "delivery_method", "hand_over", "completed"],
        "completed",
    ),
    "paid after the order, picked up": (
        {"audit": "approve", "await_payment": "payment_received"},
        "pending",
        "pickup",
        [
            "audit",
            "reserve",
            "payment_check",
            "await_payment",
            "record_payment",
            "delivery_method",
            "hand_over",
            "completed",
        ],
        "completed",
    ),
    "held, then approved, picked up": (
        {"audit": "review", "manual_review": "approve"},
        "paid",
        "pickup",
        ["audit", "manual_review", "reserve", "payment_check", "delivery_method", "hand_over", "completed"],
        "completed",
    ),
    "pickup, but out of stock: backorder expires": (
        {"audit": "approve", "reserve": "out_of_stock", "backorder": TIMEOUT},
        "paid",
        "pickup",
        ["audit", "reserve", "backorder", "backorder_expired", "cancelled"],
        "cancelled",
    ),
    "pickup, unpaid timeout": (
        {"audit": "approve", "await_payment": TIMEOUT},
        "pending",
        "pickup",
        [
            "audit",
            "reserve",
            "payment_check",
            "await_payment",
            "release_unpaid",
            "cancel_payment",
            "notify_cancelled",
            "cancelled",
        ],
        "cancelled",
    ),
    "paid after the order": (
        {"audit": "approve", "await_payment": "payment_received", "await_delivery": "delivered"},
        "pending",
        None,
        [
            "audit",
            "reserve",
            "payment_check",
            "await_payment",
            "record_payment",
            "delivery_method",
            "notify_confirmed",
            "ship",
            "notify_shipped",
            "await_delivery",
            "notify_delivered",
            "completed",
        ],
        "completed",
    ),
    "held, then approved": (
        {"audit": "review", "manual_review": "approve", "await_delivery": "delivered"},
        "paid",
        None,
        [
            "audit",
            "manual_review",
            "reserve",
            "payment_check",
            "delivery_method",
            "notify_confirmed",
            "ship",
            "notify_shipped",
            "await_delivery",
            "notify_delivered",
            "completed",
        ],
        "completed",
    ),
    "held, then rejected": (
        {"audit": "review", "manual_review": "reject"},
        "paid",
        None,
        ["audit", "manual_review", "rejected"],
        "rejected",
    ),
    "held, nobody decides": (
        {"audit": "review", "manual_review": TIMEOUT},
        "paid",
        None,
        ["audit", "manual_review", "review_expired"],
        "cancelled",
    ),
    "rejected by the rules": ({"audit": "reject"}, "paid", None, ["audit", "rejected"], "rejected"),
    "out of stock: backorder cancelled": (
        {"audit": "approve", "reserve": "out_of_stock", "backorder": "cancel_requested"},
        "paid",
        None,
        ["audit", "reserve", "backorder", "backorder_cancelled", "cancelled"],
        "cancelled",
    ),
    "cannot be allocated (when_short: cancel)": (
        {"audit": "approve", "reserve": "unallocatable"},
        "paid",
        None,
        ["audit", "reserve", "out_of_stock"],
        "out_of_stock",
    ),
    "unpaid timeout": (
        {"audit": "approve", "await_payment": TIMEOUT},
        "pending",
        None,
        [
            "audit",
            "reserve",
            "payment_check",
            "await_payment",
            "release_unpaid",
            "cancel_payment",
            "notify_cancelled",
            "cancelled",
        ],
        "cancelled",
    ),
    "cancelled while unpaid": (
        {"audit": "approve", "await_payment": "cancel_requested"},
        "pending",
        None,
        [
            "audit",
            "reserve",
            "payment_check",
            "await_payment",
            "release_cancelled",
            "cancel_payment",
            "notify_cancelled",
            "cancelled",
        ],
        "cancelled",
    ),
    "delivery overdue, then delivered": (
        {"audit": "approve", "await_delivery": TIMEOUT, "delivery_check": "delivered"},
        "paid",
        None,
        [
            "audit",
            "reserve",
            "payment_check",
            "delivery_method",
            "notify_confirmed",
            "ship",
            "notify_shipped",
            "await_delivery",
            "delivery_check",
            "notify_delivered",
            "completed",
        ],
        "completed",
    ),
    "delivery overdue, nobody answers": (
        {"audit": "approve", "await_delivery": TIMEOUT, "delivery_check": TIMEOUT},
        "paid",
        None,
        [
            "audit",
            "reserve",
            "payment_check",
            "delivery_method",
            "notify_confirmed",
            "ship",
            "notify_shipped",
            "await_delivery",
            "delivery_check",
            "lost",
        ],
        "lost_in_transit",
    ),
}


@pytest.mark.parametrize(
    "outcomes, payment, delivery, expected_path, final_status",
    PATHS.values(),
    ids=PATHS.keys(),
)
def test_walk_shipped_flow(flow, outcomes, payment, delivery, expected_path, final_status):
    path = walk(flow, outcomes, payment, delivery)
    assert path == expected_path
    assert flow.steps[path[-1]].status == final_status


def test_walk_without_an_audit_outcome_is_refused(flow):
    with pytest.raises(FlowError, match=r"^step 'audit' has no way on for None$"):
        walk(flow, {})
