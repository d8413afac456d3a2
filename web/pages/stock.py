"""The stock page: balances per SKU and warehouse, lots, alerts, movement history; receive, adjust, transfer;
what was pushed to each syncing channel (stock sync), and "push every SKU again".

Works without JavaScript: plain forms with a CSRF token, a redirect back and
a notice. Operators and admins change stock; every signed-in role reads.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Form, Request
from sqlalchemy import func
from sqlmodel import col, select

from oms.db import session_scope
from oms.models import ChannelReservation, DefinitionVersion, Sku, Stock, Warehouse
from services import scopes
from services.errors import NotFound
from services.stock import channel_sync
from services.stock import ledger as stock_ledger
from services.stock.alerts import alerts, replenishment
from services.stock.backorders import wake
from services.stock.ledger import InvalidStockChange, Movement, StockRefused
from services.stock.sync_starts import start_sync
from web.api.inventory import scoped_backorders, stock_rows
from web.deps import CurrentUser, SessionDep, TemporalDep
from web.i18n import gettext, ngettext
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import ACTING_ROLES, FormUser, PageRefused, SignedIn
from web.pages.wording import problem

router = APIRouter(route_class=PageRoute, include_in_schema=False)

HISTORY = 100


def _stock_manager(user: FormUser, *warehouses: str) -> CurrentUser:
    if not user.has(*ACTING_ROLES):
        raise PageRefused(
            403,
            gettext("Role %(role)r can look at stock but not change it; that needs operator or admin.", role=user.role),
        )
    outside = [w for w in warehouses if not scopes.sees_warehouse(user, w)]
    if outside:
        raise PageRefused(
            403,
            gettext(
                "You may change stock of %(mine)s only, not %(other)s.",
                mine=", ".join(user.warehouses),
                other=outside[0],
            ),
        )
    return user


@router.get("/stock")
def overview(request: Request, session: SessionDep, user: SignedIn, q: str = "", check: str = ""):
    q = q.strip()[:64]
    # Rebuilding every balance reads the whole ledger: operators' and admins' to ask for.
    ledger = stock_ledger.reconcile(session) if check and user.has(*ACTING_ROLES) else None
    # A warehouse-scoped user's totals are those of its warehouses.
    totals = select(Stock.sku, func.sum(Stock.on_hand), func.sum(Stock.reserved)).group_by(Stock.sku)
    if user.warehouses:
        totals = totals.where(col(Stock.warehouse).in_(user.warehouses))
    sums = {sku: (int(h or 0), int(r or 0)) for sku, h, r in session.exec(totals).all()}
    query = select(Sku).order_by(Sku.sku)
    if q:
        query = query.where(Sku.sku.contains(q.upper()) | Sku.name.contains(q))
    open_alerts = alerts(session, "open", warehouses=user.warehouses)
    alerted = {a["sku"] for a in open_alerts}
    waiting = scoped_backorders(session, user, "open")
    # Stock sync: per syncing channel (a channel-scoped person's own), each SKU's last push and failure.
    synced = channel_sync.sync_view(session, channels=user.channels)
    rows = []
    for item in session.exec(query).all():
        on_hand, reserved = sums.get(item.sku, (0, 0))
        rows.append(
            {
                "sku": item,
                "on_hand": on_hand,
                "reserved": reserved,
                "available": on_hand - reserved,
                "alert": item.sku in alerted,
                "backorders": sum(1 for b in waiting if b["sku"] == item.sku),
                "sync": synced["items"].get(item.sku, {}),
            }
        )
    return render(
        request,
        "pages/stock.html",
        {
            "nav": "stock",
            "rows": rows,
            "q": q,
            "alerts": open_alerts,
            "backorders": waiting,
            "ledger": ledger,
            "sync_channels": synced["channels"],
        },
    )


@router.get("/stock/{sku}")
def sku_page(sku: str, request: Request, session: SessionDep, user: SignedIn):
    item = session.get(Sku, sku)
    if item is None:
        raise PageRefused(404, gettext("There is no SKU %(sku)r.", sku=sku))
    warehouses = session.exec(select(Warehouse).order_by(Warehouse.code)).all()
    channels = session.exec(
        select(DefinitionVersion.name)
        .where(DefinitionVersion.kind == "channel")
        .distinct()
        .order_by(DefinitionVersion.name)
    ).all()
    reserves = [
        r
        for r in session.exec(
            select(ChannelReservation)
            .where(ChannelReservation.sku == sku, ChannelReservation.qty > 0)
            .order_by(ChannelReservation.warehouse, ChannelReservation.channel)
        ).all()
        if scopes.sees_warehouse(user, r.warehouse)
    ]
    synced = channel_sync.sync_view(session, [sku], user.channels)
    return render(
        request,
        "pages/stock_sku.html",
        {
            "channels": channels,
            "reserves": reserves,
            "nav": "stock",
            "item": item,
            "rows": [r for r in stock_rows(session, sku) if scopes.sees_warehouse(user, r["warehouse"])],
            "warehouses": warehouses,
            "movements": stock_ledger.movements(session, sku=sku, limit=HISTORY, scope=scopes.movement_clause(user)),
            "alerts": alerts(session, None, sku, user.warehouses)[:10],
            "suggestion": replenishment(session, [sku], warehouses=user.warehouses)[0],
            "backorders": scoped_backorders(session, user, "open", sku),
            "here": f"/stock/{quote(sku)}",
            "sync_channels": synced["channels"],
            "sync": synced["items"].get(sku, {}),
            "today": date.today().isoformat(),
        },
    )


def _int(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidStockChange(
            "not_a_number",
            gettext(
                "%(field)s must be a whole number, not %(value)r", field=field.replace("_", " "), value=value.strip()
            ),
            field=field,
        ) from None


def _date(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidStockChange(
            "not_a_date",
            gettext("%(field)s must be a date like 2027-03-31", field=field.replace("_", " ")),
            field=field,
        ) from None


def _write(work) -> object:
    with session_scope() as session:
        return work(session)


def _done(back: str, text: str, woken: list[str]) -> object:
    if woken:
        text += " " + ngettext("Woke %(num)d backordered order.", "Woke %(num)d backordered orders.", len(woken))
    return redirect(back, Flash().ok(text), default="/stock")


def _refused(back: str, what: str, exc: StockRefused):
    refused = gettext("%(what)s: %(problem)s. Nothing was changed.", what=what, problem=problem(exc))
    return redirect(back, Flash().error(refused), default="/stock")


@router.post("/stock/{sku}/receive")
async def receive(
    sku: str,
    user: FormUser,
    client: TemporalDep,
    warehouse: Annotated[str, Form()] = "",
    qty: Annotated[str, Form()] = "",
    lot: Annotated[str, Form()] = "",
    expires_on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
):
    _stock_manager(user, warehouse)
    back = f"/stock/{quote(sku)}"
    try:
        move = Movement(
            warehouse,
            sku,
            _int(qty, "qty"),
            reason.strip()[:200] or "goods received",
            lot.strip() or None,
            _date(expires_on, "expires_on"),
            user.username,
        )
        row = await anyio.to_thread.run_sync(_write, lambda s: stock_ledger.receive(s, move))
    except StockRefused as exc:
        return _refused(back, gettext("Could not receive"), exc)
    woken = await wake(client, sku, warehouse, move.qty)
    if row["lot"]:
        done = gettext(
            "Received %(qty)s x %(sku)s into %(warehouse)s (lot %(lot)s).",
            qty=row["qty"],
            sku=sku,
            warehouse=warehouse,
            lot=row["lot"],
        )
    else:
        done = gettext("Received %(qty)s x %(sku)s into %(warehouse)s.", qty=row["qty"], sku=sku, warehouse=warehouse)
    return _done(back, done, woken)


@router.post("/stock/{sku}/adjust")
async def adjust(
    sku: str,
    user: FormUser,
    client: TemporalDep,
    warehouse: Annotated[str, Form()] = "",
    qty: Annotated[str, Form()] = "",
    lot: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
):
    _stock_manager(user, warehouse)
    back = f"/stock/{quote(sku)}"
    try:
        if not reason.strip():
            raise InvalidStockChange("reason_required", gettext("give a reason for the adjustment"), field="reason")
        move = Movement(
            warehouse, sku, _int(qty, "qty"), reason.strip()[:200], lot.strip() or None, None, user.username
        )
        row = await anyio.to_thread.run_sync(_write, lambda s: stock_ledger.adjust(s, move))
    except StockRefused as exc:
        return _refused(back, gettext("Could not adjust"), exc)
    woken = await wake(client, sku, warehouse, move.qty) if move.qty > 0 else []
    change = f"{row['qty']:+d}"
    adjusted = gettext("Adjusted %(sku)s in %(warehouse)s by %(qty)s.", sku=sku, warehouse=warehouse, qty=change)
    return _done(back, adjusted, woken)


@router.post("/stock/{sku}/transfer")
async def transfer(
    sku: str,
    user: FormUser,
    client: TemporalDep,
    from_warehouse: Annotated[str, Form()] = "",
    to_warehouse: Annotated[str, Form()] = "",
    qty: Annotated[str, Form()] = "",
    lot: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
):
    _stock_manager(user, from_warehouse, to_warehouse)
    back = f"/stock/{quote(sku)}"
    try:
        amount = _int(qty, "qty")
        await anyio.to_thread.run_sync(
            _write,
            lambda s: stock_ledger.transfer(
                s,
                from_warehouse,
                to_warehouse,
                sku,
                amount,
                reason.strip()[:200] or "transfer",
                lot.strip() or None,
                user.username,
            ),
        )
    except StockRefused as exc:
        return _refused(back, gettext("Could not transfer"), exc)
    woken = await wake(client, sku, to_warehouse, amount)
    moved = gettext(
        "Transferred %(qty)s x %(sku)s from %(source)s to %(target)s.",
        qty=amount,
        sku=sku,
        source=from_warehouse,
        target=to_warehouse,
    )
    return _done(back, moved, woken)


@router.post("/stock/{sku}/channel-reserve")
def channel_reserve(
    sku: str,
    user: FormUser,
    channel: Annotated[str, Form()] = "",
    warehouse: Annotated[str, Form()] = "",
    qty: Annotated[str, Form()] = "",
):
    _stock_manager(user, warehouse)
    back = f"/stock/{quote(sku)}"
    try:
        if not channel.strip():
            raise InvalidStockChange("channel_required", gettext("choose a channel"), field="channel")
        amount = _int(qty, "qty")
        _write(lambda s: stock_ledger.set_channel_reserve(s, channel.strip(), warehouse, sku, amount))
    except StockRefused as exc:
        return _refused(back, gettext("Could not keep stock for the channel"), exc)
    if amount == 0:
        none = gettext(
            "No %(sku)s is kept for %(channel)s in %(warehouse)s any more.",
            sku=sku,
            channel=channel,
            warehouse=warehouse,
        )
        return _done(back, none, [])
    kept = gettext(
        "%(qty)s x %(sku)s in %(warehouse)s are kept for channel %(channel)s.",
        qty=amount,
        sku=sku,
        warehouse=warehouse,
        channel=channel,
    )
    return _done(back, kept, [])


@router.post("/stock/channels/{channel}/resync")
async def resync(channel: str, user: FormUser, client: TemporalDep):
    """Push every SKU the channel lists again (once the platform that refused them is fixed)."""
    _stock_manager(user)
    if user.channels and channel not in user.channels:
        raise PageRefused(
            403, gettext("You act for %(mine)s only, not %(other)s.", mine=", ".join(user.channels), other=channel)
        )
    try:
        count = await anyio.to_thread.run_sync(_write, lambda s: channel_sync.resync(s, channel, user.username))
    except NotFound:
        refused = gettext("Channel %(channel)s does not push its stock. Nothing was changed.", channel=channel)
        return redirect("/stock", Flash().error(refused), default="/stock")
    await start_sync(client, channel)
    again = ngettext(
        "%(num)d SKU will be pushed to %(channel)s again.",
        "%(num)d SKUs will be pushed to %(channel)s again.",
        count,
        channel=channel,
    )
    return redirect("/stock", Flash().ok(again), default="/stock")
