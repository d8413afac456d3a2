"""The order's timeline and status (its human tasks: ``services.orders.tasks``).

Every write carries the workflow's sequence number; the timeline row
(order, seq) is written in the same transaction as the change it records, so
an activity retried after a crash sees its own row and does nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from oms.db import session_scope
from oms.models import Order, OrderEvent, utcnow
from services import analytics
from services.rows import required
from services.timeline_words import worded
from workflows.contracts import Progress


def already_recorded(session: Session, order_id: str, seq: int) -> bool:
    return (
        session.exec(select(OrderEvent.id).where(OrderEvent.order_id == order_id, OrderEvent.seq == seq)).first()
        is not None
    )


def record(session: Session, progress: Progress) -> None:
    """Append a timeline line and set the status, in the caller's transaction."""
    session.add(
        OrderEvent(
            order_id=progress.order_id,
            seq=progress.seq,
            type=progress.type,
            step=progress.step,
            status=progress.status,
            message=progress.message,
            **worded(progress.type, progress.message),
            data=progress.data,
        )
    )
    order = required(session, Order, progress.order_id)
    if progress.type == MOVED:
        moved_to(order, progress.data)
        session.add(order)
    # Counted first: its counter upsert flushes what is pending (the line, the parcels it counts),
    # and the status set after it goes out with the milestones it records in one UPDATE of the order.
    analytics.observe(session, order, progress.type, progress.status, progress.data)
    if progress.status:
        order.status = progress.status
        order.updated_at = utcnow()
        session.add(order)


# The line a workflow writes when it moves to another version of its flow (workflows/moving.py).
MOVED = "moved"


def moved_to(row: Any, data: dict[str, Any]) -> None:
    """The order's (or return's) row follows its workflow to the new flow version and pins."""
    row.flow_version = int(data["to_version"])
    if data.get("pins"):
        row.pins = list(data["pins"])
    row.updated_at = utcnow()


def record_progress(progress: Progress) -> None:
    """Write one timeline line (and the new status) unless it is already there."""
    with session_scope() as session:
        if not already_recorded(session, progress.order_id, progress.seq):
            record(session, progress)
