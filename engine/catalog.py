"""The activities a flow's `activity` steps may call, and how each can fail.

The worker registers an implementation under each name (see ``activities/``);
validation uses this catalogue so that an unknown name or failure type is a
definition error rather than a stuck workflow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActivitySpec:
    name: str
    summary: str
    failures: tuple[str, ...] = ()


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
            "(default: default) unless params.carrier names one; each parcel gets a tracking number.",
            failures=("no_carrier", "nothing_to_ship"),
        ),
        ActivitySpec("mark_paid", "Record the payment that arrived with an event."),
        ActivitySpec(
            "notify",
            "Send the customer the notification of params.event (template notify_<event>, or params.template) "
            "by e-mail and signed webhook; on the timeline.",
        ),
        ActivitySpec("cancel_payment", "Refund a paid order, void an unpaid authorisation (payment adapter)."),
        ActivitySpec("change_address", "Apply the shipping address of the address_changed event that arrived."),
        ActivitySpec("pick", "Pick the reserved items (automatic; use an approval step with scan for a person)."),
        ActivitySpec("check", "Check the picked items against the order (automatic)."),
        ActivitySpec("pack", "Pack the order's items (automatic)."),
        # The return flow's activities (flows/return.yaml): they act on a return, not an order.
        ActivitySpec("issue_return_label", "Return: a return label from the carrier adapter (params.carrier; to "
                     "params.warehouse or the warehouse the order shipped from)."),
        ActivitySpec("notify_return", "Return: send the customer the notification of params.event "
                     "(template notify_<event>), e.g. return_label, return_refunded."),
        ActivitySpec("reserve_exchange", "Return: reserve the replacement of an exchange now, under the exchange "
                     "order's id (params.allocation).", failures=("out_of_stock",)),
        ActivitySpec("release_exchange", "Return: give back the replacement held for an exchange that ends."),
        ActivitySpec("restock_return", "Return: resellable items back to stock (a `return` ledger movement; "
                     "params.warehouse or where they left from), damaged ones written off with the QC reason."),
        ActivitySpec("refund_return", "Return: refund the items that came back through the payment adapter, never "
                     "more than the order paid; the shipping fee when the policy tagged refund_shipping."),
        ActivitySpec("place_exchange", "Return: the exchange order for the replacement, through the standard "
                     "intake and order flow; refused by intake: exchange_refused.", failures=("exchange_refused",)),
    )
}

# Roles that may be named by approval steps.
ROLES = ("admin", "analyst", "operator", "channel")

# Outcomes of an audit step: the rule set's action.
AUDIT_ACTIONS = ("approve", "review", "reject")
