"""The stock ledger: operators' movements (receipt, return, adjustment, transfer) and reconciliation.

Every change of a balance is a conditional UPDATE plus a ledger row in the
caller's transaction, so the balances can always be rebuilt from the rows;
``reconcile`` does exactly that and lists every difference.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, TextClause, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from engine.forms import FieldError
from oms.models import (
    ChannelReservation,
    Sku,
    Stock,
    StockLot,
    StockMovement,
    Warehouse,
    utcnow,
)
from services.errors import DomainError, Invalid, NotFound
from services.stock.alerts import check_alerts
from services.stock.sync_marks import mark_changed

# How each operation moves the balances: (on_hand sign, reserved sign); qty is signed for adjust/transfer.
EFFECT = {
    "receipt": (1, 0),
    "return": (1, 0),
    "adjust": (1, 0),
    "transfer": (1, 0),
    "reserve": (0, 1),
    "release": (0, -1),
    "ship": (-1, -1),
}
OPERATIONS = tuple(EFFECT)

_ADD_ON_HAND = text(
    "UPDATE stock SET on_hand = on_hand + :qty "
    "WHERE warehouse = :warehouse AND sku = :sku AND on_hand + :qty >= reserved"
)
_ADD_LOT_ON_HAND = text(
    "UPDATE stock_lots SET on_hand = on_hand + :qty "
    "WHERE warehouse = :warehouse AND sku = :sku AND lot = :lot AND on_hand + :qty >= reserved"
)


def rows_changed(session: Session, update: TextClause, params: dict[str, Any]) -> int:
    """How many rows a conditional UPDATE changed: 0 when its condition no longer held."""
    # An UPDATE's result is a CursorResult; Session.execute is typed with the Result it derives from.
    return cast(CursorResult, session.execute(update, params)).rowcount


class StockRefused(DomainError):
    """A stock change that cannot be made; ``field`` names the input at fault (also the field error in ``details``).

    Retryable: a flow step that meets one (a return's restock) waits, retrying, until the stock data
    lets it through (the warehouse, lot or SKU set up), rather than failing the flow.
    """

    def __init__(self, code: str, message: str, *, field: str):
        super().__init__(code, message, field=field, details=[FieldError(field, message)], retryable=True)


class UnknownStockItem(StockRefused, NotFound):
    """The warehouse or SKU named does not exist."""


class InvalidStockChange(StockRefused, Invalid):
    """The change breaks a rule of the stock: a quantity, a lot or expiry date, what orders have reserved."""


@dataclass(frozen=True)
class Movement:
    """A movement an operator asks for."""

    warehouse: str
    sku: str
    qty: int
    reason: str
    lot: str | None = None
    expires_on: date | None = None
    user: str | None = None
    order_id: str | None = None


def _known(session: Session, warehouse: str, sku: str, field: str = "warehouse") -> Sku:
    if session.get(Warehouse, warehouse) is None:
        raise UnknownStockItem("unknown_warehouse", f"unknown warehouse {warehouse!r}", field=field)
    item = session.get(Sku, sku)
    if item is None:
        raise UnknownStockItem("unknown_sku", f"unknown SKU {sku!r}", field="sku")
    return item


def _check_lot(item: Sku, move: Movement, needs_expiry: bool) -> None:
    if item.lot_tracked and not move.lot:
        raise InvalidStockChange("lot_required", f"SKU {item.sku} is tracked by lot: name the lot", field="lot")
    if not item.lot_tracked and move.lot:
        raise InvalidStockChange(
            "lot_not_tracked", f"SKU {item.sku} is not tracked by lot: leave the lot out", field="lot"
        )
    if needs_expiry and item.expiry_tracked and move.expires_on is None:
        raise InvalidStockChange(
            "expiry_required", f"SKU {item.sku} is tracked by expiry date: give expires_on", field="expires_on"
        )


def _stock_row(session: Session, warehouse: str, sku: str) -> Stock:
    row = session.get(Stock, (warehouse, sku))
    if row is None:
        row = Stock(warehouse=warehouse, sku=sku, on_hand=0, reserved=0)
        session.add(row)
        session.flush()
    return row


def _add_on_hand(session: Session, move: Movement, qty: int, received_at: datetime | None = None) -> None:
    """on_hand += qty (qty may be negative, never below what is reserved), lot row too."""
    _stock_row(session, move.warehouse, move.sku)
    if move.lot:
        lot = session.get(StockLot, (move.warehouse, move.sku, move.lot))
        if lot is None:
            if qty < 0:
                raise InvalidStockChange(
                    "unknown_lot", f"there is no lot {move.lot!r} of {move.sku} in {move.warehouse}", field="lot"
                )
            session.add(
                StockLot(
                    warehouse=move.warehouse,
                    sku=move.sku,
                    lot=move.lot,
                    on_hand=0,
                    reserved=0,
                    received_at=received_at or utcnow(),
                    expires_on=move.expires_on,
                )
            )
            session.flush()
        params = {"qty": qty, "warehouse": move.warehouse, "sku": move.sku, "lot": move.lot}
        if rows_changed(session, _ADD_LOT_ON_HAND, params) != 1:
            raise InvalidStockChange(
                "insufficient_stock",
                f"lot {move.lot} of {move.sku} in {move.warehouse} has too little unreserved stock to take {-qty}",
                field="qty",
            )
    params = {"qty": qty, "warehouse": move.warehouse, "sku": move.sku}
    if rows_changed(session, _ADD_ON_HAND, params) != 1:
        raise InvalidStockChange(
            "insufficient_stock",
            f"{move.sku} in {move.warehouse} has too little unreserved stock to take {-qty}",
            field="qty",
        )


def _row(session: Session, move: Movement, operation: str, qty: int, counterpart: str | None = None) -> StockMovement:
    row = StockMovement(
        operation=operation,
        warehouse=move.warehouse,
        sku=move.sku,
        qty=qty,
        reason=move.reason,
        lot=move.lot,
        order_id=move.order_id,
        user=move.user,
        counterpart=counterpart,
    )
    session.add(row)
    return row


def receive(session: Session, move: Movement, operation: str = "receipt") -> dict[str, Any]:
    """Goods in (a receipt from a supplier, or a customer's return): on_hand grows."""
    if move.qty <= 0:
        raise InvalidStockChange("qty_too_small", "qty must be at least 1", field="qty")
    item = _known(session, move.warehouse, move.sku)
    _check_lot(item, move, needs_expiry=True)
    _add_on_hand(session, move, move.qty)
    row = _row(session, move, operation, move.qty)
    check_alerts(session, [move.sku])
    mark_changed(session, [move.sku])
    session.flush()
    return movement_view(row)


def adjust(session: Session, move: Movement) -> dict[str, Any]:
    """A signed correction after a count, damage or loss; never below the reserved quantity."""
    if move.qty == 0:
        raise InvalidStockChange("qty_zero", "qty must not be 0: give the signed difference", field="qty")
    item = _known(session, move.warehouse, move.sku)
    _check_lot(
        item,
        move,
        needs_expiry=move.qty > 0
        and move.lot is not None
        and session.get(StockLot, (move.warehouse, move.sku, move.lot)) is None,
    )
    _add_on_hand(session, move, move.qty)
    row = _row(session, move, "adjust", move.qty)
    check_alerts(session, [move.sku])
    mark_changed(session, [move.sku])
    session.flush()
    return movement_view(row)


def set_on_hand(
    session: Session, warehouse: str, sku: str, on_hand: int, reason: str, user: str | None = None
) -> Stock:
    """Set the counted quantity (an adjustment by the difference)."""
    item = _known(session, warehouse, sku)
    if item.lot_tracked:
        raise InvalidStockChange(
            "lot_tracked", f"SKU {sku} is tracked by lot: adjust or receive a lot instead", field="on_hand"
        )
    _stock_row(session, warehouse, sku)
    # Locked (PostgreSQL; SQLite holds its write lock already) so the difference is still right when applied.
    row = session.exec(
        select(Stock)
        .where(Stock.warehouse == warehouse, Stock.sku == sku)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if on_hand < row.reserved:
        raise InvalidStockChange(
            "below_reserved", f"on_hand {on_hand} is below the {row.reserved} reserved for orders", field="on_hand"
        )
    delta = on_hand - row.on_hand
    if delta:
        move = Movement(warehouse, sku, delta, reason, user=user)
        _add_on_hand(session, move, delta)
        _row(session, move, "adjust", delta)
        check_alerts(session, [sku])
        mark_changed(session, [sku])
    session.flush()
    session.refresh(row)
    return row


def transfer(
    session: Session,
    source: str,
    target: str,
    sku: str,
    qty: int,
    reason: str,
    lot: str | None = None,
    user: str | None = None,
) -> list[dict[str, Any]]:
    """Move unreserved stock between warehouses: two ledger rows, out of one and into the other."""
    if qty <= 0:
        raise InvalidStockChange("qty_too_small", "qty must be at least 1", field="qty")
    if source == target:
        raise InvalidStockChange("same_warehouse", "a transfer needs two different warehouses", field="to_warehouse")
    item = _known(session, source, sku)
    _known(session, target, sku, field="to_warehouse")
    out = Movement(source, sku, -qty, reason, lot=lot, user=user)
    _check_lot(item, out, needs_expiry=False)
    received_at, expires_on = None, None
    if lot:
        origin = session.get(StockLot, (source, sku, lot))
        if origin is None:
            raise InvalidStockChange("unknown_lot", f"there is no lot {lot!r} of {sku} in {source}", field="lot")
        received_at, expires_on = origin.received_at, origin.expires_on
    _add_on_hand(session, out, -qty)
    into = Movement(target, sku, qty, reason, lot=lot, expires_on=expires_on, user=user)
    _add_on_hand(session, into, qty, received_at=received_at)
    rows = [
        _row(session, out, "transfer", -qty, counterpart=target),
        _row(session, into, "transfer", qty, counterpart=source),
    ]
    mark_changed(session, [sku])  # a channel may sell from one warehouse and not the other
    session.flush()
    return [movement_view(r) for r in rows]


def set_channel_reserve(session: Session, channel: str, warehouse: str, sku: str, qty: int) -> dict[str, Any]:
    """Keep ``qty`` of ``sku`` in ``warehouse`` for ``channel``: other channels' orders cannot take it."""
    _known(session, warehouse, sku)
    if qty < 0:
        raise InvalidStockChange("qty_negative", "qty must be 0 or more", field="qty")
    row = session.get(ChannelReservation, (channel, warehouse, sku))
    if row is None:
        row = ChannelReservation(channel=channel, warehouse=warehouse, sku=sku, qty=qty)
    row.qty = qty
    session.add(row)
    mark_changed(session, [sku])  # what the other channels may sell changes
    session.flush()
    return {"channel": channel, "warehouse": warehouse, "sku": sku, "qty": qty}


def movement_view(row: StockMovement) -> dict[str, Any]:
    return {
        "id": row.id,
        "operation": row.operation,
        "warehouse": row.warehouse,
        "sku": row.sku,
        "lot": row.lot,
        "qty": row.qty,
        "reason": row.reason,
        "order_id": row.order_id,
        "line_no": row.line_no,
        "counterpart": row.counterpart,
        "user": row.user,
        "at": row.at.isoformat() if row.at else None,
    }


def movements(
    session: Session,
    sku: str | None = None,
    warehouse: str | None = None,
    order_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    """The newest movements first; ``scope``: a WHERE clause limiting them (a scoped caller's)."""
    query = select(StockMovement)
    if scope is not None:
        query = query.where(scope)
    if sku:
        query = query.where(StockMovement.sku == sku)
    if warehouse:
        query = query.where(StockMovement.warehouse == warehouse)
    if order_id:
        query = query.where(StockMovement.order_id == order_id)
    rows = session.exec(query.order_by(col(StockMovement.id).desc()).offset(offset).limit(limit)).all()
    return [movement_view(r) for r in rows]


def reconcile(session: Session) -> dict[str, Any]:
    """Rebuild every balance from the ledger and compare it with the stock and lot tables."""
    rebuilt: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    rebuilt_lots: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
            StockMovement.operation, StockMovement.warehouse, StockMovement.sku, StockMovement.lot, StockMovement.qty
        )
    ).all()
    for operation, warehouse, sku, lot, qty in rows:
        on_hand_sign, reserved_sign = EFFECT[operation]
        for table, key in ((rebuilt, (warehouse, sku)), (rebuilt_lots, (warehouse, sku, lot))):
            if table is rebuilt_lots and lot is None:
                continue
            table[key][0] += on_hand_sign * qty
            table[key][1] += reserved_sign * qty
    differences = []

    def compare(level: str, key: tuple, stored: tuple[int, int], ledger: list[int]) -> None:
        if tuple(ledger) != stored:
            # A stock key has no lot: the names outnumber its parts.
            where = dict(zip(("warehouse", "sku", "lot"), key, strict=False))
            differences.append(
                {
                    "level": level,
                    **where,
                    "stored": {"on_hand": stored[0], "reserved": stored[1]},
                    "ledger": {"on_hand": ledger[0], "reserved": ledger[1]},
                }
            )

    stock: dict[tuple, tuple[int, int]] = {
        (r.warehouse, r.sku): (r.on_hand, r.reserved) for r in session.exec(select(Stock)).all()
    }
    for key in sorted(set(stock) | set(rebuilt)):
        compare("stock", key, stock.get(key, (0, 0)), rebuilt.get(key, [0, 0]))
    lots: dict[tuple, tuple[int, int]] = {
        (r.warehouse, r.sku, r.lot): (r.on_hand, r.reserved) for r in session.exec(select(StockLot)).all()
    }
    for key in sorted(set(lots) | set(rebuilt_lots)):
        compare("lot", key, lots.get(key, (0, 0)), rebuilt_lots.get(key, [0, 0]))
    negative = [
        {"warehouse": w, "sku": s, "on_hand": h, "reserved": r}
        for (w, s), (h, r) in sorted(stock.items())
        if r < 0 or h - r < 0
    ]
    return {
        "ok": not differences and not negative,
        "movements": len(rows),
        "balances": len(stock),
        "lots": len(lots),
        "differences": differences,
        "negative": negative,
    }
