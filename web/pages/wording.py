"""Codes as words on the pages: statuses, audit actions, timeline types, and amounts with their currency.

The templates use the ``words`` and ``amount`` filters (registered in web/pages/rendering.py);
a code with no entry reads as itself with spaces ("out_of_stock" -> "Out of stock"). The words are
said in the page's language (web/i18n.py); the codes themselves stay as they are.
"""

from __future__ import annotations

from typing import Any

from services.money import currency_of, money_text
from web.i18n import N_, gettext

WORDS = {
    # orders
    "received": N_("Received"),
    "audited": N_("Checked by the audit rules"),
    "on_hold": N_("Held for review"),
    "held": N_("Held by hand"),
    "reserved": N_("Stock reserved"),
    "awaiting_payment": N_("Waiting for payment"),
    "paid": N_("Paid"),
    "backordered": N_("Waiting for stock"),
    "handed_over": N_("Handed over in store"),
    "shipped": N_("Shipped"),
    "out_for_delivery": N_("Out for delivery"),
    "delivery_exception": N_("Delivery problem"),
    "shipping_problem": N_("Cannot be shipped"),
    "delivered": N_("Delivered"),
    "completed": N_("Completed"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "out_of_stock": N_("Out of stock"),
    "lost_in_transit": N_("Lost in transit"),
    "failed": N_("Failed: needs a person"),
    # returns
    "requested": N_("Return requested"),
    "in_review": N_("Return in review"),
    "approved": N_("Approved"),
    "label_issued": N_("Return label sent"),
    "awaiting_parcel": N_("Waiting for the return parcel"),
    "inspecting": N_("Quality check"),
    "inspected": N_("Checked"),
    "refunded": N_("Refunded"),
    "exchanged": N_("Exchanged"),
    "expired": N_("Expired"),
    # tasks
    "open": N_("Open"),
    "decided": N_("Decided"),
    # audit actions and decisions
    "approve": N_("Approved"),
    "review": N_("Held for review"),
    "reject": N_("Rejected"),
    "tag": N_("Tagged"),
    # timeline lines
    "waiting": N_("Waiting"),
    "event": N_("Event received"),
    "timed_out": N_("Timed out"),
    "notification": N_("Customer notified"),
    "note": N_("Internal note"),
    "status": N_("Status"),
    # events a person sends
    "cancel_requested": N_("Cancellation asked"),
    "address_changed": N_("New address"),
    "payment_received": N_("Payment recorded"),
    "hold_requested": N_("Hold asked"),
    "release_requested": N_("Release asked"),
}


# Codes shown as themselves in English (people type and search for them) and translated in other
# languages: stock movements, decisions, return kinds and quality-check results, wave states.
TERMS = {
    # stock movements (services/stock/ledger.py)
    "receipt": N_("receipt"),
    "return": N_("return"),
    "adjust": N_("adjust"),
    "transfer": N_("transfer"),
    "reserve": N_("reserve"),
    "release": N_("release"),
    "ship": N_("ship"),
    # decisions on tasks
    "approve": N_("approve"),
    "reject": N_("reject"),
    "inspected": N_("inspected"),
    "retry": N_("retry"),
    "cancel": N_("cancel"),
    "handled": N_("handled"),
    "escalate": N_("escalate"),
    "picked": N_("picked"),
    "packed": N_("packed"),
    "confirm": N_("confirm"),
    # returns
    "refund": N_("refund"),
    "exchange": N_("exchange"),
    "resellable": N_("resellable"),
    "damaged": N_("damaged"),
    "missing": N_("missing"),
    # waves and parcels
    "open": N_("open"),
    "picking": N_("picking"),
    "done": N_("done"),
}


def term(code: Any) -> str:
    """A code as it is named (English: the code itself), in the page's language."""
    text = str(code or "")
    return gettext(TERMS[text]) if text in TERMS else text


def said(reason: Any) -> str:
    """A reason a service gives with its wording and values (services.orders.actions.Reason), in the page's language."""
    wording = getattr(reason, "wording", "")
    if not wording:
        return str(reason or "")
    text = gettext(wording)
    values = dict(getattr(reason, "values", ()))
    return text % values if values else text


def words(code: Any) -> str:
    """A status or code for people."""
    text = str(code or "")
    return gettext(WORDS[text]) if text in WORDS else text.replace("_", " ").capitalize()


def amount(value: float | int | None, document: dict[str, Any] | str | None = None) -> str:
    """``1,234.50 EUR``: the currency given, or the order document's, or the shop's."""
    currency = (
        document
        if isinstance(document, str) and document
        else currency_of(document if isinstance(document, dict) else None)
    )
    return money_text(value, currency)


FILTERS = {"words": words, "term": term, "said": said, "amount": amount}
