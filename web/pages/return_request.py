"""Request a return: the live ``return_request`` form of the return flow, drawn like the order entry page.

GET /returns/new?order_id=… finds the order by its own id or its external id
(an external id orders of several channels have: the page asks which channel's,
and ``channel=`` names it) and shows the form the return flow names
(definitions/forms/return_request.yaml),
with one row per order line to fill in; POST /returns/new adds or removes a
row, or hands the request to ``services.returns.requests.request_return`` (the
same checks as the API) and goes to the return. Rows nobody gave a quantity
are no items to return. Every error is shown beside its field, as on the order
entry page, whose widgets (web/pages/entry.py, entry_fields.html) draw this form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Request
from sqlmodel import Session

from engine.forms import FieldError, Form
from oms.db import get_read_engine
from oms.models import Order
from services.definitions.live import live_definitions
from services.returns import requests as returns
from services.returns.steps import counted_elsewhere
from web import i18n
from web.deps import CurrentUser, TemporalDep
from web.errors import status_for
from web.i18n import gettext
from web.pages.entry import Entry, build_page, change_rows, in_page_language, row_name, say
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import ACTING_ROLES, Acting, PageRefused, SignedIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FLOW = returns.DEFAULT_FLOW
LINES = "lines"


@dataclass(frozen=True)
class OrderLine:
    number: int
    sku: str
    qty: int
    left: int


@dataclass(frozen=True)
class Setup:
    """The live request form and, once found, the order and what is left to return of each line."""

    form: Form
    form_version: int
    order: Order | None
    lines: tuple[OrderLine, ...]
    problem: str = ""  # why the order was not found
    problem_field: str = "order_id"  # the field the problem is about: the order, or the channel named with it
    # (channel, order id) of each order an external id typed without its channel may mean: the page asks which.
    matches: tuple[tuple[str, str], ...] = ()
    channel: str = ""
    wanted: str = ""  # what the person typed


def _load(wanted: str, user: CurrentUser, channel: str = "") -> Setup:
    with Session(get_read_engine()) as session:
        live = live_definitions(session)
        flow = live.get("flow", FLOW)
        form_row = live.get("form", flow.model.form) if flow is not None and flow.model.form else None
        if form_row is None:
            raise PageRefused(
                404, gettext("The %(flow)s flow has no published form to request returns with.", flow=FLOW)
            )
        problem, problem_field, order, matches = "", "order_id", None, ()
        try:
            order = returns.find_order(session, wanted, user, channel) if wanted else None
        except returns.ReturnOrderAmbiguous as exc:
            matches = exc.matches
        except returns.ReturnRefused as exc:
            problem = "; ".join(e.message for e in exc.errors)
        if wanted and channel and order is None and not problem:
            problem_field = "channel"
            problem = gettext("There is no order %(id)r in channel %(channel)r.", id=wanted, channel=channel)
            matches = _matches(session, wanted, user)
        elif wanted and order is None and not problem and not matches:
            problem = gettext("There is no order %(id)r.", id=wanted)
        lines: list[OrderLine] = []
        if order is not None:
            others = counted_elsewhere(session, order.id)
            for number, line in enumerate(order.document.get("lines") or [], start=1):
                qty = int(line.get("qty") or 0)
                lines.append(OrderLine(number, str(line.get("sku") or ""), qty, qty - others.get(number, 0)))
        return Setup(
            form_row.model, form_row.version, order, tuple(lines), problem, problem_field, matches, channel, wanted
        )


def _matches(session: Session, wanted: str, user: CurrentUser) -> tuple[tuple[str, str], ...]:
    """The orders of several channels an external id may mean (none when it means one or none)."""
    try:
        returns.find_order(session, wanted, user)
    except returns.ReturnOrderAmbiguous as exc:
        return exc.matches
    return ()


def _may_request(user: CurrentUser) -> None:
    if not user.has(*ACTING_ROLES):
        raise PageRefused(
            403,
            gettext(
                "Role %(role)r can look at returns but not request one; that needs operator or admin.", role=user.role
            ),
        )


def _blank(setup: Setup) -> Entry:
    """The form's defaults, the order, and a row per order line with something left to return."""
    entry = Entry.blank(setup.form)
    if setup.order is None:
        return entry
    entry.values["order_id"] = setup.order.id
    open_lines = [line for line in setup.lines if line.left > 0] or list(setup.lines)
    entry.rows[LINES] = max(len(open_lines), 1)
    for index, line in enumerate(open_lines):
        entry.values[f"{row_name(LINES, index)}.line"] = str(line.number)
        entry.values[f"{row_name(LINES, index)}.sku"] = line.sku
    return entry


def _show(
    request: Request,
    setup: Setup,
    entry: Entry,
    errors: list[FieldError] | None = None,
    focus: str | None = None,
    status_code: int = 200,
):
    lang = i18n.language()
    page = build_page(setup.form, entry, lang, errors or [], focus)
    return render(
        request,
        "pages/return_new.html",
        {
            "nav": "returns",
            "setup": setup,
            "page": page,
            "wanted": entry.values.get("order_id") or setup.wanted,
            "focus_summary": bool(page.summary) and focus is None,
            "title": say(setup.form.title, lang)[0] or gettext("Return request"),
        },
        status_code=status_code,
    )


@router.get("/returns/new")
async def new_return_page(request: Request, user: SignedIn, order_id: str = "", channel: str = ""):
    _may_request(user)
    setup = await anyio.to_thread.run_sync(_load, order_id.strip()[:64], user, channel.strip()[:64])
    if setup.problem and not setup.matches:
        raise PageRefused(404, setup.problem)
    if setup.problem:  # a channel none of the orders with that external id is in: choose again
        return _show(request, setup, _blank(setup), [FieldError("channel", setup.problem)], status_code=404)
    return _show(request, setup, _blank(setup))


def _without_unused_lines(entry: Entry) -> bool:
    """Drop the rows without a quantity (lines not returned); False when no row has one."""
    count = entry.rows.get(LINES, 0)
    wanted = [i for i in range(count) if entry.values.get(f"{row_name(LINES, i)}.qty", "").strip() not in ("", "0")]
    if not wanted:
        return False
    for index in reversed(range(count)):
        if index not in wanted:
            entry.remove_row(LINES, index)
    return True


@router.post("/returns/new")
async def request_return(request: Request, client: TemporalDep, user: Acting):
    data = await request.form()
    action = str(data.get("action") or "request").strip()
    wanted = str(data.get("order_id") or "").strip()[:64]
    channel = str(data.get("channel") or "").strip()[:64]
    setup = await anyio.to_thread.run_sync(_load, wanted, user, channel)
    entry = Entry.read(setup.form, data)
    if action.startswith(("add_row:", "remove_row:")):
        return _show(request, setup, entry, focus=change_rows(setup.form, entry, action))
    if action != "request":
        unknown = gettext("Unknown action; nothing was done.")
        return redirect(f"/returns/new?order_id={quote(wanted)}", Flash().error(unknown))
    if setup.problem:
        return _show(request, setup, entry, [FieldError(setup.problem_field, setup.problem)], status_code=404)
    if setup.order is None and setup.matches:
        which = gettext("orders of several channels have the external id %(id)r: choose the channel", id=wanted)
        return _show(request, setup, entry, [FieldError("channel", which)], status_code=422)
    if not _without_unused_lines(entry):
        missing = FieldError(LINES, gettext("give the quantity to return of at least one line"))
        return _show(request, setup, entry, [missing], status_code=422)
    entry = entry.without_blank_rows(setup.form)
    payload: dict[str, Any] = entry.document(setup.form)
    try:
        requested = await returns.request_return(client, payload, user.username, caller=user)
    except returns.ReturnRefused as exc:
        errors = in_page_language(setup.form, payload, exc.errors)
        return _show(request, setup, entry, errors, status_code=status_for(exc))
    except returns.ReturnUnavailable as exc:
        unavailable = FieldError("", gettext("%(problem)s. Nothing was stored.", problem=exc))
        return _show(request, setup, entry, [unavailable], status_code=503)
    done = gettext("Return %(id)s requested.", id=requested.return_id)
    return redirect(f"/returns/{requested.return_id}", Flash().ok(done), default="/returns")
