"""The returns pages: the list with filters, a return's detail (timeline, QC result), request and decide.

Plain forms with a CSRF token, a redirect back and a notice, like the stock
page. Every signed-in role reads; operators and admins request and decide.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from sqlalchemy import func
from sqlmodel import select

from oms.models import Order, Return
from services import scopes
from services.definitions.live import live_definitions
from services.orders.decisions import Actor, TaskRefused
from services.orders.search import find_order
from services.returns import requests as returns
from services.returns.views import return_detail, return_query, return_summary
from web.deps import SessionDep, TemporalDep
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import ACTING_ROLES, Acting, PageRefused, SignedIn

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
)


def _reasons(session) -> list[tuple[str, str]]:
    """(value, label) of the reasons the live return_request form offers."""
    row = live_definitions(session).get("form", "return_request")
    if row is None:
        return []
    field = next((f for f in row.model.fields if f.id == "reason"), None)
    return [(value, label.get("en", value)) for value, label in (field.options if field else ())]


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


@router.get("/returns/new")
def new_return_page(request: Request, session: SessionDep, user: SignedIn, order_id: str = ""):
    if not user.has(*ACTING_ROLES):
        raise PageRefused(
            403, f"Role {user.role!r} can look at returns but not request one; that needs operator or admin."
        )
    # The internal ord_… id or the external id a customer quotes (services/orders/search.py).
    order = find_order(session, user, order_id) if order_id else None
    if order_id and order is None:
        raise PageRefused(404, f"There is no order {order_id!r}.")
    return render(
        request,
        "pages/return_new.html",
        {
            "nav": "returns",
            "order": order,
            "order_id": order_id,
            "reasons": _reasons(session),
            "lines": list(enumerate((order.document.get("lines") or []) if order else [], start=1)),
        },
    )


@router.post("/returns/new")
async def request_return(
    request: Request,
    client: TemporalDep,
    user: Acting,
    order_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "refund",
    replacement_sku: Annotated[str, Form()] = "",
    photos: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
):
    form = await request.form()
    lines = []
    for key, value in form.items():
        if key.startswith("qty_") and str(value).strip() not in ("", "0"):
            try:
                lines.append({"line": int(key[4:]), "qty": int(str(value).strip())})
            except ValueError:
                return redirect(
                    f"/returns/new?order_id={quote(order_id)}",
                    Flash().error(f"Line {key[4:]}: quantity must be a whole number. Nothing was stored."),
                    default="/returns",
                )
    payload = {
        "order_id": order_id,
        "lines": lines,
        "reason": reason,
        "kind": kind,
        "photos": [p.strip() for p in photos.splitlines() if p.strip()],
        "comment": comment,
    }
    if kind == "exchange":
        payload["replacement_sku"] = replacement_sku.strip()
    if not lines:
        return redirect(
            f"/returns/new?order_id={quote(order_id)}",
            Flash().error("Give a quantity for at least one line. Nothing was stored."),
            default="/returns",
        )
    try:
        requested = await returns.request_return(client, payload, user.username, caller=user)
    except returns.ReturnRefused as exc:
        notice = Flash()
        for error in exc.errors:
            notice.error(f"{error.field}: {error.message}" if error.field else error.message)
        return redirect(f"/returns/new?order_id={quote(order_id)}", notice, default="/returns")
    except returns.ReturnUnavailable as exc:
        return redirect(
            f"/returns/new?order_id={quote(order_id)}", Flash().error(f"{exc}. Nothing was stored."), default="/returns"
        )
    return redirect(
        f"/returns/{requested.return_id}", Flash().ok(f"Return {requested.return_id} requested."), default="/returns"
    )


@router.get("/returns/{return_id}")
def return_page(return_id: str, request: Request, session: SessionDep, user: SignedIn):
    ret = session.get(Return, return_id)
    order = session.get(Order, ret.order_id) if ret is not None else None
    if ret is None or order is None or not scopes.sees_order(session, user, order):
        raise PageRefused(404, f"There is no return {return_id!r}.")
    detail = return_detail(session, ret)
    task = next((t for t in detail["tasks"] if t["status"] == "open"), None)
    return render(
        request,
        "pages/return.html",
        {
            "nav": "returns",
            "ret": detail,
            "task": task,
            "here": f"/returns/{return_id}",
        },
    )


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
                    return redirect(back, Flash().error(f"{key}: a whole number is needed. Nothing was decided."))
                if parts[0] == "damaged":
                    entry["reason"] = str(form.get(f"reason_{parts[1]}", "")).strip()
                qc.append(entry)
    try:
        scopes.visible_return(session, user, return_id)
        await returns.decide(client, return_id, Actor(user.username, user.roles), decision, comment, qc)
    except (TaskRefused, scopes.OutOfScope) as exc:
        return redirect(back, Flash().error(f"{exc.message}. Nothing was decided."))
    return redirect(back, Flash().ok(f"Decided: {decision}."))
