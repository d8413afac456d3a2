"""Stock API: balances, movements (receipt, return, adjustment, transfer), alerts, replenishment,
channel reserves, backorders and the ledger reconciliation.

Operators (and admins) change stock; everybody signed in reads.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from oms.db import session_scope
from oms.models import ChannelReservation, Sku, Stock, StockLot, Warehouse
from services import scopes
from services.stock import ledger as stock_ledger
from services.stock.alerts import alerts, replenishment
from services.stock.backorders import backorders, wake
from services.stock.ledger import InvalidStockChange, Movement
from web.api.params import Offset
from web.api.schemas.inventory import (
    AlertList,
    BackorderList,
    ChannelReserve,
    ChannelReserveList,
    MovementList,
    MovementMade,
    Reconciliation,
    SkuList,
    SkuView,
    StockBalance,
    StockList,
    SuggestionList,
    TransferMade,
    WarehouseList,
)
from web.deps import CurrentUser, SessionDep, TemporalDep, UserDep, require

router = APIRouter(prefix="/api/inventory", tags=["inventory"])

Operator = Annotated[CurrentUser, Depends(require("operator"))]
Code = Field(min_length=1, max_length=64)


def _view(row: Stock, held: int = 0) -> dict:
    return {
        "warehouse": row.warehouse,
        "sku": row.sku,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "available": row.on_hand - row.reserved,
        "channel_reserved": held,
    }


def stock_rows(session: Session, sku: str | None = None, warehouse: str | None = None) -> list[dict[str, Any]]:
    """Balances per warehouse and SKU, with the lots of lot-tracked SKUs and the channel reserves."""
    query = select(Stock)
    if sku:
        query = query.where(Stock.sku == sku)
    if warehouse:
        query = query.where(Stock.warehouse == warehouse)
    holds: dict[tuple[str, str], int] = {}
    for hold in session.exec(select(ChannelReservation)).all():
        holds[(hold.warehouse, hold.sku)] = holds.get((hold.warehouse, hold.sku), 0) + hold.qty
    lots: dict[tuple[str, str], list[dict]] = {}
    lot_query = select(StockLot).order_by(StockLot.expires_on, StockLot.received_at)
    if sku:
        lot_query = lot_query.where(StockLot.sku == sku)
    for lot in session.exec(lot_query).all():
        lots.setdefault((lot.warehouse, lot.sku), []).append(
            {
                "lot": lot.lot,
                "on_hand": lot.on_hand,
                "reserved": lot.reserved,
                "available": lot.on_hand - lot.reserved,
                "received_at": lot.received_at.isoformat(),
                "expires_on": lot.expires_on.isoformat() if lot.expires_on else None,
            }
        )
    rows = []
    for row in session.exec(query.order_by(Stock.sku, Stock.warehouse)).all():
        view = _view(row, holds.get((row.warehouse, row.sku), 0))
        if (row.warehouse, row.sku) in lots:
            view["lots"] = lots[(row.warehouse, row.sku)]
        rows.append(view)
    return rows


def _write(work: Callable[[Session], Any]) -> Any:
    with session_scope() as session:
        return work(session)


# ---- reading --------------------------------------------------------------------------


@router.get("", response_model=StockList, response_model_exclude_unset=True)
def list_stock(session: SessionDep, user: UserDep, sku: str | None = None, warehouse: str | None = None) -> dict:
    rows = stock_rows(session, sku, warehouse)
    return {"stock": [r for r in rows if scopes.sees_warehouse(user, r["warehouse"])]}


@router.get("/warehouses", response_model=WarehouseList)
def list_warehouses(session: SessionDep, _: UserDep) -> dict:
    return {"warehouses": [w.model_dump() for w in session.exec(select(Warehouse).order_by(Warehouse.code)).all()]}


@router.get("/skus", response_model=SkuList)
def list_skus(session: SessionDep, _: UserDep) -> dict:
    return {"skus": [s.model_dump() for s in session.exec(select(Sku).order_by(Sku.sku)).all()]}


@router.get("/movements", response_model=MovementList)
def list_movements(
    session: SessionDep,
    user: UserDep,
    sku: str | None = None,
    warehouse: str | None = None,
    order_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict:
    return {
        "movements": stock_ledger.movements(
            session, sku, warehouse, order_id, limit, offset, scope=scopes.movement_clause(user)
        ),
        "limit": limit,
        "offset": offset,
    }


@router.get("/alerts", response_model=AlertList)
def list_alerts(
    session: SessionDep, user: UserDep, status: Literal["open", "resolved", "all"] = "open", sku: str | None = None
) -> dict:
    """Low-stock alerts; a warehouse-scoped caller gets those of the SKUs its warehouses hold, with the
    quantity available there."""
    return {"alerts": alerts(session, None if status == "all" else status, sku, user.warehouses)}


@router.get("/replenishment", response_model=SuggestionList)
def replenishment_suggestions(
    session: SessionDep,
    user: UserDep,
    sku: Annotated[list[str] | None, Query()] = None,
    window_days: Annotated[int, Query(ge=1, le=365)] = 30,
    cover_days: Annotated[int, Query(ge=0, le=365)] = 14,
) -> dict:
    """What to order per SKU; for a warehouse-scoped caller, from its warehouses' demand and stock."""
    return {"suggestions": replenishment(session, sku, window_days, cover_days, user.warehouses)}


@router.get("/reconciliation", response_model=Reconciliation, response_model_exclude_unset=True)
def reconciliation(session: SessionDep, _: Operator) -> dict:
    """Every balance rebuilt from the ledger and compared with the stock and lot tables (operators: it reads
    the whole ledger)."""
    return stock_ledger.reconcile(session)


@router.get("/backorders", response_model=BackorderList)
def list_backorders(
    session: SessionDep,
    user: UserDep,
    status: Literal["open", "filled", "cancelled", "all"] = "open",
    sku: str | None = None,
) -> dict:
    return {"backorders": scoped_backorders(session, user, None if status == "all" else status, sku)}


def scoped_backorders(session: Session, user: CurrentUser, status: str | None, sku: str | None = None) -> list[dict]:
    """The backorders of the orders ``user`` sees."""
    rows = backorders(session, status, sku)
    seen = scopes.visible_order_ids(session, user, {r["order_id"] for r in rows})
    return [r for r in rows if r["order_id"] in seen]


@router.get("/channels", response_model=ChannelReserveList)
def list_channel_reserves(session: SessionDep, user: UserDep) -> dict:
    rows = session.exec(select(ChannelReservation).order_by(ChannelReservation.sku, ChannelReservation.channel)).all()
    return {"channel_reserves": [r.model_dump() for r in rows if scopes.sees_warehouse(user, r.warehouse)]}


# ---- changing -------------------------------------------------------------------------


class SkuIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    price: float = Field(ge=0)
    weight_kg: float = Field(default=0.5, ge=0, le=100_000)
    length_cm: float = Field(default=0, ge=0, le=100_000)
    width_cm: float = Field(default=0, ge=0, le=100_000)
    height_cm: float = Field(default=0, ge=0, le=100_000)
    category: str = Field(default="general", max_length=64)
    lot_tracked: bool = False
    expiry_tracked: bool = False
    low_stock_threshold: int = Field(default=0, ge=0, le=1_000_000_000)
    lead_time_days: int = Field(default=7, ge=0, le=365)


@router.put("/skus/{sku}", response_model=SkuView)
def put_sku(sku: str, body: SkuIn, _: Operator) -> dict:
    """Create or update a SKU's master data."""
    if not sku.strip() or len(sku) > 64:
        raise HTTPException(422, "sku must be 1 to 64 characters")
    if body.expiry_tracked and not body.lot_tracked:
        raise InvalidStockChange(
            "expiry_needs_lot", "expiry dates are kept per lot: set lot_tracked too", field="expiry_tracked"
        )

    def work(session: Session) -> dict:
        row = session.get(Sku, sku) or Sku(sku=sku, name=body.name, price=body.price, lot_tracked=body.lot_tracked)
        if row.lot_tracked != body.lot_tracked:
            on_hand = sum(s.on_hand for s in session.exec(select(Stock).where(Stock.sku == sku)).all())
            if on_hand:
                raise InvalidStockChange(
                    "lot_tracking_in_use",
                    f"{sku} has {on_hand} on hand; lot tracking can change only at 0",
                    field="lot_tracked",
                )
        for key, value in body.model_dump().items():
            setattr(row, key, value)
        session.add(row)
        session.flush()
        return row.model_dump()

    return _write(work)


class StockLevel(BaseModel):
    on_hand: int = Field(ge=0, le=1_000_000_000, description="counted quantity in the warehouse")
    reason: str = Field(default="stock count", max_length=200)


class MovementIn(BaseModel):
    warehouse: str = Code
    sku: str = Code
    qty: int = Field(
        ge=-1_000_000_000,
        le=1_000_000_000,
        description="receipts, returns: at least 1; adjustments: the signed difference",
    )
    reason: str = Field(default="", max_length=200)
    lot: str | None = Field(default=None, min_length=1, max_length=64)
    expires_on: date | None = None
    order_id: str | None = Field(default=None, max_length=64)


class TransferIn(BaseModel):
    from_warehouse: str = Code
    to_warehouse: str = Code
    sku: str = Code
    qty: int = Field(ge=1, le=1_000_000_000)
    reason: str = Field(default="transfer", max_length=200)
    lot: str | None = Field(default=None, min_length=1, max_length=64)


class ChannelReserveIn(BaseModel):
    qty: int = Field(ge=0, le=1_000_000_000, description="units kept for this channel; 0 removes the reserve")


async def _goods_in(body: MovementIn, user: CurrentUser, client, operation: str, default_reason: str) -> dict:
    scopes.check_warehouses(user, [body.warehouse])
    move = Movement(
        body.warehouse,
        body.sku,
        body.qty,
        body.reason or default_reason,
        body.lot,
        body.expires_on,
        user.username,
        body.order_id,
    )
    row = await anyio.to_thread.run_sync(_write, lambda s: stock_ledger.receive(s, move, operation))
    row["woken_orders"] = await wake(client, body.sku, body.warehouse, body.qty)
    return row


@router.post("/receipts", status_code=201, response_model=MovementMade)
async def post_receipt(body: MovementIn, user: Operator, client: TemporalDep) -> dict:
    """Goods received from a supplier; wakes orders backordered on the SKU."""
    return await _goods_in(body, user, client, "receipt", "goods received")


@router.post("/returns", status_code=201, response_model=MovementMade)
async def post_return(body: MovementIn, user: Operator, client: TemporalDep) -> dict:
    """A customer's return put back on the shelf; wakes orders backordered on the SKU."""
    return await _goods_in(body, user, client, "return", "customer return")


@router.post("/adjustments", status_code=201, response_model=MovementMade)
async def post_adjustment(body: MovementIn, user: Operator, client: TemporalDep) -> dict:
    """A signed correction (count, damage, loss); never below what orders have reserved."""
    scopes.check_warehouses(user, [body.warehouse])
    move = Movement(
        body.warehouse, body.sku, body.qty, body.reason or "adjustment", body.lot, body.expires_on, user.username
    )
    row = await anyio.to_thread.run_sync(_write, lambda s: stock_ledger.adjust(s, move))
    row["woken_orders"] = await wake(client, body.sku, body.warehouse, body.qty) if body.qty > 0 else []
    return row


@router.post("/transfers", status_code=201, response_model=TransferMade)
async def post_transfer(body: TransferIn, user: Operator, client: TemporalDep) -> dict:
    """Move unreserved stock between warehouses: two ledger rows."""
    scopes.check_warehouses(user, [body.from_warehouse, body.to_warehouse])
    rows = await anyio.to_thread.run_sync(
        _write,
        lambda s: stock_ledger.transfer(
            s, body.from_warehouse, body.to_warehouse, body.sku, body.qty, body.reason, body.lot, user.username
        ),
    )
    woken = await wake(client, body.sku, body.to_warehouse, body.qty)
    return {"movements": rows, "woken_orders": woken}


@router.put("/channels/{channel}/{warehouse}/{sku}", response_model=ChannelReserve)
def put_channel_reserve(channel: str, warehouse: str, sku: str, body: ChannelReserveIn, user: Operator) -> dict:
    """Keep safety stock for a channel: other channels' orders cannot take it."""
    scopes.check_warehouses(user, [warehouse])
    return _write(lambda s: stock_ledger.set_channel_reserve(s, channel, warehouse, sku, body.qty))


@router.put("/{warehouse}/{sku}", response_model=StockBalance)
async def set_stock(warehouse: str, sku: str, body: StockLevel, user: Operator, client: TemporalDep) -> dict:
    """Set the counted quantity: an adjustment by the difference."""
    scopes.check_warehouses(user, [warehouse])

    def work(session: Session) -> tuple[dict, int]:
        before = session.get(Stock, (warehouse, sku))
        old = before.on_hand if before is not None else 0
        row = stock_ledger.set_on_hand(session, warehouse, sku, body.on_hand, body.reason, user.username)
        return _view(row), row.on_hand - old

    view, delta = await anyio.to_thread.run_sync(_write, work)
    if delta > 0:
        await wake(client, sku, warehouse, delta)
    return view
