"""Payments: record what the payment provider told us."""

from __future__ import annotations

from sqlmodel import Session

from oms.models import Order
from services.orders.steps import run_step
from workflows.contracts import StepInput, StepResult


def _mark_paid(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    event = inp.event or {}
    document = dict(order.document)
    document["payment"] = {
        **(document.get("payment") or {}),
        "status": "paid",
        **{k: v for k, v in event.items() if k in ("amount", "reference", "method")},
    }
    order.document = document
    session.add(order)
    reference = event.get("reference")
    return "payment received" + (f" (ref {reference})" if reference else ""), {"payment": document["payment"]}


def mark_paid(inp: StepInput) -> StepResult:
    """Mark the order paid with the data of the payment event that arrived."""
    return run_step(inp, "payment_recorded", _mark_paid)


class SimulatedPaymentProvider:
    """The built-in payment adapter: voids an unpaid authorisation, refunds a captured payment."""

    name = "simulated"

    def void(self, order_id: str, payment: dict) -> str:
        return f"VOID-{order_id}"

    def refund(self, order_id: str, payment: dict, amount: float) -> str:
        return f"REFUND-{order_id}"


PAYMENT_PROVIDERS = {"simulated": SimulatedPaymentProvider()}


def _cancel_payment(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    document = dict(order.document)
    payment = dict(document.get("payment") or {})
    provider = PAYMENT_PROVIDERS[payment.get("provider", "simulated")]
    status = payment.get("status", "pending")
    if status == "paid":
        amount = float(payment.get("amount") or order.total)
        reference = provider.refund(order.id, payment, amount)
        payment.update(status="refunded", refund_reference=reference, refunded_amount=amount)
        message = f"payment of {amount:.2f} refunded (ref {reference})"
    elif status in ("refunded", "voided"):
        return f"payment already {status}", {"payment": payment}
    else:
        reference = provider.void(order.id, payment)
        payment.update(status="voided", void_reference=reference)
        message = f"payment authorisation voided (ref {reference})"
    document["payment"] = payment
    order.document = document
    session.add(order)
    return message, {"payment": payment}


def cancel_payment(inp: StepInput) -> StepResult:
    """Give the money back on cancellation: refund a paid order, void an unpaid authorisation."""
    return run_step(inp, "payment_cancelled", _cancel_payment)
