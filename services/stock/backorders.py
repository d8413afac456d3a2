"""Backorders: orders waiting for stock, and waking them when stock of their SKU arrives.

The reservation records what an order lacks (``services.stock.reservation.record_backorders``);
a receipt, return, upward adjustment or transfer in sends each waiting order's
workflow a ``stock_received`` event, and the flow's backorder step tries the
reservation again. An order that cannot take the event any more (its flow
ended) has its backorder closed.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError

from oms.db import get_read_engine, session_scope
from oms.models import Backorder, Order, utcnow
from workflows.contracts import ExternalEvent

log = logging.getLogger("oms.backorders")

EVENT = "stock_received"


def backorder_view(row: Backorder) -> dict[str, Any]:
    return {
        "order_id": row.order_id,
        "sku": row.sku,
        "qty": row.qty,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
    }


def backorders(session: Session, status: str | None = "open", sku: str | None = None) -> list[dict[str, Any]]:
    query = select(Backorder)
    if status:
        query = query.where(Backorder.status == status)
    if sku:
        query = query.where(Backorder.sku == sku)
    return [
        backorder_view(r)
        for r in session.exec(query.order_by(col(Backorder.created_at), col(Backorder.order_id))).all()
    ]


def _waiting(sku: str) -> list[tuple[str, str]]:
    with Session(get_read_engine()) as session:
        rows = session.exec(
            select(Order.id, Order.workflow_id)
            .join(Backorder, col(Backorder.order_id) == Order.id)
            .where(Backorder.sku == sku, Backorder.status == "open")
            .order_by(col(Backorder.created_at))
        ).all()
    return [(order_id, workflow_id) for order_id, workflow_id in rows]


def _close(order_ids: list[str]) -> None:
    with session_scope() as session:
        for row in session.exec(
            select(Backorder).where(col(Backorder.order_id).in_(order_ids), Backorder.status == "open")
        ).all():
            row.status, row.closed_at = "cancelled", utcnow()
            session.add(row)


async def wake(client: Client, sku: str, warehouse: str, qty: int) -> list[str]:
    """Signal every order backordered on ``sku``, oldest first; returns the order ids woken."""
    woken, gone = [], []
    for order_id, workflow_id in await anyio.to_thread.run_sync(_waiting, sku):
        event = ExternalEvent(type=EVENT, data={"sku": sku, "warehouse": warehouse, "qty": qty})
        try:
            await client.get_workflow_handle(workflow_id).signal("event", event)
            woken.append(order_id)
        except RPCError as exc:  # the order's flow has ended: it waits for nothing any more
            log.info("backordered order %s not woken: %s", order_id, exc)
            gone.append(order_id)
    if gone:
        await anyio.to_thread.run_sync(_close, gone)
    return woken
