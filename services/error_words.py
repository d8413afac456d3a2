"""The wordings of the domain errors people meet on the pages, by error code.

A service raises a typed error with a stable code and an English message
(``services.errors``); the API returns that English as it is. A page says it in
the reader's language: ``said(error)`` is the error's own phrase when it was
raised with one, else the English read back into the wording of its code listed
here (``services.phrases``), else None and the page shows the English. The
refusals of a flow's decision validator (engine/interpreter.py, engine/returns.py,
workflows/) arrive as English text with their code, and are read back the same way.
Keep a wording in step with the f-string that writes it (named beside each group).
"""

from __future__ import annotations

from services.errors import DomainError
from services.phrases import N_, Catalogue, Phrase

_TASKS = {
    # services/orders/decisions.py; engine/interpreter.py (decision_refusal); workflows/flow.py, workflows/moving.py
    "task_not_found": (N_("no task %(task)s"),),
    "task_closed": (N_("task is already %(status)s"),),
    "already_decided": (N_("task is not open on this %(what)s"), N_("task is already %(status)s")),
    "task_claimed": (N_("task is claimed by %(person)s"),),
    "forbidden": (N_("only role %(role)s may decide this task"),),
    "wrong_role": (N_("only role %(role)s may claim this task"),),
    "assign_needs_admin": (N_("only an admin may assign a task to someone else"),),
    "unknown_decision": (
        N_("unknown decision %(decision)s; choose one of: %(choices)s"),
        N_("unknown decision %(decision)s; expected one of %(choices)s"),
    ),
    "comment_required": (N_("a comment is required to %(decision)s"),),
    "same_person": (N_("%(person)s approved already; four-eyes needs a second person"),),
    "scan_mismatch": (N_("scan every item: expected %(items)s"),),
    "moving": (N_("this %(what)s is moving to another flow version; decide again in a moment"),),
    "flow_unavailable": (
        N_("the order's flow could not take the decision: %(problem)s"),
        N_("the order's flow is unavailable, try again: %(problem)s"),
        N_("the order's flow could not be restarted: %(problem)s"),
    ),
    "flow_ended": (
        N_("the order's flow no longer accepts decisions: %(problem)s"),
        N_("order %(order)s is %(status)s; its flow has ended"),
    ),
}

_ORDERS = {
    # services/orders/changes.py, services/orders/actions.py, services/orders/saved_views.py, services/orders/search.py
    "order_not_found": (N_("no order %(order)s"),),
    "order_shipped": (N_("order %(order)s has shipped (%(parcels)s); it can no longer be %(what)s"),),
    "step_does_not_take": (
        N_(
            "order %(order)s is %(status)s at step %(step)s, which takes no %(event)s; "
            "it can be %(what)s only while waiting at a step that does (%(steps)s)"
        ),
        N_(
            "order %(order)s is %(status)s at step %(step)s, which takes no %(event)s; "
            "it can be %(what)s only while waiting at a step that does"
        ),
    ),
    "bad_note": (N_("a note needs 1 to 2000 characters"),),
    "bad_notification": (N_("no %(event)s notification was sent for this order"),),
    "bad_view_name": (N_("a view needs a name of 1 to 80 characters"),),
    "view_exists": (
        N_("%(name)s is a shipped view; choose another name"),
        N_("you have a view named %(name)s already"),
    ),
    "view_not_found": (N_("you have no saved view %(view)s"),),
    "bad_date": (N_("%(field)s must be a date like 2026-01-31, not %(text)s"),),
    "bad_number": (N_("%(field)s must be a whole number from %(low)s to %(high)s"),),
    "bad_sort": (N_("sort must be one of %(sorts)s"),),
    "bad_range": (N_("the date range ends before it starts"),),
    "bad_cursor": (N_("the page cursor is not one this list gave out"),),
    "order_ambiguous": (
        N_(
            "%(count)s orders have the external id %(reference)s (%(matches)s): "
            "give the channel as well, or the order's own id (ord_…)"
        ),
    ),
}

_RETURNS = {
    # services/returns/parcels.py
    "unknown_action": (N_("%(event)s is not one of %(actions)s"),),
    "not_awaiting_parcel": (N_("return %(ret)s is not waiting for its parcel (it is %(status)s)"),),
    "not_in_this_flow": (
        N_(
            "return %(ret)s runs flow %(flow)s v%(version)s, whose step %(step)s "
            "does not take %(event)s (it takes %(events)s)"
        ),
    ),
    "wrong_parcel": (
        N_("parcel %(parcel)s is not the parcel of return %(ret)s (its label is %(label)s)"),
        N_("parcel %(parcel)s is not the parcel of return %(ret)s"),
    ),
    "flow_unreachable": (N_("the return's flow did not take %(event)s: %(problem)s"),),
    "return_not_found": (N_("no return %(ret)s"),),
    "parcel_not_found": (N_("no return has the label %(label)s"),),
}

_STOCK = {
    # services/stock/ledger.py, services/fulfilment/picking.py, services/people.py (warehouses)
    "unknown_warehouse": (
        N_("unknown warehouse %(warehouse)s; known: %(known)s"),
        N_("unknown warehouse %(warehouse)s"),
    ),
    "unknown_sku": (N_("unknown SKU %(sku)s"),),
    "lot_required": (N_("SKU %(sku)s is tracked by lot: name the lot"),),
    "lot_not_tracked": (N_("SKU %(sku)s is not tracked by lot: leave the lot out"),),
    "expiry_required": (N_("SKU %(sku)s is tracked by expiry date: give expires_on"),),
    "unknown_lot": (N_("there is no lot %(lot)s of %(sku)s in %(warehouse)s"),),
    "insufficient_stock": (
        N_("lot %(lot)s of %(sku)s in %(warehouse)s has too little unreserved stock to take %(qty)s"),
        N_("%(sku)s in %(warehouse)s has too little unreserved stock to take %(qty)s"),
    ),
    "qty_too_small": (N_("qty must be at least 1"),),
    "qty_zero": (N_("qty must not be 0: give the signed difference"),),
    "qty_negative": (N_("qty must be 0 or more"),),
    "lot_tracked": (N_("SKU %(sku)s is tracked by lot: adjust or receive a lot instead"),),
    "below_reserved": (N_("on_hand %(on_hand)s is below the %(reserved)s reserved for orders"),),
    "same_warehouse": (N_("a transfer needs two different warehouses"),),
    "nothing_to_pick": (N_("no order in warehouse %(warehouse)s is ready to pick"),),
}

_PEOPLE = {
    # services/people.py
    "weak_password": (N_("the password needs at least %(count)s characters"),),
    "bad_email": (N_("%(email)s is not an e-mail address"),),
    "user_not_found": (N_("no user %(user)s"),),
    "user_exists": (N_("user %(user)s exists already"),),
    "unknown_channel": (N_("no published channel %(channel)s"),),
    "key_not_found": (N_("no channel key %(key)s"),),
    "key_revoked": (N_("channel key %(key)s is revoked; create a new one"),),
}

_STEPS = {
    # A failed step's timeline line has the failure's code as its type (engine/runtime.py):
    # services/stock/reservation.py, services/fulfilment/shipping.py, services/returns/steps.py
    "out_of_stock": (N_("cannot allocate (%(missing)s): %(why)s"),),
    "unallocatable": (N_("cannot allocate (%(missing)s): %(why)s"),),
    "nothing_to_ship": (N_("order %(order)s holds no reserved stock to ship"),),
    "no_carrier": (N_("no carriers definition %(name)s is published"),),
    "exchange_refused": (N_("the exchange order was refused: %(problem)s"),),
    "no_warehouse": (N_("line %(line)s: no warehouse to restock %(sku)s to; set params.warehouse"),),
}

ERRORS = Catalogue({**_TASKS, **_ORDERS, **_RETURNS, **_STOCK, **_PEOPLE, **_STEPS})


def said(error: DomainError) -> Phrase | None:
    """What ``error`` says as a wording and values, or None when it is known only in English."""
    return error.phrase or ERRORS.recognise(error.code, error.message)
