"""Printable pages for people signed in to the web app: labels, packing slips, pick lists."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from oms.models import Order, Wave
from services import scopes
from web import printing
from web.deps import CurrentUser, SessionDep
from web.errors import status_for
from web.i18n import gettext
from web.pages.rendering import PageRoute
from web.pages.security import PageRefused, SignedIn
from web.pages.wording import problem

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _print(make, *args) -> HTMLResponse:
    try:
        return printing.printable(make(*args))
    except printing.PrintRefused as exc:
        raise PageRefused(status_for(exc), problem(exc)) from exc


def _order(session, user: CurrentUser, order_id: str) -> Order:
    order = session.get(Order, order_id)
    if order is None or not scopes.sees_order(session, user, order):
        raise PageRefused(404, gettext("There is no order %(id)r.", id=order_id))
    return order


@router.get("/orders/{order_id}/label")
def label_page(order_id: str, session: SessionDep, user: SignedIn):
    return _print(printing.labels, session, _order(session, user, order_id))


@router.get("/orders/{order_id}/packing-slip")
def packing_slip_page(order_id: str, session: SessionDep, user: SignedIn):
    return _print(printing.packing_slip, session, _order(session, user, order_id))


@router.get("/waves/{wave_id}/pick-list")
def pick_list_page(wave_id: str, session: SessionDep, user: SignedIn):
    wave = session.get(Wave, wave_id)
    if wave is None or not scopes.sees_wave(session, user, wave):
        raise PageRefused(404, gettext("There is no wave %(id)r.", id=wave_id))
    return _print(printing.pick_list, session, wave)
