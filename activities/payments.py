"""Payments: record what the payment provider told us."""

from __future__ import annotations

from sqlmodel import Session
from temporalio import activity

from activities.contracts import StepInput, StepResult
from activities.steps import run_step
from oms.models import Order


def _mark_paid(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    event = inp.event or {}
    document = dict(order.document)
    document["payment"] = {**(document.get("payment") or {}), "status": "paid", **{
        k: v for k, v in event.items() if k in ("amount", "reference", "method")
    }}
    order.document = document
    session.add(order)
    reference = event.get("reference")
    return "payment received" + (f" (ref {reference})" if reference else ""), {"payment": document["payment"]}


@activity.defn(name="mark_paid")
def mark_paid(inp: StepInput) -> StepResult:
    """Mark the order paid with the data of the payment event that arrived."""
    return run_step(inp, "payment_recorded", _mark_paid)
