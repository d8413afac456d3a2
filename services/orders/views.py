"""Read-model views the API returns (shared by JSON routes and pages)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from oms.models import DecisionRecord, Order, OrderEvent, ReturnEvent, Shipment, StockMovement, Task
from oms.settings import get_settings
from services.rule_reasons import without_translations


def temporal_url(workflow_id: str) -> str:
    settings = get_settings()
    return f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"


def order_summary(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "channel": order.channel,
        "external_id": order.external_id,
        "status": order.status,
        "total": order.total,
        "flow": {"name": order.flow_name, "version": order.flow_version},
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }


def task_view(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "order_id": task.order_id,
        "step": task.step,
        "title": task.title,
        "role": task.role,
        "status": task.status,
        "reason": task.reason,
        "decisions": task.decisions,
        "created_at": task.created_at.isoformat(),
        "due_at": task.due_at.isoformat(),
        "decision": task.decision,
        "decided_by": task.decided_by,
        "comment": task.comment,
        "decided_at": task.decided_at.isoformat() if task.decided_at else None,
        "approvals": task.approvals,
        "needs_approvals": task.needs_approvals,
        "claimed_by": task.claimed_by,
        "escalated_at": task.escalated_at.isoformat() if task.escalated_at else None,
    }


def decision_view(row: DecisionRecord) -> dict[str, Any]:
    return {
        "order_id": row.order_id,
        "task_id": row.task_id,
        "user": row.user,
        "role": row.role,
        "decision": row.decision,
        "comment": row.comment,
        "final": row.final,
        "at": row.at.isoformat(),
    }


def order_detail(session: Session, order: Order, wording: bool = False) -> dict[str, Any]:
    """The order as the API returns it; ``wording``: as the page reads it, with what it needs to say the
    timeline and the rules' reasons in the reader's language (``timeline_entry``, ``services.rule_reasons``)."""
    doc = order.document
    events = session.exec(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(col(OrderEvent.seq))).all()
    moves = session.exec(
        select(StockMovement).where(StockMovement.order_id == order.id).order_by(col(StockMovement.id))
    ).all()
    parcels = session.exec(select(Shipment).where(Shipment.order_id == order.id).order_by(col(Shipment.parcel))).all()
    tasks = session.exec(select(Task).where(Task.order_id == order.id).order_by(col(Task.created_at))).all()
    decisions = session.exec(
        select(DecisionRecord).where(DecisionRecord.order_id == order.id).order_by(col(DecisionRecord.seq))
    ).all()
    audit = order.audit
    return {
        **order_summary(order),
        "workflow_id": order.workflow_id,
        "temporal_url": temporal_url(order.workflow_id),
        "customer": doc.get("customer"),
        "shipping_address": doc.get("shipping_address"),
        "lines": doc.get("lines", []),
        "payment": doc.get("payment"),
        "client_ip": order.client_ip,
        "tags": order.tags,
        "allocations": [
            {"line": m.line_no, "sku": m.sku, "qty": m.qty, "warehouse": m.warehouse, "state": m.operation}
            for m in moves
        ],
        "shipments": [
            {
                "id": p.id,
                "parcel": p.parcel,
                "carrier": p.carrier,
                "service": p.service,
                "price": p.price,
                "tracking_number": p.tracking_number,
                "status": p.status,
                "warehouse": p.warehouse,
                "warehouses": p.warehouses,
                "weight_kg": p.weight_kg,
                "lines": p.lines,
                "consolidation": p.consolidation,
                "created_at": p.created_at.isoformat(),
            }
            for p in parcels
        ],
        "audit": None
        if audit is None
        else {
            "action": audit["action"],
            "fired": audit["fired"] if wording else without_translations(audit["fired"]),
            "tags": audit.get("tags", []),
            "rules": {"name": audit["rules"]["name"], "version": audit["rules"]["version"]},
            "facts": audit["facts"],
        },
        "tasks": [task_view(t) for t in tasks],
        "decisions": [decision_view(d) for d in decisions],
        "pins": order.pins,
        "timeline": [
            timeline_entry(e, wording, seq=e.seq, type=e.type, step=e.step, message=e.message, data=e.data)
            for e in events
        ],
    }


def timeline_entry(line: OrderEvent | ReturnEvent, wording: bool, **fields: Any) -> dict[str, Any]:
    """A timeline line's ``fields`` and its time; ``wording``: also its message's key and values for the page."""
    entry = {**fields, "at": line.at.isoformat()}
    if wording:
        entry.update(message_key=line.message_key, message_values=line.message_values)
    return entry
