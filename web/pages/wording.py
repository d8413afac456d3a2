"""Codes as words on the pages: statuses, audit actions, timeline types, and amounts with their currency.

The templates use the ``words`` and ``amount`` filters (registered in web/pages/rendering.py);
a code with no entry reads as itself with spaces ("out_of_stock" -> "Out of stock").
"""

from __future__ import annotations

from typing import Any

from services.money import currency_of, money_text

WORDS = {
    # orders
    "received": "Received",
    "audited": "Checked by the audit rules",
    "on_hold": "Held for review",
    "held": "Held by hand",
    "reserved": "Stock reserved",
    "awaiting_payment": "Waiting for payment",
    "paid": "Paid",
    "backordered": "Waiting for stock",
    "handed_over": "Handed over in store",
    "shipped": "Shipped",
    "out_for_delivery": "Out for delivery",
    "delivery_exception": "Delivery problem",
    "shipping_problem": "Cannot be shipped",
    "delivered": "Delivered",
    "completed": "Completed",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "out_of_stock": "Out of stock",
    "lost_in_transit": "Lost in transit",
    "failed": "Failed: needs a person",
    # returns
    "requested": "Return requested",
    "in_review": "Return in review",
    "approved": "Approved",
    "label_issued": "Return label sent",
    "awaiting_parcel": "Waiting for the return parcel",
    "inspecting": "Quality check",
    "inspected": "Checked",
    "refunded": "Refunded",
    "exchanged": "Exchanged",
    "expired": "Expired",
    # tasks
    "open": "Open",
    "decided": "Decided",
    # audit actions and decisions
    "approve": "Approved",
    "review": "Held for review",
    "reject": "Rejected",
    "tag": "Tagged",
    # timeline lines
    "waiting": "Waiting",
    "event": "Event received",
    "timed_out": "Timed out",
    "notification": "Customer notified",
    "note": "Internal note",
    "status": "Status",
    # events a person sends
    "cancel_requested": "Cancellation asked",
    "address_changed": "New address",
    "payment_received": "Payment recorded",
    "hold_requested": "Hold asked",
    "release_requested": "Release asked",
}


def words(code: Any) -> str:
    """A status or code for people."""
    text = str(code or "")
    return WORDS.get(text) or text.replace("_", " ").capitalize()


def amount(value: float | int | None, document: dict[str, Any] | str | None = None) -> str:
    """``1,234.50 EUR``: the currency given, or the order document's, or the shop's."""
    currency = (
        document
        if isinstance(document, str) and document
        else currency_of(document if isinstance(document, dict) else None)
    )
    return money_text(value, currency)


FILTERS = {"words": words, "amount": amount}
