"""Shipping with the built-in simulated carrier."""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlmodel import Session
from temporalio import activity

from activities.contracts import StepInput, StepResult
from activities.inventory import open_reservations
from activities.steps import run_step
from oms.models import Order, Shipment, StockMovement

_SHIP = text(
    "UPDATE stock SET reserved = reserved - :qty, on_hand = on_hand - :qty "
    "WHERE warehouse = :warehouse AND sku = :sku"
)


def tracking_number(order_id: str) -> str:
    return "SIM" + hashlib.sha256(order_id.encode()).hexdigest()[:12].upper()


def _ship(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    warehouses = []
    for move in open_reservations(session, order.id):
        session.execute(_SHIP, {"qty": move.qty, "warehouse": move.warehouse, "sku": move.sku})
        session.add(
            StockMovement(
                order_id=order.id, line_no=move.line_no, operation="ship", warehouse=move.warehouse,
                sku=move.sku, qty=move.qty, reason="shipped",
            )
        )
        if move.warehouse not in warehouses:
            warehouses.append(move.warehouse)
    carrier = inp.params.get("carrier", "simulated")
    number = tracking_number(order.id)
    session.add(Shipment(order_id=order.id, carrier=carrier, tracking_number=number, warehouses=warehouses))
    return f"shipped with {carrier}, tracking {number}", {
        "carrier": carrier, "tracking_number": number, "warehouses": warehouses,
    }


@activity.defn(name="create_shipment")
def create_shipment(inp: StepInput) -> StepResult:
    """Ship the reserved stock: the ledger moves it out, the carrier gives a tracking number."""
    return run_step(inp, "shipped", _ship)
