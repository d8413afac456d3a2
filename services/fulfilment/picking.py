"""Warehouse work: pick, check and pack (automatic steps), and waves of orders picked together.

A flow runs pick, check and pack either as these automatic activities or as
approval steps with ``scan: [done]``, where a person confirms every SKU and
quantity (the workflow's decision validator compares the scans with the
order). Orders waiting at such a pick task (status ``ready_to_pick``) are
batched per warehouse into waves; a wave's pick list sums the SKUs over its
orders so the picker walks the shelves once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from oms.models import Order, Sku, Wave, WaveOrder
from services.errors import Conflict
from services.orders.steps import run_step
from services.stock.reservation import open_reservations
from workflows.contracts import StepInput, StepResult

READY_TO_PICK = "ready_to_pick"
STAGES = {"pick": "picked", "check": "checked", "pack": "packed"}


def _items_by_warehouse(session: Session, order_id: str) -> dict[str, dict[str, int]]:
    items: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for move in open_reservations(session, order_id):
        items[move.warehouse][move.sku] += move.qty
    return {w: dict(skus) for w, skus in items.items()}


def _stage(stage: str):
    def work(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
        items = _items_by_warehouse(session, order.id)
        summary = "; ".join(f"{', '.join(f'{q} x {s}' for s, q in skus.items())} in {w}" for w, skus in items.items())
        return f"{STAGES[stage]} {summary}" if items else f"nothing to {stage}", {"stage": stage, "items": items}

    return work


def pick(inp: StepInput) -> StepResult:
    """Pick the order's reserved items (automatic: no scan)."""
    return run_step(inp, "picked", _stage("pick"))


def check(inp: StepInput) -> StepResult:
    """Check the picked items against the order (automatic)."""
    return run_step(inp, "checked", _stage("check"))


def pack(inp: StepInput) -> StepResult:
    """Pack the order's items (automatic)."""
    return run_step(inp, "packed", _stage("pack"))


# ---- waves -----------------------------------------------------------------------------


class WaveRefused(Conflict):
    """No wave can be made now: no order of the warehouse is ready to pick."""


def ready_to_pick(
    session: Session, warehouse: str, limit: int, channels: Sequence[str] = ()
) -> list[tuple[Order, dict[str, int]]]:
    """Orders waiting to be picked that hold stock in ``warehouse`` and are in no wave, oldest first
    (of ``channels`` only, if given)."""
    waved = select(WaveOrder.order_id)
    query = select(Order).where(Order.status == READY_TO_PICK, col(Order.id).not_in(waved))
    if channels:
        query = query.where(col(Order.channel).in_(channels))
    orders = session.exec(query.order_by(col(Order.created_at), col(Order.id))).all()
    ready = []
    for order in orders:
        items = _items_by_warehouse(session, order.id).get(warehouse)
        if items:
            ready.append((order, items))
        if len(ready) >= limit:
            break
    return ready


def create_wave(session: Session, warehouse: str, max_orders: int, user: str, channels: Sequence[str] = ()) -> Wave:
    """A wave of up to ``max_orders`` ready orders of ``warehouse`` (of ``channels`` only, if given: a
    channel-scoped operator batches its channels' orders); refused when none is ready."""
    ready = ready_to_pick(session, warehouse, max_orders, channels)
    if not ready:
        raise WaveRefused("nothing_to_pick", f"no order in warehouse {warehouse} is ready to pick")
    names = {s.sku: s.name for s in session.exec(select(Sku)).all()}
    lines: dict[str, dict[str, Any]] = {}
    for order, items in ready:
        for sku, qty in items.items():
            line = lines.setdefault(sku, {"sku": sku, "name": names.get(sku, sku), "qty": 0, "orders": []})
            line["qty"] += qty
            line["orders"].append({"order_id": order.id, "external_id": order.external_id, "qty": qty})
    wave = Wave(
        id=f"wave_{uuid.uuid4().hex[:10]}",
        warehouse=warehouse,
        orders=[o.id for o, _ in ready],
        lines=sorted(lines.values(), key=lambda line: line["sku"]),
        created_by=user,
    )
    session.add(wave)
    session.flush()
    session.add_all([WaveOrder(order_id=o.id, wave_id=wave.id) for o, _ in ready])
    session.flush()
    return wave


def wave_view(session: Session, wave: Wave) -> dict[str, Any]:
    statuses = (
        dict(session.exec(select(Order.id, Order.status).where(col(Order.id).in_(wave.orders))).all())
        if wave.orders
        else {}
    )
    return {
        "id": wave.id,
        "warehouse": wave.warehouse,
        "created_by": wave.created_by,
        "created_at": wave.created_at.isoformat(),
        "status": "done" if statuses and all(s != READY_TO_PICK for s in statuses.values()) else "open",
        "orders": [{"id": o, "status": statuses.get(o)} for o in wave.orders],
        "lines": wave.lines,
    }
