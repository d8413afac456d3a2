"""Stock: allocation by definition, atomic and idempotent reservation against the ledger.

The allocation definition decides from a snapshot (``engine.allocation.plan``);
this module applies the plan with conditional UPDATEs: a row a concurrent
reservation changed no longer matches, the savepoint rolls back and the
order is planned again from fresh figures. Whatever the concurrency, stock is
never reserved beyond what is on hand (and the CHECK constraints agree).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select
from temporalio.client import Client

from engine.allocation import (
    Allocation,
    Destination,
    Line,
    Plan,
    Request,
    StockPiece,
    WarehouseInfo,
    plan,
)
from engine.definitions import parse_published
from oms.db import session_scope
from oms.models import (
    Backorder,
    ChannelReservation,
    DefinitionVersion,
    Order,
    Sku,
    Stock,
    StockLot,
    StockMovement,
    Warehouse,
    utcnow,
)
from services.definitions.pinned import pinned_model
from services.errors import StepFailed
from services.orders.steps import run_step
from services.stock.alerts import check_alerts
from services.stock.backorders import wake
from services.stock.ledger import rows_changed
from services.stock.sync_marks import mark_changed
from workflows.contracts import StepInput, StepResult

log = logging.getLogger("oms.inventory")

DEFAULT_ALLOCATION = "default"
MAX_PLANS = 8  # plans per reservation before giving up to Temporal's retry

# Other channels' safety stock counts as taken; ``:respect`` is 0 when the definition ignores it.
_RESERVE = text(
    "UPDATE stock SET reserved = reserved + :qty "
    "WHERE warehouse = :warehouse AND sku = :sku AND on_hand - reserved - :respect * ("
    "  SELECT COALESCE(SUM(c.qty), 0) FROM channel_reservations c"
    "  WHERE c.warehouse = :warehouse AND c.sku = :sku AND c.channel <> :channel) >= :qty"
)
_RESERVE_LOT = text(
    "UPDATE stock_lots SET reserved = reserved + :qty "
    "WHERE warehouse = :warehouse AND sku = :sku AND lot = :lot AND on_hand - reserved >= :qty"
)
_UNRESERVE = text("UPDATE stock SET reserved = reserved - :qty WHERE warehouse = :warehouse AND sku = :sku")
_UNRESERVE_LOT = text(
    "UPDATE stock_lots SET reserved = reserved - :qty WHERE warehouse = :warehouse AND sku = :sku AND lot = :lot"
)
_SHIP = text(
    "UPDATE stock SET reserved = reserved - :qty, on_hand = on_hand - :qty WHERE warehouse = :warehouse AND sku = :sku"
)
_SHIP_LOT = text(
    "UPDATE stock_lots SET reserved = reserved - :qty, on_hand = on_hand - :qty "
    "WHERE warehouse = :warehouse AND sku = :sku AND lot = :lot"
)


class Short(Exception):
    """The allocation found no way to fill the order; nothing was reserved."""

    def __init__(self, order_id: str, result: Plan, message: str, definition: dict[str, Any]):
        if result.failure is None:
            raise ValueError(f"order {order_id}: a plan that allocated is not short")
        self.order_id = order_id
        self.plan = result
        self.failure: str = result.failure
        self.message = message
        self.definition = definition
        super().__init__(message)


class _LostRace(Exception):
    """A conditional update matched no row: someone reserved the stock first."""


# ---- the definition and the snapshot ------------------------------------------------------


def allocation_for(session: Session, name: str, order: Order) -> tuple[Allocation, dict[str, Any]]:
    """The allocation definition the order pinned at intake, compiled.

    An order taken before pinning (no pins) uses the version live when it arrived (else the first).
    """
    if order.pins:
        allocation, version = pinned_model(session, order.pins, "allocation", name)
        if allocation is None:
            raise StepFailed("definition_missing", f"the order pinned no allocation definition {name!r}")
        return allocation, {"name": name, "version": version}
    query = select(DefinitionVersion).where(DefinitionVersion.kind == "allocation", DefinitionVersion.name == name)
    row = (
        session.exec(
            query.where(DefinitionVersion.created_at <= order.created_at)
            .order_by(col(DefinitionVersion.version).desc())
            .limit(1)
        ).first()
        or session.exec(query.order_by(col(DefinitionVersion.version)).limit(1)).first()
    )
    if row is None:
        raise StepFailed("definition_missing", f"no allocation definition {name!r} is published")
    return parse_published(row.body), {"name": row.name, "version": row.version}


def _request(order: Order, skus: dict[str, Sku]) -> Request:
    address = order.document.get("shipping_address") or {}
    lines = tuple(
        Line(
            line_no,
            line["sku"],
            int(line["qty"]),
            float(line.get("price") or 0),
            skus[line["sku"]].weight_kg if line["sku"] in skus else 0.0,
        )
        for line_no, line in enumerate(order.document["lines"], start=1)
    )
    destination = Destination(
        str(address.get("country") or "").upper(), address.get("latitude"), address.get("longitude")
    )
    return Request(lines, destination, order.channel, utcnow().date())


def snapshot(
    session: Session, skus: set[str], channel: str, items: dict[str, Sku] | None = None
) -> tuple[list[WarehouseInfo], list[StockPiece], dict]:
    """Warehouses, available stock (per lot where tracked) and other channels' holds, as they are now.

    ``items``: the SKU rows of ``skus`` when the caller has read them already.
    """
    warehouses = [
        WarehouseInfo(w.code, w.country, w.latitude, w.longitude, w.handling_cost, tuple(w.serves), w.region)
        for w in session.exec(select(Warehouse)).all()
    ]
    if items is None:
        items = {s.sku: s for s in session.exec(select(Sku).where(col(Sku.sku).in_(skus))).all()}
    pieces = []
    lot_tracked = [sku for sku, item in items.items() if item.lot_tracked]
    plain = [sku for sku in skus if sku not in lot_tracked]
    if plain:
        for stock in session.exec(select(Stock).where(col(Stock.sku).in_(plain))).all():
            pieces.append(StockPiece(stock.warehouse, stock.sku, stock.on_hand - stock.reserved))
    if lot_tracked:
        for lot in session.exec(select(StockLot).where(col(StockLot.sku).in_(lot_tracked))).all():
            pieces.append(
                StockPiece(lot.warehouse, lot.sku, lot.on_hand - lot.reserved, lot.lot, lot.received_at, lot.expires_on)
            )
    holds: dict[tuple[str, str], int] = {}
    for hold in session.exec(
        select(ChannelReservation).where(col(ChannelReservation.sku).in_(skus), ChannelReservation.channel != channel)
    ).all():
        holds[(hold.warehouse, hold.sku)] = holds.get((hold.warehouse, hold.sku), 0) + hold.qty
    return warehouses, pieces, holds


# ---- reservation -------------------------------------------------------------------


def _apply(session: Session, order: Order, result: Plan, respect: bool, cycle: int) -> list[dict[str, Any]]:
    parts: dict[int, int] = {}
    applied = []
    for piece in result.pieces:
        params = {
            "qty": piece.qty,
            "warehouse": piece.warehouse,
            "sku": piece.sku,
            "channel": order.channel,
            "respect": 1 if respect else 0,
        }
        if rows_changed(session, _RESERVE, params) != 1:
            raise _LostRace()
        if piece.lot is not None and rows_changed(session, _RESERVE_LOT, {**params, "lot": piece.lot}) != 1:
            raise _LostRace()
        part = parts[piece.line_no] = parts.get(piece.line_no, -1) + 1
        session.add(
            StockMovement(
                order_id=order.id,
                line_no=piece.line_no,
                operation="reserve",
                warehouse=piece.warehouse,
                sku=piece.sku,
                qty=piece.qty,
                lot=piece.lot,
                part=part,
                cycle=cycle,
                reason="order reservation",
            )
        )
        applied.append(
            {"line": piece.line_no, "sku": piece.sku, "qty": piece.qty, "warehouse": piece.warehouse, "lot": piece.lot}
        )
    session.flush()
    return applied


def reserve_order(session: Session, order: Order, allocation: str = DEFAULT_ALLOCATION) -> tuple[str, dict]:
    """Allocate and reserve every line of ``order`` in the session's transaction; raises Short.

    Idempotent: an order holding open reservations gets them back unchanged.
    """
    moves = _movements(session, order.id)
    held = _open(moves)
    if held:
        allocations = [_view(m) for m in held]
        return "stock already reserved", {"allocations": allocations}
    cycle = max((m.cycle for m in moves if m.operation == "reserve"), default=-1) + 1
    rules, definition = allocation_for(session, allocation, order)
    skus = {line["sku"] for line in order.document["lines"]}
    items = {s.sku: s for s in session.exec(select(Sku).where(col(Sku.sku).in_(skus))).all()}
    request = _request(order, items)
    for attempt in range(MAX_PLANS):
        warehouses, pieces, holds = snapshot(session, skus, order.channel, items)
        result = plan(rules, request, warehouses, pieces, holds)
        if not result.allocated:
            missing = "; ".join(f"line {s.line_no}: {s.missing} more {s.sku}" for s in result.shortages)
            raise Short(
                order.id,
                result,
                f"cannot allocate ({missing or 'split refused'}): " + "; ".join(result.why),
                definition,
            )
        try:
            with session.begin_nested():
                allocations = _apply(session, order, result, rules.channel_reserve, cycle)
        except _LostRace:
            log.info("order %s lost a reservation race (plan %d); planning again", order.id, attempt + 1)
            continue
        _close_backorders(session, order.id, "filled")
        check_alerts(session, skus)
        mark_changed(session, {a["sku"] for a in allocations})
        summary = ", ".join(
            f"{a['qty']} x {a['sku']} from {a['warehouse']}" + (f" lot {a['lot']}" if a["lot"] else "")
            for a in allocations
        )
        why = "; ".join(result.why)
        return f"reserved {summary} (allocation {definition['name']} v{definition['version']}: {why})", {
            "allocations": allocations,
            "allocation": definition,
            "why": list(result.why),
            "shipments": [vars(p) for p in result.parcels],
            "plans": attempt + 1,
        }
    raise StepFailed("contention", f"stock changed under {MAX_PLANS} plans in a row; trying again", retryable=True)


def _reserve(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    return reserve_order(session, order, inp.params.get("allocation", DEFAULT_ALLOCATION))


def record_backorders(order_id: str, result: Plan) -> list[str]:
    """Remember what the order waits for, so that a receipt of those SKUs wakes it (own transaction)."""
    skus = []
    with session_scope() as session:
        for shortage in result.shortages:
            row = session.get(Backorder, (order_id, shortage.sku))
            if row is None:
                row = Backorder(order_id=order_id, sku=shortage.sku, qty=shortage.missing)
            row.qty, row.status, row.closed_at = shortage.missing, "open", None
            session.add(row)
            skus.append(shortage.sku)
    return skus


def _close_backorders(session: Session, order_id: str, status: str) -> None:
    for row in session.exec(select(Backorder).where(Backorder.order_id == order_id, Backorder.status == "open")).all():
        row.status, row.closed_at = status, utcnow()
        session.add(row)


# ---- the order's reservations: open, shipped, released ------------------------------------


def _view(move: StockMovement) -> dict[str, Any]:
    return {"line": move.line_no, "sku": move.sku, "qty": move.qty, "warehouse": move.warehouse, "lot": move.lot}


def _movements(session: Session, order_id: str) -> list[StockMovement]:
    return list(
        session.exec(select(StockMovement).where(StockMovement.order_id == order_id).order_by(col(StockMovement.id)))
    )


def open_reservations(session: Session, order_id: str) -> list[StockMovement]:
    """Reservations of the order not yet released or shipped (each with line_no, sku, qty, warehouse, lot)."""
    return _open(_movements(session, order_id))


def _open(moves: list[StockMovement]) -> list[StockMovement]:
    closed = {(m.line_no, m.cycle, m.part) for m in moves if m.operation in ("release", "ship")}
    return [m for m in moves if m.operation == "reserve" and (m.line_no, m.cycle, m.part) not in closed]


def _close(
    session: Session,
    order_id: str,
    operation: str,
    reason: str,
    warehouse: str | None = None,
    held: list[StockMovement] | None = None,
) -> list[dict]:
    statement, lot_statement = (_SHIP, _SHIP_LOT) if operation == "ship" else (_UNRESERVE, _UNRESERVE_LOT)
    moved = []
    for move in open_reservations(session, order_id) if held is None else held:
        if warehouse is not None and move.warehouse != warehouse:
            continue
        params = {"qty": move.qty, "warehouse": move.warehouse, "sku": move.sku}
        session.execute(statement, params)
        if move.lot is not None:
            session.execute(lot_statement, {**params, "lot": move.lot})
        session.add(
            StockMovement(
                order_id=order_id,
                line_no=move.line_no,
                operation=operation,
                warehouse=move.warehouse,
                sku=move.sku,
                qty=move.qty,
                lot=move.lot,
                part=move.part,
                cycle=move.cycle,
                reason=reason,
            )
        )
        moved.append(_view(move))
    mark_changed(session, {m["sku"] for m in moved})
    session.flush()
    return moved


def ship_reserved(
    session: Session,
    order_id: str,
    warehouse: str | None = None,
    reason: str = "shipped",
    held: list[StockMovement] | None = None,
) -> list[dict]:
    """Move the order's open reservations (of one warehouse, if given) out of stock as ``ship`` rows.

    ``held``: its open reservations, when the caller has just read them (``open_reservations``).
    """
    return _close(session, order_id, "ship", reason, warehouse, held)


def release_reserved(session: Session, order_id: str, reason: str) -> list[dict]:
    """Give the order's open reservations back to available stock; stop waiting for backordered stock."""
    released = _close(session, order_id, "release", reason)
    _close_backorders(session, order_id, "cancelled")
    if released:
        check_alerts(session, {r["sku"] for r in released})
    return released


def _release(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    released = release_reserved(session, order.id, inp.params.get("reason", "order cancelled"))
    if not released:
        return "no reserved stock to release", {"released": []}
    summary = ", ".join(f"{r['qty']} x {r['sku']} to {r['warehouse']}" for r in released)
    return f"released {summary}", {"released": released}


# ---- activities ------------------------------------------------------------------------


def reserve_stock(inp: StepInput) -> StepResult:
    """Allocate and reserve every line in one transaction: all lines or none.

    Failure ``out_of_stock`` (the definition's when_short: backorder; the SKUs
    short are recorded as backorders) or ``unallocatable`` (when_short: cancel).
    """
    try:
        return run_step(inp, "stock_reserved", _reserve)
    except Short as short:
        skus = record_backorders(short.order_id, short.plan) if short.failure == "out_of_stock" else []
        raise StepFailed(
            short.failure,
            short.message,
            details={
                "allocation": short.definition,
                "why": list(short.plan.why),
                "backordered": skus,
                "shortages": [vars(s) for s in short.plan.shortages],
            },
        ) from None


async def release_stock(inp: StepInput, client: Client) -> StepResult:
    """Give the order's open reservations back to available stock; wake orders backordered on it."""
    result = await asyncio.to_thread(run_step, inp, "stock_released", _release)
    released: dict[tuple[str, str], int] = {}
    for row in result.data.get("released", []):
        released[(row["sku"], row["warehouse"])] = released.get((row["sku"], row["warehouse"]), 0) + row["qty"]
    if released:
        for (sku, warehouse), qty in sorted(released.items()):
            await wake(client, sku, warehouse, qty)
    return result
