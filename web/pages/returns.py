"""The returns pages: the list with filters and a parcel scan, a return's detail (timeline, QC result), its
parcel actions (received, more time, cancel) and decisions. Requesting a return is web/pages/return_request.py.

Plain forms with a CSRF token, a redirect back and a notice, like the stock
page. Every signed-in role reads; operators and admins request and decide.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, Form, Request
from sqlalchemy import func
from sqlmodel import Session, select

from oms.db import get_read_engine
from oms.models import Order, Return
from services import scopes
from services.definitions.live import live_definitions
from services.errors import DomainError
from services.orders.decisions import Actor, TaskRefused
from services.returns import parcels
from services.returns import requests as returns
from services.returns.views import return_detail, return_query, return_summary
from web import i18n
from web.deps import SessionDep, TemporalDep
from web.i18n import gettext
from web.pages import wording
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import Acting, PageRefused, SignedIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE = 50
STATUSES = (
    "audited",
    "in_review",
    "approved",
    "label_issued",
    "awaiting_parcel",
    "inspecting",
    "inspected",
    "refunded",
    "exchanged",
    "completed",
    "rejected",
    "expired",
    "cancelled",
)


def _reasons(session) -> list[tuple[str, str]]:
    """(value, label) of the reasons the live return_request form offers."""
    row = live_definitions(session).get("form", "return_request")
    if row is None:
        return []
    field = next((f for f in row.model.fields if f.id == "reason"), None)
    lang = i18n.language()
    return [(value, label.get(lang) or label.get("en", value)) for value, label in (field.options if field else ())]


def _float(value: str) -> float | None:
    try:
        return max(float(value), 0.0) if value.strip() else None
    except ValueError:
        return None


@router.get("/returns")
def returns_page(
    request: Request,
    session: SessionDep,
    user: SignedIn,
    status: str = "",
    reason: str = "",
    older_than_days: str = "",
    order_id: str = "",
    page: int = 1,
):
    age = _float(older_than_days)
    query = return_query(status or None, reason or None, order_id.strip() or None, age)
    if (scope := scopes.return_clause(user)) is not None:
        query = query.where(scope)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = max(page, 1)
    rows = session.exec(query.order_by(Return.created_at.desc(), Return.id).offset((page - 1) * PAGE).limit(PAGE)).all()
    filters = {
        k: v
        for k, v in {
            "status": status,
            "reason": reason,
            "older_than_days": older_than_days,
            "order_id": order_id,
        }.items()
        if v
    }
    return render(
        request,
        "pages/returns.html",
        {
            "nav": "returns",
            "returns": [return_summary(r) for r in rows],
            "total": total,
            "page": page,
            "pages": max((total + PAGE - 1) // PAGE, 1),
            "filters": filters,
            "query": urlencode(filters),
            "statuses": STATUSES,
            "reasons": _reasons(session),
        },
    )


@router.get("/returns/{return_id}")
def return_page(return_id: str, request: Request, session: SessionDep, user: SignedIn):
    ret = session.get(Return, return_id)
    order = session.get(Order, ret.order_id) if ret is not None else None
    if ret is None or order is None or not scopes.sees_order(session, user, order):
        raise PageRefused(404, gettext("There is no return %(id)r.", id=return_id))
    detail = return_detail(session, ret, wording=True)
    task = next((t for t in detail["tasks"] if t["status"] == "open"), None)
    wait = parcels.parcel_wait(session, ret)
    return render(
        request,
        "pages/return.html",
        {
            "nav": "returns",
            "ret": detail,
            "task": task,
            "wait": wait,
            "extension": parcels.duration_words(wait.extension) if wait and wait.extension else "",
            "here": f"/returns/{return_id}",
        },
    )


PARCEL_ACTIONS = {"received": parcels.RECEIVED, "extend": parcels.EXTENDED, "cancel": parcels.CANCEL}


@router.post("/returns/scan")
async def scan_parcel(
    client: TemporalDep,
    user: Acting,
    tracking_number: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/returns",
):
    """A return parcel on the warehouse's desk: its label's tracking number finds the return."""
    number = tracking_number.strip()[:64]
    if not number:
        return redirect(
            back, Flash().error(gettext("Scan or type the tracking number of the parcel's label.")), "/returns"
        )
    try:
        return_id = await anyio.to_thread.run_sync(parcels.scanned_return_id, number)
        await anyio.to_thread.run_sync(_visible, return_id, user)
        message = await parcels.act(client, return_id, parcels.RECEIVED, user.username, number)
    except (parcels.ReturnUnknown, scopes.OutOfScope) as exc:
        problem = _capitalised(wording.problem(exc))
        return redirect(back, Flash().error(gettext("%(problem)s; nothing was recorded.", problem=problem)))
    except DomainError as exc:
        nothing = gettext("%(problem)s. Nothing was recorded.", problem=wording.problem(exc))
        return redirect(f"/returns/{quote(return_id)}", Flash().error(nothing))
    done = gettext("Return %(id)s: %(what)s.", id=return_id, what=wording.said_as("action", message))
    return redirect(f"/returns/{quote(return_id)}", Flash().ok(done))


def _visible(return_id: str, user) -> None:
    with Session(get_read_engine()) as session:
        scopes.visible_return(session, user, return_id)


def _capitalised(text: str) -> str:
    return f"{text[:1].upper()}{text[1:]}"


@router.post("/returns/{return_id}/parcel")
async def parcel_action(
    return_id: str,
    client: TemporalDep,
    user: Acting,
    action: Annotated[str, Form()] = "",
    tracking_number: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
):
    """Record the parcel as received (optionally by its scanned label), give more time, or cancel the return."""
    back = f"/returns/{quote(return_id)}"
    event = PARCEL_ACTIONS.get(action.strip())
    if event is None:
        return redirect(back, Flash().error(gettext("Choose received, extend or cancel; nothing was done.")))
    if event == parcels.CANCEL and confirm != "yes":
        unticked = gettext("Tick “Yes, cancel this return” to cancel it; nothing was done.")
        return redirect(back, Flash().error(unticked))
    try:
        await anyio.to_thread.run_sync(_visible, return_id, user)
        message = await parcels.act(client, return_id, event, user.username, tracking_number[:64], note)
    except DomainError as exc:
        problem = _capitalised(wording.problem(exc))
        return redirect(back, Flash().error(gettext("%(problem)s. Nothing was recorded.", problem=problem)))
    return redirect(back, Flash().ok(f"{_capitalised(wording.said_as('action', message))}."))


@router.post("/returns/{return_id}/decision")
async def decide(
    return_id: str,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    user: Acting,
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
):
    back = f"/returns/{quote(return_id)}"
    form = await request.form()
    qc = []
    if decision == "inspected":
        for key, value in form.items():
            parts = key.split("_")  # <result>_<line>, e.g. resellable_1
            if (
                len(parts) == 2
                and parts[0] in ("resellable", "damaged", "missing")
                and str(value).strip() not in ("", "0")
            ):
                try:
                    entry = {"line": int(parts[1]), "result": parts[0], "qty": int(str(value).strip())}
                except ValueError:
                    whole = gettext("%(field)s: a whole number is needed. Nothing was decided.", field=key)
                    return redirect(back, Flash().error(whole))
                if parts[0] == "damaged":
                    entry["reason"] = str(form.get(f"reason_{parts[1]}", "")).strip()
                qc.append(entry)
    try:
        scopes.visible_return(session, user, return_id)
        await returns.decide(client, return_id, Actor(user.username, user.roles), decision, comment, qc)
    except (TaskRefused, scopes.OutOfScope) as exc:
        return redirect(back, Flash().error(gettext("%(problem)s. Nothing was decided.", problem=wording.problem(exc))))
    return redirect(back, Flash().ok(gettext("Decided: %(decision)s.", decision=wording.term(decision))))
