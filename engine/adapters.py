"""The contracts of carrier and payment adapters: what the OMS asks and what it gets back.

A carrier adapter books a parcel (a tracking number and a label), voids a
parcel's label and tells where a parcel is. A payment adapter captures an
authorised payment, refunds a captured one and voids an authorisation. The
built-in ``simulated`` adapters (services/fulfilment/carriers.py,
services/orders/payments.py) answer from inside the OMS; an ``http`` adapter
(engine/http_adapters.py) is configured as data in the ``carriers`` and
``payments`` definitions and calls a provider's API.

Adapters raise typed failures of their own (services/errors.py); the requests
and results here are plain values, so that a step can compare what it asked
with what it planned (a retried step never books a parcel it did not plan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# What a parcel can go through once it has left; each is also the order event the flow hears.
TRACKING_TYPES = ("in_transit", "out_for_delivery", "delivered", "exception")
# What a carrier's status can mean: nothing happened yet (the label exists), or one of TRACKING_TYPES.
PARCEL_STATES = ("label_created", *TRACKING_TYPES)


@dataclass(frozen=True)
class ParcelRequest:
    """One parcel to book: who sends it, who gets it, how heavy, which service."""

    order_id: str
    parcel: int
    carrier: str
    service: str
    weight_kg: float
    sender: dict[str, Any]
    recipient: dict[str, Any]
    value: float = 0.0
    customer: dict[str, Any] = field(default_factory=dict)
    external_id: str = ""

    @property
    def reference(self) -> str:
        """The OMS's own name of the parcel (order id and parcel number), sent to a carrier as its reference."""
        return f"{self.order_id}-{self.parcel}"

    def context(self) -> dict[str, Any]:
        """What an HTTP adapter's mapping sees for ``create``."""
        return {
            "order_id": self.order_id,
            "external_id": self.external_id,
            "parcel": self.parcel,
            "reference": self.reference,
            "carrier": self.carrier,
            "service": self.service,
            "weight_kg": self.weight_kg,
            "weight_g": round(self.weight_kg * 1000),
            "value": self.value,
            "sender": dict(self.sender),
            "recipient": dict(self.recipient),
            "customer": dict(self.customer),
        }


@dataclass(frozen=True)
class CarrierShipment:
    """A booked parcel: its tracking number and what the label shows (``label_url`` when the carrier made one)."""

    tracking_number: str
    label: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParcelRef:
    """A parcel the carrier booked: what cancel and track ask about."""

    carrier: str
    tracking_number: str
    reference: str = ""  # the carrier's own id of the booking (e.g. Shippo's transaction object_id)
    order_id: str = ""
    parcel: int = 0

    def context(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "reference": self.reference,
            "order_id": self.order_id,
            "parcel": self.parcel,
        }


@dataclass(frozen=True)
class LabelVoided:
    reference: str = ""  # the carrier's id of the cancellation, when it gives one
    status: str = ""


@dataclass(frozen=True)
class ParcelStatus:
    """Where the carrier says a parcel is: one of PARCEL_STATES, with the carrier's own words."""

    tracking_number: str
    state: str
    carrier_status: str = ""
    description: str = ""
    at: str = ""


class CarrierAdapter(Protocol):
    def create_shipment(self, request: ParcelRequest) -> CarrierShipment: ...

    def cancel_shipment(self, parcel: ParcelRef) -> LabelVoided: ...

    def track(self, parcel: ParcelRef) -> ParcelStatus: ...


@dataclass(frozen=True)
class PaymentRequest:
    """Money to move for an order: the provider's payment (``reference``), the amount, a key that makes a retry safe."""

    order_id: str
    amount: float
    reference: str = ""  # the provider's id of the payment (e.g. a Stripe PaymentIntent id)
    method: str = ""
    idempotency_key: str = ""
    external_id: str = ""

    def context(self) -> dict[str, Any]:
        """What an HTTP adapter's mapping sees for capture, refund and void."""
        return {
            "order_id": self.order_id,
            "external_id": self.external_id,
            "amount": self.amount,
            "amount_minor": round(self.amount * 100),
            "reference": self.reference,
            "method": self.method,
            "idempotency_key": self.idempotency_key,
        }


@dataclass(frozen=True)
class PaymentResult:
    """What the provider answered: the id of the capture, refund or cancellation, and its status."""

    reference: str
    status: str = ""


class PaymentAdapter(Protocol):
    def capture(self, request: PaymentRequest) -> PaymentResult: ...

    def refund(self, request: PaymentRequest) -> PaymentResult: ...

    def void(self, request: PaymentRequest) -> PaymentResult: ...


# The operations of each contract, as an HTTP adapter names its sections.
CARRIER_OPERATIONS = ("create", "cancel", "track")
PAYMENT_OPERATIONS = ("capture", "refund", "void")
