"""The order page: why it was held, what was decided, where its stock is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from oms.models import Order
from services import scopes
from services.orders.views import order_detail
from web.deps import SessionDep
from web.pages.rendering import PageRoute, render
from web.pages.security import PageRefused, SignedIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def reserved_now(allocations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reservations of the order that were neither released nor shipped (the stock it still holds)."""
    closed = {a["line"] for a in allocations if a["state"] in ("release", "ship")}
    return [a for a in allocations if a["state"] == "reserve" and a["line"] not in closed]


@router.get("/orders/{order_id}")
def order_page(order_id: str, request: Request, session: SessionDep, user: SignedIn):
    order = session.get(Order, order_id)
    if order is None or not scopes.sees_order(session, user, order):
        raise PageRefused(404, f"There is no order {order_id!r}.")
    detail = order_detail(session, order)
    return render(
        request,
        "pages/order.html",
        {
            "order": detail,
            "held": reserved_now(detail["allocations"]),
            "here": f"/orders/{order_id}",
        },
    )
