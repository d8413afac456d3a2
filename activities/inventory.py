"""Stock: atomic, idempotent reservation against a ledger of movements."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import StepInput, StepResult
from activities.steps import run_step
from oms.models import Order, Stock, StockMovement, Warehouse

_RESERVE = text(
    "UPDATE stock SET reserved = reserved + :qty "
    "WHERE warehouse = :warehouse AND sku = :sku AND on_hand - reserved >= :qty"
)
_UNRESERVE = text(
    "UPDATE stock SET reserved = reserved - :qty WHERE warehouse = :warehouse AND sku = :sku"
)


def _candidate_warehouses(session: Session, sku: str, qty: int, country: str) -> list[str]:
    """Warehouses holding enough of ``sku``: same country first, then most available."""
    rows = session.exec(
        select(Stock.warehouse, Stock.on_hand - Stock.reserved, Warehouse.country)
        .join(Warehouse, Warehouse.code == Stock.warehouse)
        .where(Stock.sku == sku, Stock.on_hand - Stock.reserved >= qty)
    ).all()
    rows.sort(key=lambda r: (r[2] != country, -r[1], r[0]))
    return [r[0] for r in rows]


def _reserve(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    existing = session.exec(
        select(StockMovement).where(StockMovement.order_id == order.id, StockMovement.operation == "reserve")
    ).all()
    if existing:
        allocations = [{"line": m.line_no, "sku": m.sku, "qty": m.qty, "warehouse": m.warehouse} for m in existing]
        return "stock already reserved", {"allocations": allocations}
    country = (order.document.get("shipping_address") or {}).get("country", "")
    allocations = []
    for line_no, line in enumerate(order.document["lines"], start=1):
        sku, qty = line["sku"], int(line["qty"])
        for warehouse in _candidate_warehouses(session, sku, qty, country):
            # The condition in the UPDATE is what prevents overselling: a row
            # changed by a concurrent reservation no longer matches.
            if session.execute(_RESERVE, {"qty": qty, "warehouse": warehouse, "sku": sku}).rowcount == 1:
                break
        else:
            # Nothing was committed: the caller's transaction rolls back every line.
            raise ApplicationError(
                f"line {line_no}: not enough stock of {sku} for {qty}",
                {"line": line_no, "sku": sku, "qty": qty},
                type="out_of_stock",
                non_retryable=True,
            )
        session.add(
            StockMovement(
                order_id=order.id, line_no=line_no, operation="reserve", warehouse=warehouse,
                sku=sku, qty=qty, reason="order reservation",
            )
        )
        allocations.append({"line": line_no, "sku": sku, "qty": qty, "warehouse": warehouse})
    summary = ", ".join(f"{a['qty']} x {a['sku']} from {a['warehouse']}" for a in allocations)
    return f"reserved {summary}", {"allocations": allocations}


def open_reservations(session: Session, order_id: str) -> list[StockMovement]:
    """Reservations of the order not yet released or shipped."""
    moves = session.exec(select(StockMovement).where(StockMovement.order_id == order_id)).all()
    closed = {m.line_no for m in moves if m.operation in ("release", "ship")}
    return [m for m in moves if m.operation == "reserve" and m.line_no not in closed]


def _release(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    released = []
    for move in open_reservations(session, order.id):
        session.execute(_UNRESERVE, {"qty": move.qty, "warehouse": move.warehouse, "sku": move.sku})
        session.add(
            StockMovement(
                order_id=order.id, line_no=move.line_no, operation="release", warehouse=move.warehouse,
                sku=move.sku, qty=move.qty, reason=inp.params.get("reason", "order cancelled"),
            )
        )
        released.append({"line": move.line_no, "sku": move.sku, "qty": move.qty, "warehouse": move.warehouse})
    if not released:
        return "no reserved stock to release", {"released": []}
    summary = ", ".join(f"{r['qty']} x {r['sku']} to {r['warehouse']}" for r in released)
    return f"released {summary}", {"released": released}


@activity.defn(name="reserve_stock")
def reserve_stock(inp: StepInput) -> StepResult:
    """Reserve every line in one transaction: all lines or none (failure: out_of_stock)."""
    return run_step(inp, "stock_reserved", _reserve)


@activity.defn(name="release_stock")
def release_stock(inp: StepInput) -> StepResult:
    """Give the order's open reservations back to available stock."""
    return run_step(inp, "stock_released", _release)
