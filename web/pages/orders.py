"""The order list (search, saved views, CSV) and the order page with what a person can do to the order."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from oms.db import get_read_engine
from oms.models import Order
from services import scopes
from services.errors import DomainError, Invalid
from services.orders import actions
from services.orders.changes import request_change
from services.orders.saved_views import delete_view, save_view, views_of
from services.orders.search import (
    SORT_WORDS,
    AmbiguousOrder,
    export,
    parse_query,
    resolve_order,
    row_view,
    search,
)
from services.orders.views import order_detail
from web.api.analytics import csv_response
from web.deps import SessionDep, TemporalDep
from web.i18n import N_, gettext
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import Acting, FormUser, PageRefused, SignedIn
from web.pages.wording import problem, said_as

router = APIRouter(route_class=PageRoute, include_in_schema=False)

SEARCH_FIELDS = ("q", "status", "channel", "warehouse", "sku", "tag", "from", "to", "older_than_days", "sort", "after")
CSV_COLUMNS = ("id", "external_id", "channel", "status", "customer", "email", "phone", "skus", "tags", "total")
# Actions that cannot be undone ask first (a confirmation page, so they work without JavaScript too).
CONFIRM = {
    "cancel": N_("Cancel this order? Its stock is released and the payment refunded or voided. This cannot be undone."),
    "payment": N_("Record that the customer paid? The order goes on to shipping. This cannot be undone."),
    "resend": N_("Send the customer this notification again? An e-mail cannot be called back."),
}
# The order list's sort labels (services.orders.search.SORT_WORDS), for the catalogue: the page translates them.
# What each action does, in the notice after it (services.orders.actions.DONE, for the catalogue).
DONE = {
    "cancel": N_("cancelled"),
    "address": N_("given a new address"),
    "payment": N_("marked paid"),
    "hold": N_("held"),
    "release": N_("released"),
}
SORT_LABELS = (N_("Newest first"), N_("Oldest first"), N_("Largest total"), N_("Smallest total"))
# The shipped saved views' names (services.orders.saved_views), for the catalogue: the page translates presets.
PRESET_NAMES = (N_("Unpaid older than 2 days"), N_("Shipping problems"), N_("Held orders"))


def reserved_now(allocations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reservations of the order that were neither released nor shipped (the stock it still holds)."""
    closed = {a["line"] for a in allocations if a["state"] in ("release", "ship")}
    return [a for a in allocations if a["state"] == "reserve" and a["line"] not in closed]


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if k in SEARCH_FIELDS}


@router.get("/orders")
def orders_page(request: Request, session: SessionDep, user: SignedIn):
    params = _params(request)
    try:
        query = parse_query(params)
        found = search(session, user, query)
        refused = ""
    except DomainError as exc:
        query, found, refused = parse_query({}), None, problem(exc)
    filters = query.filters()
    return render(
        request,
        "pages/orders.html",
        {
            "nav": "orders",
            "query": query,
            "params": params,
            "problem": refused,
            "rows": [row_view(o) for o in found.orders] if found else [],
            "next_url": f"/orders?{urlencode({**filters, 'after': found.next_cursor})}"
            if found and found.next_cursor
            else "",
            "first_url": f"/orders?{urlencode(filters)}" if query.after else "",
            "csv_url": f"/orders.csv?{urlencode(filters)}",
            "here": f"/orders?{urlencode(filters)}",
            "views": views_of(session, user.username),
            "current_view": urlencode(filters),
            "sorts": SORT_WORDS,
        },
    )


@router.get("/orders.csv")
def orders_csv(request: Request, session: SessionDep, user: SignedIn) -> Response:
    try:
        query = parse_query(_params(request))
    except DomainError as exc:
        raise PageRefused(422, problem(exc)) from exc
    rows = [row_view(o) for o in export(session, user, query)]
    table = [
        {k: ";".join(r[k]) if isinstance(r[k], list) else r[k] for k in CSV_COLUMNS}
        | {"currency": r["currency"] or "", "created_at": r["created_at"].isoformat()}
        for r in rows
    ]
    return csv_response(table, "orders.csv")


@router.post("/orders/views")
def save_view_form(
    session: SessionDep,
    user: FormUser,
    name: Annotated[str, Form()] = "",
    query: Annotated[str, Form()] = "",
):
    back = f"/orders?{query}"
    try:
        saved = save_view(session, user.username, name, parse_query(dict(parse_qsl(query))))
    except DomainError as exc:
        refused = gettext("%(problem)s. Nothing was saved.", problem=problem(exc))
        return redirect(back, Flash().error(refused), "/orders")
    return redirect(back, Flash().ok(gettext("Saved the view “%(name)s”.", name=saved.name)), default="/orders")


@router.post("/orders/views/{view_id}/delete")
def delete_view_form(view_id: int, session: SessionDep, user: FormUser):
    try:
        name = delete_view(session, user.username, view_id)
    except DomainError as exc:
        return redirect("/orders", Flash().error(problem(exc)))
    return redirect("/orders", Flash().ok(gettext("Deleted the view “%(name)s”.", name=name)))


def _load(order_id: str, user) -> tuple[Order, dict[str, Any]] | None:
    with Session(get_read_engine()) as session:
        order = session.get(Order, order_id)
        if order is None or not scopes.sees_order(session, user, order):
            return None
        return order, order_detail(session, order, wording=True)


def _offers(order: Order, step: str | None, why_not: actions.Reason) -> dict[str, actions.Offer]:
    with Session(get_read_engine()) as session:
        return actions.offers(session, order, step, why_not)


def _was_held(detail: dict[str, Any]) -> bool:
    """Held by the audit (review) or by hand: only then does the page ask why."""
    audit = detail["audit"] or {}
    by_hand = any((e["data"].get("type") == "hold_requested") for e in detail["timeline"])
    return audit.get("action") == "review" or detail["status"] in ("on_hold", "held") or by_hand


@router.get("/orders/{order_id}")
async def order_page(order_id: str, request: Request, client: TemporalDep, user: SignedIn):
    loaded = await anyio.to_thread.run_sync(_load, order_id, user)
    if loaded is None:
        # Typed by a person: the external id a customer quotes finds the order too.
        with Session(get_read_engine()) as session:
            try:
                other = resolve_order(session, user, order_id)
            except AmbiguousOrder:  # several channels have it: the list shows each
                return redirect(f"/orders?{urlencode({'q': order_id})}")
        if other is None:
            raise PageRefused(404, gettext("There is no order %(id)r.", id=order_id))
        return redirect(f"/orders/{other.id}")
    order, detail = loaded
    step, why_not = await actions.current_step(client, order)
    offers = await anyio.to_thread.run_sync(_offers, order, step, why_not)
    with Session(get_read_engine()) as session:
        repair = actions.repair_task(session, order.id)
        sent = actions.notifications_sent(session, order.id)
    return render(
        request,
        "pages/order.html",
        {
            "order": detail,
            "document": order.document,
            "held": reserved_now(detail["allocations"]),
            "was_held": _was_held(detail),
            "here": f"/orders/{order_id}",
            "step": step,
            "offers": offers,
            "repair": repair,
            "sent": sent,
        },
    )


@router.post("/orders/{order_id}/actions/{action}")
async def order_action(order_id: str, action: str, request: Request, client: TemporalDep, user: Acting):
    form = {k: str(v) for k, v in (await request.form()).items()}
    back = f"/orders/{order_id}"
    if await anyio.to_thread.run_sync(_load, order_id, user) is None:
        raise PageRefused(404, gettext("There is no order %(id)r.", id=order_id))
    if action not in (*actions.EVENTS, "note", "resend"):
        raise PageRefused(404, gettext("There is no action %(action)r on orders.", action=action))
    if action in CONFIRM and form.get("confirmed") != "yes":
        hidden = {k: v for k, v in form.items() if k not in ("confirmed",)}
        return render(
            request,
            "pages/order_confirm.html",
            {"order_id": order_id, "action": action, "question": gettext(CONFIRM[action]), "fields": hidden},
        )
    try:
        done = await _act(client, order_id, action, form, user.username)
    except DomainError as exc:  # ChangeRefused among them: the step does not take it, or it shipped
        return redirect(back, Flash().error(gettext("%(problem)s. Nothing was changed.", problem=problem(exc))))
    return redirect(back, Flash().ok(done))


async def _act(client, order_id: str, action: str, form: dict[str, str], username: str) -> str:
    if action == "note":
        await anyio.to_thread.run_sync(actions.add_note, order_id, username, form.get("note", ""))
        return gettext("Note added to the timeline.")
    if action == "resend":
        summary = await anyio.to_thread.run_sync(actions.resend_notification, order_id, form.get("event", ""), username)
        return gettext("Resent: %(summary)s", summary=said_as("notification", summary))
    data: dict[str, Any] = {"by": username}
    if action == "cancel":
        data["reason"] = form.get("reason", "").strip() or f"cancelled by {username}"
    elif action == "address":
        address = {k: form.get(k, "").strip() for k in ("name", "street", "postal_code", "city", "country")}
        address["country"] = address["country"].upper()
        missing = [k for k in ("street", "postal_code", "city", "country") if not address[k]]
        if missing or len(address["country"]) != 2:
            needs = ", ".join(missing) or gettext("a two-letter country code")
            raise Invalid("bad_address", gettext("the new address needs %(what)s", what=needs))
        data["shipping_address"] = {k: v for k, v in address.items() if v}
    elif action == "payment":
        data["reference"] = form.get("reference", "").strip()
    elif action in ("hold", "release"):
        data["reason"] = form.get("reason", "").strip()
    await request_change(client, order_id, actions.EVENTS[action], data, actions.DONE[action])
    return gettext(
        "Sent: %(done)s (%(event)s); the timeline shows it when the flow has taken it.",
        done=gettext(DONE[action]) if action in DONE else actions.DONE[action],
        event=actions.EVENTS[action],
    )
