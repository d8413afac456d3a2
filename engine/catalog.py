"""Every activity the worker registers: which flows it serves, whether a step may call it, how it fails.

The worker registers an implementation under each name (``activities/registry.py``;
a test keeps the two equal). Validation uses this catalogue so that an unknown
name, an activity of the other kind of flow, or an unknown failure type is a
definition error rather than a workflow that retries for ever.
"""

from __future__ import annotations

from dataclasses import dataclass

# What a flow runs for: an order (the default) or a return. A flow says which with `serves:`.
FLOW_KINDS = ("order", "return")


@dataclass(frozen=True)
class ActivitySpec:
    name: str
    summary: str
    failures: tuple[str, ...] = ()
    serves: str = "order"
    # False for the activities the flow runtime calls itself (timeline, tasks, audit): no step names them.
    step: bool = True


ACTIVITIES: dict[str, ActivitySpec] = {
    spec.name: spec
    for spec in (
        ActivitySpec(
            "reserve_stock",
            "Allocate every line by the allocation definition in params.allocation (warehouse, lot, split) "
            "and reserve it; all lines or none. Short of stock: out_of_stock (when_short: backorder) "
            "or unallocatable (when_short: cancel).",
            failures=("out_of_stock", "unallocatable"),
        ),
        ActivitySpec("release_stock", "Release the order's open reservations."),
        ActivitySpec(
            "create_shipment",
            "Ship the reserved stock: one parcel per warehouse (params.apart: an expression over `line` that "
            "puts lines in a parcel of their own; params.merge_window: pack with a parcel of the same customer "
            "and address booked within it), carrier and price from the carriers definition params.carriers "
            "(default: default) unless params.carrier names one; each parcel gets a tracking number "
            "(from the carrier's API for an http adapter: carrier_failed when it refuses or answers "
            "otherwise than its mapping says, carrier_unavailable when it stays busy or down).",
            failures=("no_carrier", "nothing_to_ship", "carrier_failed", "carrier_unavailable"),
        ),
        ActivitySpec("mark_paid", "Record the payment that arrived with an event."),
        ActivitySpec(
            "notify",
            "Send the customer the notification of params.event (template notify_<event>, or params.template) "
            "by e-mail and signed webhook; on the timeline.",
        ),
        ActivitySpec(
            "cancel_payment",
            "Refund a paid order, void an unpaid authorisation, through the provider of its payment method "
            "(payments definition params.payments, default: default): payment_failed when the provider refuses "
            "or answers otherwise than its mapping says, payment_unavailable when it stays busy or down.",
            failures=("payment_failed", "payment_unavailable"),
        ),
        ActivitySpec("change_address", "Apply the shipping address of the address_changed event that arrived."),
        ActivitySpec("pick", "Pick the reserved items (automatic; use an approval step with scan for a person)."),
        ActivitySpec("check", "Check the picked items against the order (automatic)."),
        ActivitySpec("pack", "Pack the order's items (automatic)."),
        # The return flow's activities (flows/return.yaml): they act on a return, not an order.
        ActivitySpec(
            "issue_return_label",
            "Return: a return label from the carrier adapter (params.carrier; to "
            "params.warehouse or the warehouse the order shipped from).",
            serves="return",
        ),
        ActivitySpec(
            "notify_return",
            "Return: send the customer the notification of params.event "
            "(template notify_<event>), e.g. return_label, return_refunded.",
            serves="return",
        ),
        ActivitySpec(
            "reserve_exchange",
            "Return: reserve the replacement of an exchange now, under the exchange order's id (params.allocation).",
            failures=("out_of_stock",),
            serves="return",
        ),
        ActivitySpec(
            "release_exchange", "Return: give back the replacement held for an exchange that ends.", serves="return"
        ),
        ActivitySpec(
            "restock_return",
            "Return: resellable items back to stock (a `return` ledger movement; "
            "params.warehouse or where they left from), damaged ones written off with the QC reason.",
            serves="return",
        ),
        ActivitySpec(
            "refund_return",
            "Return: refund the items that came back through the payment adapter, never "
            "more than the order paid; the shipping fee when the policy tagged refund_shipping.",
            serves="return",
        ),
        ActivitySpec(
            "place_exchange",
            "Return: the exchange order for the replacement, through the standard "
            "intake and order flow; refused by intake: exchange_refused.",
            failures=("exchange_refused",),
            serves="return",
        ),
        # What the flow runtime itself calls around the steps.
        *(
            ActivitySpec(name, summary, serves="order", step=False)
            for name, summary in (
                ("audit_order", "An audit step: facts, the pinned rule set, the outcome on the order."),
                ("record_progress", "A timeline line and the order's new status."),
                ("open_task", "An approval step's task in the inbox."),
                ("close_task", "A task's decision, expiry or closing event."),
                ("escalate_task", "An undecided task handed to the escalation role."),
                ("record_approval", "The first approval of a four-eyes task."),
                ("push_status", "The order's new status to the channel's callback URL."),
                ("http_request", "An http step's request (any flow): its answer, typed failures for on_error."),
            )
        ),
        *(
            ActivitySpec(name, summary, serves="return", step=False)
            for name, summary in (
                ("audit_return", "A return flow's audit step: the return_policy rules."),
                ("await_return_stored", "Wait until the return's row is committed."),
                ("record_return_progress", "A line on the return's timeline and its new status."),
                ("open_return_task", "A return's approval step task in the inbox."),
                ("close_return_task", "A return task's decision (with QC) or expiry."),
                ("escalate_return_task", "An undecided return task handed to the escalation role."),
            )
        ),
    )
}


def step_activities(serves: str) -> dict[str, ActivitySpec]:
    """The activities an `activity` step of a flow of this kind may name."""
    return {name: spec for name, spec in ACTIVITIES.items() if spec.step and spec.serves == serves}


# Roles that may be named by approval steps.
ROLES = ("admin", "analyst", "operator", "channel")

# Outcomes of an audit step: the rule set's action.
AUDIT_ACTIONS = ("approve", "review", "reject")
