"""JSON views of returns for the API and the pages."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlmodel import Session, col, select

from oms.models import Return, ReturnEvent, ReturnLine, StockMovement, Task, utcnow
from services.orders.views import task_view, timeline_entry
from services.rule_reasons import audit_for_api


def return_summary(ret: Return) -> dict[str, Any]:
    return {
        "id": ret.id,
        "order_id": ret.order_id,
        "status": ret.status,
        "kind": ret.kind,
        "reason": ret.reason,
        "value": ret.value,
        "refunded": ret.refunded,
        "replacement_sku": ret.replacement_sku,
        "exchange_order_id": ret.exchange_order_id,
        "flow": {"name": ret.flow_name, "version": ret.flow_version},
        "created_at": ret.created_at.isoformat(),
        "updated_at": ret.updated_at.isoformat(),
        "closed_at": ret.closed_at.isoformat() if ret.closed_at else None,
        "age_days": round((utcnow() - _aware(ret.created_at)).total_seconds() / 86400, 2),
    }


def _aware(at):

    return at if at.tzinfo else at.replace(tzinfo=UTC)


def return_detail(session: Session, ret: Return, wording: bool = False) -> dict[str, Any]:
    """The return with its lines, QC result, refund, exchange order, tasks, stock movements and timeline;
    ``wording``: as the page reads it (``services.orders.views.order_detail``)."""
    lines = session.exec(
        select(ReturnLine).where(ReturnLine.return_id == ret.id).order_by(col(ReturnLine.line_no))
    ).all()
    events = session.exec(
        select(ReturnEvent).where(ReturnEvent.return_id == ret.id).order_by(col(ReturnEvent.seq))
    ).all()
    tasks = session.exec(select(Task).where(Task.return_id == ret.id).order_by(col(Task.created_at))).all()
    moves = session.exec(
        select(StockMovement).where(StockMovement.order_id == ret.id).order_by(col(StockMovement.id))
    ).all()
    refund = next((e.data for e in events if e.type == "refunded"), None)
    qc = [
        {
            "line": line.line_no,
            "sku": line.sku,
            "qty": line.qty,
            "results": line.results,
            "restocked": line.restocked,
            "written_off": line.written_off,
        }
        for line in lines
        if line.results
    ]
    return {
        **return_summary(ret),
        "comment": ret.comment,
        "photos": ret.photos,
        "label": ret.label,
        "audit": ret.audit if wording else audit_for_api(ret.audit),
        "refunded_shipping": ret.refunded_shipping,
        "created_by": ret.created_by,
        "lines": [
            {
                "line": line.line_no,
                "sku": line.sku,
                "qty": line.qty,
                "price": line.price,
                "counted": line.counted,
                "results": line.results,
                "restocked": line.restocked,
                "written_off": line.written_off,
            }
            for line in lines
        ],
        "qc": qc or None,
        "refund": refund,
        "tasks": [task_view(t) for t in tasks],
        "pins": ret.pins,
        "stock_movements": [
            {
                "id": m.id,
                "operation": m.operation,
                "warehouse": m.warehouse,
                "sku": m.sku,
                "qty": m.qty,
                "lot": m.lot,
                "reason": m.reason,
                "at": m.at.isoformat(),
            }
            for m in moves
        ],
        "timeline": [
            timeline_entry(
                e, wording, seq=e.seq, type=e.type, step=e.step, status=e.status, message=e.message, data=e.data
            )
            for e in events
        ],
    }


def return_query(
    status: str | None = None,
    reason: str | None = None,
    order_id: str | None = None,
    older_than_days: float | None = None,
    newer_than_days: float | None = None,
):
    query = select(Return)
    if status:
        query = query.where(Return.status == status)
    if reason:
        query = query.where(Return.reason == reason)
    if order_id:
        query = query.where(Return.order_id == order_id)
    if older_than_days is not None:
        query = query.where(Return.created_at <= utcnow() - timedelta(days=older_than_days))
    if newer_than_days is not None:
        query = query.where(Return.created_at >= utcnow() - timedelta(days=newer_than_days))
    return query
