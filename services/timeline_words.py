"""The wordings of timeline lines, by line type: what lets a page say a line in the reader's language.

Workflows and services write each line's ``message`` in English (the API returns
it as it is). When a line is stored, ``worded`` reads the English back into the
wording it was written in and its values (``services.phrases``), and the row keeps
them beside the text (``message_key``, ``message_values``). Keep a wording here in
step with the f-string that writes it (named beside each group); a line no wording
matches (a person's note, a sentence changed without this list) stays English.
A failed step's line has the failure's code as its type: its wordings are the
errors' (``services.error_words``).
"""

from __future__ import annotations

from typing import Any

from services.error_words import ERRORS
from services.phrases import N_, Catalogue

_NOTIFICATION = (
    # services/notifications.py (prepare, send); services/orders/actions.py (resend)
    N_("resent: %(summary)s"),
    N_("no %(event)s notification: template %(template)s is not published"),
    N_("%(event)s notification not delivered after %(attempts)s attempts: %(problem)s"),
    N_("%(event)s notification not sent (%(skipped)s)"),
    N_("%(event)s notification not sent: %(problem)s"),
    N_("%(event)s notification sent by %(channels)s to %(to)s: %(subject)s"),
    N_("%(event)s notification sent by %(channels)s: %(subject)s"),
)

_RESERVED = (
    # services/stock/reservation.py (_reserve, _release)
    N_("stock already reserved"),
    N_("reserved %(items)s (allocation %(allocation)s v%(version)s: %(why)s)"),
)

_PICKING = {
    # services/fulfilment/picking.py (_stage)
    "picked": (N_("picked %(items)s"), N_("nothing to pick")),
    "checked": (N_("checked %(items)s"), N_("nothing to check")),
    "packed": (N_("packed %(items)s"), N_("nothing to pack")),
}

_TASKS = {
    # services/orders/tasks.py, services/returns/steps.py, services/orders/repair.py (_decided)
    "task_opened": (N_("%(title)s: waiting for %(role)s (%(reason)s)"), N_("%(title)s: waiting for %(role)s")),
    "task_decided": (N_("%(title)s: %(decision)s by %(by)s (%(comment)s)"), N_("%(title)s: %(decision)s by %(by)s")),
    "task_expired": (N_("%(title)s: no decision before the due time"),),
    "task_closed": (N_("%(title)s: closed by event %(event)s"),),
    "task_escalated": (
        N_("%(title)s: no decision by %(from)s in time; escalated to %(to)s; %(told)s"),
        N_("%(title)s: no decision by %(from)s in time; escalated to %(to)s"),
    ),
    "task_approved_once": (N_("%(title)s: approved by %(by)s; a second person must approve"),),
    # services/escalations.py (announce): who was told, the end of an escalation's line
    "told": (
        N_("nobody was e-mailed: no active user with the role %(role)s has an e-mail address"),
        N_("nobody was e-mailed: no SMTP server is configured"),
        N_("e-mailed %(sent)s; could not e-mail %(failed)s (the mail server did not take it)"),
        N_("could not e-mail %(failed)s (the mail server did not take it)"),
        N_("e-mailed %(sent)s"),
    ),
}

_FLOW = {
    # engine/runtime.py (_wait, run_step), workflows/flow.py, workflows/order_flow.py, workflows/return_flow.py,
    # workflows/moving.py, services/orders/repair.py (mark_failed)
    "waiting": (N_("waiting for %(events)s"),),
    "timed_out": (N_("no %(events)s within the timeout"),),
    "event": (N_("event %(event)s received"),),
    "expression_error": (N_("%(problems)s; went on to %(step)s"),),
    "failed": (
        N_("step %(step)s failed: %(problem)s"),
        N_("flow failed: workflow %(how)s: %(reason)s"),
        N_("flow failed: workflow %(how)s"),
    ),
    "completed": (N_("flow %(flow)s v%(version)s ended: %(status)s"),),
    "ended": (N_("flow %(flow)s v%(version)s ended: %(status)s"),),
    "webhook_failed": (N_("status %(status)s not delivered to the channel: %(problem)s"),),
    "moved": (N_("moved from v%(before)s to v%(after)s at step %(step)s by %(by)s"),),
}

_HTTP = {
    # engine/runtime.py (_http, _http_failed): the answer's line; an error's line is the activity's failure
    # (services/http_calls.py: call; workflows/flow.py: http) and the on_error key that took it
    "http_response": (
        N_("%(method)s %(target)s answered %(status)s; saved %(saved)s"),
        N_("%(method)s %(target)s answered %(status)s"),
    ),
    "http_error": (
        N_("%(method)s %(target)s answered %(status)s; on_error %(key)s: %(step)s"),
        N_("%(method)s %(target)s did not answer within %(seconds)ss; on_error %(key)s: %(step)s"),
        N_("%(method)s %(target)s did not answer in time; on_error %(key)s: %(step)s"),
        N_("%(method)s %(target)s could not be reached; on_error %(key)s: %(step)s"),
    ),
}

_ADAPTERS = {
    # services/adapter_calls.py (call), services/fulfilment/carriers.py (HttpCarrier), services/orders/payments.py
    # (HttpPayments): a carrier's or payment provider's API, in the line of a step whose on_error takes it
    "carrier_failed": (
        N_("carrier %(carrier)s: cannot build the %(operation)s request: %(problem)s"),
        N_("carrier %(carrier)s: %(operation)s was refused with %(status)s: %(said)s"),
        N_("carrier %(carrier)s: %(operation)s was refused with %(status)s"),
        N_("carrier %(carrier)s: the answer to %(operation)s is not JSON (%(where)s)"),
        N_("carrier %(carrier)s: the answer to %(operation)s does not match the mapping: %(problem)s"),
        N_("carrier %(carrier)s: %(problem)s (%(where)s)"),
    ),
    "carrier_unavailable": (
        N_("carrier %(carrier)s: the %(operation)s request %(problem)s"),
        N_("carrier %(carrier)s: %(operation)s answered 429 (retry after %(seconds)ss): %(said)s"),
        N_("carrier %(carrier)s: %(operation)s answered 429 (retry after %(seconds)ss)"),
        N_("carrier %(carrier)s: %(operation)s answered %(status)s: %(said)s"),
        N_("carrier %(carrier)s: %(operation)s answered %(status)s"),
    ),
    "payment_failed": (
        N_("payment provider %(provider)s has no `%(operation)s` section (%(where)s)"),
        N_(
            "payment provider %(provider)s: the order's payment has no reference to %(operation)s "
            "(the payment_received event brings it as `reference`)"
        ),
        N_("payment provider %(provider)s: cannot build the %(operation)s request: %(problem)s"),
        N_("payment provider %(provider)s: %(operation)s was refused with %(status)s: %(said)s"),
        N_("payment provider %(provider)s: %(operation)s was refused with %(status)s"),
        N_("payment provider %(provider)s: the answer to %(operation)s is not JSON (%(where)s)"),
        N_("payment provider %(provider)s: the answer to %(operation)s does not match the mapping: %(problem)s"),
        N_("payment provider %(provider)s: %(problem)s (%(where)s)"),
    ),
    "payment_unavailable": (
        N_("payment provider %(provider)s: the %(operation)s request %(problem)s"),
        N_("payment provider %(provider)s: %(operation)s answered 429 (retry after %(seconds)ss): %(said)s"),
        N_("payment provider %(provider)s: %(operation)s answered 429 (retry after %(seconds)ss)"),
        N_("payment provider %(provider)s: %(operation)s answered %(status)s: %(said)s"),
        N_("payment provider %(provider)s: %(operation)s answered %(status)s"),
    ),
}

_ORDER = {
    # services/orders/audit.py, services/returns/steps.py (audit_return)
    "audited": (
        N_("audit by %(rules)s v%(version)s: %(action)s (no rule held it)"),
        N_("audit by %(rules)s v%(version)s: %(action)s (%(reasons)s)"),
        N_("policy %(rules)s v%(version)s: %(action)s (no rule held it)"),
        N_("policy %(rules)s v%(version)s: %(action)s (%(reasons)s)"),
    ),
    "stock_reserved": _RESERVED,
    "stock_released": (N_("no reserved stock to release"), N_("released %(items)s")),
    # services/orders/payments.py
    "payment_recorded": (N_("payment received (ref %(reference)s)"), N_("payment received")),
    "payment_cancelled": (
        N_("payment of %(amount)s refunded (ref %(reference)s)"),
        N_("payment authorisation voided (ref %(reference)s)"),
        N_("payment voided: no authorisation at %(provider)s to cancel"),
        N_("payment already %(status)s"),
    ),
    # services/orders/address.py
    "address_changed": (N_("shipping address changed to %(address)s"),),
    # services/fulfilment/shipping.py
    "shipped": (N_("shipped in 1 parcel: %(parcels)s"), N_("shipped in %(count)s parcels: %(parcels)s")),
    "notification": _NOTIFICATION,
}

_RETURN = {
    # services/returns/steps.py
    "label_issued": (N_("return label %(tracking)s issued (%(carrier)s, to %(warehouse)s)"),),
    "exchange_reserved": (N_("replacement %(sku)s held for the exchange: %(reservation)s"),),
    "exchange_released": (N_("replacement released: %(items)s"), N_("no replacement held")),
    "exchange_placed": (N_("exchange order %(order)s placed for %(sku)s"),),
    "exchange_skipped": (N_("nothing arrived: no exchange order"),),
    "restocked": (N_("nothing to restock"),),
    "refunded": (
        N_("nothing to refund"),
        N_(
            "refunded %(amount)s (ref %(reference)s), shipping %(shipping)s included; "
            "capped at what is left of the payment"
        ),
        N_("refunded %(amount)s (ref %(reference)s), shipping %(shipping)s included"),
        N_("refunded %(amount)s (ref %(reference)s); capped at what is left of the payment"),
        N_("refunded %(amount)s (ref %(reference)s)"),
    ),
    # services/returns/parcels.py (plan, track_return_parcel)
    "action": (
        N_("parcel %(parcel)s recorded as received by %(by)s (scanned) (%(note)s)"),
        N_("parcel %(parcel)s recorded as received by %(by)s (scanned)"),
        N_("parcel %(parcel)s recorded as received by %(by)s (%(note)s)"),
        N_("parcel %(parcel)s recorded as received by %(by)s"),
        N_("deadline extended by %(by)s: %(more)s more from now (%(note)s)"),
        N_("deadline extended by %(by)s: %(more)s more from now"),
        N_("return cancelled by %(by)s (%(note)s)"),
        N_("return cancelled by %(by)s"),
    ),
    "parcel_tracking": (
        N_("return parcel %(tracking)s %(what)s (%(carrier)s): %(description)s"),
        N_("return parcel %(tracking)s %(what)s (%(carrier)s)"),
    ),
}

TIMELINE = Catalogue({**_PICKING, **_TASKS, **_FLOW, **_HTTP, **_ADAPTERS, **_ORDER, **_RETURN})

# Values that are sentences of their own, recognised by the wordings of the type named.
NESTED = {
    ("notification", "summary"): "notification",
    ("task_escalated", "told"): "told",
    ("exchange_reserved", "reservation"): "stock_reserved",
}


def recognised(type_: str, message: str) -> dict[str, Any] | None:
    """``{"key": wording, "values": {...}}`` of a timeline line of ``type_`` (a failed step's line: its
    error's wording), a value that is a sentence of its own nested the same way; None when no wording fits."""
    found = TIMELINE.recognise(type_, message) or ERRORS.recognise(type_, message)
    if found is None:
        return None
    values: dict[str, Any] = {}
    for name, value in found.values:
        inner = NESTED.get((type_, name))
        values[name] = (recognised(inner, value) if inner is not None else None) or value
    return {"key": found.wording, "values": values}


def worded(type_: str, message: str) -> dict[str, Any]:
    """The timeline row's ``message_key`` and ``message_values`` for a line of ``type_`` saying ``message``."""
    sentence = recognised(type_, message)
    if sentence is None:
        return {"message_key": None, "message_values": None}
    return {"message_key": sentence["key"], "message_values": sentence["values"]}
