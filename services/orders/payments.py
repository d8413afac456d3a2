"""Payments: record what the payment provider told us; refund and void through the order's provider.

The provider of an order's payment comes from the ``payments`` definition the
order pinned (engine/payments.py), by its payment method: the built-in
``simulated`` one, or a provider's API configured as an ``http`` adapter,
called outside the step's transaction (services/adapter_calls.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from engine.adapters import PaymentAdapter, PaymentRequest, PaymentResult
from engine.http_adapters import HTTP, HttpAdapter
from engine.payments import DEFAULT_PAYMENTS
from oms.models import Order
from services.adapter_calls import Answers, CallsNeeded, Pending, ProviderFailed, answer_of, call, with_calls
from services.definitions.pinned import pinned_model
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


class SimulatedPayments:
    """The built-in payment adapter: captures, refunds and voids inside the OMS, with references of its own."""

    def capture(self, request: PaymentRequest) -> PaymentResult:
        return PaymentResult(f"CAPTURE-{request.order_id}", "captured")

    def refund(self, request: PaymentRequest) -> PaymentResult:
        return PaymentResult(f"REFUND-{request.order_id}", "refunded")

    def void(self, request: PaymentRequest) -> PaymentResult:
        return PaymentResult(f"VOID-{request.order_id}", "voided")


class HttpPayments:
    """A payment provider's API, called as its ``adapter: {type: http}`` section says."""

    def __init__(self, name: str, http: HttpAdapter):
        self.name = name
        self.http = http
        self.who = f"payment provider {name!r}"

    def capture(self, request: PaymentRequest) -> PaymentResult:
        return self._call("capture", request)

    def refund(self, request: PaymentRequest) -> PaymentResult:
        return self._call("refund", request)

    def void(self, request: PaymentRequest) -> PaymentResult:
        return self._call("void", request)

    def _call(self, operation: str, request: PaymentRequest) -> PaymentResult:
        if not self.http.has(operation):
            raise ProviderFailed("payment_failed", f"{self.who} has no `{operation}` section ({self.http.where})")
        if not request.reference:
            raise ProviderFailed(
                "payment_failed",
                f"{self.who}: the order's payment has no reference to {operation} "
                "(the payment_received event brings it as `reference`)",
            )
        answer = call(self.http, operation, request.context(), self.who, request.idempotency_key)
        return PaymentResult(answer["reference"], answer.get("status", ""))


# The built-in adapters by name.
PAYMENT_PROVIDERS = {"simulated": SimulatedPayments()}


@dataclass(frozen=True)
class Provider:
    """The provider an order's payment goes through: its name and adapter."""

    name: str
    adapter: PaymentAdapter

    @property
    def remote(self) -> bool:
        return isinstance(self.adapter, HttpPayments)


def provider_of(session: Session, order: Order, definition: str = DEFAULT_PAYMENTS) -> Provider:
    """The provider of the order's payment method in the ``payments`` definition the order pinned.

    An order that pinned none (taken before payments were definitions) pays through the built-in one.
    """
    payments, _ = pinned_model(session, order.pins, "payments", definition)
    if payments is None:
        return Provider("simulated", PAYMENT_PROVIDERS["simulated"])
    chosen = payments.provider_for((order.document.get("payment") or {}).get("method"))
    if chosen.adapter == HTTP and chosen.http is not None:
        return Provider(chosen.name, HttpPayments(chosen.name, chosen.http))
    return Provider(chosen.name, PAYMENT_PROVIDERS[chosen.adapter])


def move_money(
    provider: Provider,
    operation: str,
    request: PaymentRequest,
    answers: Answers,
    pending: Pending,
) -> PaymentResult | None:
    """The provider's answer: at once from a built-in adapter; from an API only outside the transaction
    (None, with the call in ``pending``: services/adapter_calls.py)."""
    act = getattr(provider.adapter, operation)
    if not provider.remote:
        return act(request)
    return answer_of(answers, pending, (operation, request), lambda: act(request))


def payment_request(order: Order, amount: float, key: str) -> PaymentRequest:
    payment = order.document.get("payment") or {}
    return PaymentRequest(
        order_id=order.id,
        amount=amount,
        reference=str(payment.get("reference") or ""),
        method=str(payment.get("method") or ""),
        idempotency_key=key,
        external_id=order.external_id,
    )


def _cancel_payment(session: Session, order: Order, inp: StepInput, answers: Answers | None = None) -> tuple[str, dict]:
    document = dict(order.document)
    payment = dict(document.get("payment") or {})
    status = payment.get("status", "pending")
    if status in ("refunded", "voided"):
        return f"payment already {status}", {"payment": payment}
    provider = provider_of(session, order, str(inp.params.get("payments") or DEFAULT_PAYMENTS))
    pending: Pending = {}
    if status == "paid":
        amount = float(payment.get("amount") or order.total)
        result = move_money(
            provider, "refund", payment_request(order, amount, f"oms-{order.id}-refund"), answers or {}, pending
        )
        if result is None:
            raise CallsNeeded(pending)
        payment.update(status="refunded", refund_reference=result.reference, refunded_amount=amount)
        message = f"payment of {amount:.2f} refunded (ref {result.reference})"
    elif provider.remote and not payment.get("reference"):
        # Nothing was authorised at the provider (no payment reference arrived): nothing to void there.
        payment.update(status="voided")
        message = f"payment voided: no authorisation at {provider.name} to cancel"
    else:
        request = payment_request(order, float(order.total), f"oms-{order.id}-void")
        result = move_money(provider, "void", request, answers or {}, pending)
        if result is None:
            raise CallsNeeded(pending)
        payment.update(status="voided", void_reference=result.reference)
        message = f"payment authorisation voided (ref {result.reference})"
    document["payment"] = payment
    order.document = document
    session.add(order)
    return message, {"payment": payment}


def cancel_payment(inp: StepInput) -> StepResult:
    """Give the money back on cancellation: refund a paid order, void an unpaid authorisation."""
    return with_calls(
        lambda answers: run_step(inp, "payment_cancelled", lambda s, o, i: _cancel_payment(s, o, i, answers))
    )
