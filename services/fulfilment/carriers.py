"""Carrier adapters: create a shipment (tracking number + label data), void its label, track it.

A carrier in the ``carriers`` definition names its adapter. The built-in
``simulated`` adapter issues tracking numbers itself and lets an operator (or
a test) move a parcel along in_transit -> out_for_delivery -> delivered, or to
an exception, through the same path a real carrier's webhook takes
(``record_tracking``). An ``http`` adapter calls the carrier's API as the
definition configures it (engine/http_adapters.py, services/adapter_calls.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from engine.adapters import (
    TRACKING_TYPES,
    CarrierAdapter,
    CarrierShipment,
    LabelVoided,
    ParcelRef,
    ParcelRequest,
    ParcelStatus,
)
from engine.carriers import Carrier
from engine.http_adapters import HTTP, HttpAdapter
from oms.models import Order, Shipment, TrackingEvent, utcnow
from services.adapter_calls import ProviderFailed, call
from services.errors import Conflict, DomainError, Invalid, NotFound
from services.rows import required

__all__ = ["TRACKING_TYPES", "CarrierAdapter", "CarrierShipment", "ParcelRequest"]

ORDER_EVENT = {
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "exception": "delivery_exception",
}
PROGRESS = {"label_created": 0, "in_transit": 1, "out_for_delivery": 2, "delivered": 3, "exception": 1}


@dataclass(frozen=True)
class CarrierEvent:
    tracking_number: str
    type: str
    event_id: str
    description: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class TrackingRefused(DomainError):
    """A tracking event that cannot be taken; nothing was recorded."""


class TrackingInvalid(TrackingRefused, Invalid):
    """The event has no tracking number or a type that is not one of TRACKING_TYPES."""


class UnknownParcel(TrackingRefused, NotFound):
    """No parcel of that carrier has the tracking number."""


class TrackingConflict(TrackingRefused, Conflict):
    """The parcel is delivered already, or the same event is being recorded at this moment."""


def parse_event(payload: dict[str, Any]) -> CarrierEvent:
    """A tracking webhook's generic payload {tracking_number, type, event_id, description, data}."""
    number = str(payload.get("tracking_number") or "").strip()
    kind = str(payload.get("type") or "").strip()
    if not number:
        raise TrackingInvalid("tracking_number_required", "tracking_number is required", field="tracking_number")
    if kind not in TRACKING_TYPES:
        raise TrackingInvalid(
            "unknown_tracking_type", f"type: {kind!r} is not one of {', '.join(TRACKING_TYPES)}", field="type"
        )
    event_id = str(payload.get("event_id") or f"{number}:{kind}:{payload.get('at', '')}")
    return CarrierEvent(number, kind, event_id, str(payload.get("description") or ""), dict(payload.get("data") or {}))


class SimulatedCarrier:
    """A carrier that lives inside the OMS: deterministic tracking numbers, events on demand."""

    SEQUENCE = ("in_transit", "out_for_delivery", "delivered")

    def create_shipment(self, request: ParcelRequest) -> CarrierShipment:
        digest = hashlib.sha256(f"{request.order_id}:{request.parcel}".encode()).hexdigest()
        number = "SIM" + digest[:12].upper()
        country = str(request.recipient.get("country") or "")
        postal = str(request.recipient.get("postal_code") or "")
        return CarrierShipment(
            number,
            {
                "routing_code": f"{country}-{postal[:2]}-{request.sender.get('code', '')}",
                "barcode": number,
                "service": request.service,
            },
        )

    def cancel_shipment(self, parcel: ParcelRef) -> LabelVoided:
        return LabelVoided(f"VOID-{parcel.tracking_number}", "voided")

    def track(self, parcel: ParcelRef) -> ParcelStatus:
        """The simulated carrier knows no more than its parcels' rows: events come from ``advance``."""
        return ParcelStatus(parcel.tracking_number, "label_created", "label_created")

    def parse_event(self, payload: dict[str, Any]) -> CarrierEvent:
        return parse_event(payload)

    def next_type(self, status: str) -> str | None:
        """The event that moves a parcel on from ``status``; None once delivered."""
        if status in ("label_created", "exception"):
            return self.SEQUENCE[0]
        if status in self.SEQUENCE[:-1]:
            return self.SEQUENCE[self.SEQUENCE.index(status) + 1]
        return None


class HttpCarrier:
    """A carrier's API, called as its ``adapter: {type: http}`` section says."""

    def __init__(self, name: str, http: HttpAdapter):
        self.name = name
        self.http = http
        self.who = f"carrier {name!r}"

    def create_shipment(self, request: ParcelRequest) -> CarrierShipment:
        key = f"oms-{request.reference}-create"
        answer = call(self.http, "create", request.context(), self.who, key)
        if not answer.get("label_url", "https://").startswith(("https://", "http://")):
            # The label page links it: nothing but a web address may go there.
            raise ProviderFailed(
                "carrier_failed",
                f"{self.who}: the answer to create does not match the mapping: "
                f"{self.http.where}.create.label_url: {answer['label_url'][:80]!r} is not an http(s) URL",
            )
        label = {"barcode": answer["tracking_number"], "service": request.service}
        label.update({name: answer[name] for name in ("label_url", "reference") if name in answer})
        return CarrierShipment(answer["tracking_number"], label)

    def cancel_shipment(self, parcel: ParcelRef) -> LabelVoided:
        self._needs("cancel")
        answer = call(self.http, "cancel", parcel.context(), self.who, f"oms-{parcel.tracking_number}-cancel")
        return LabelVoided(answer.get("reference", ""), answer.get("status", ""))

    def track(self, parcel: ParcelRef) -> ParcelStatus:
        self._needs("track")
        answer = call(self.http, "track", parcel.context(), self.who)
        return ParcelStatus(
            parcel.tracking_number,
            answer["state"],
            answer["status"],
            answer.get("description", ""),
            answer.get("at", ""),
        )

    def _needs(self, operation: str) -> None:
        if not self.http.has(operation):
            raise CarrierCannot(
                "carrier_cannot", f"{self.who} has no `{operation}` section in its adapter ({self.http.where})"
            )


class CarrierCannot(Invalid):
    """The carrier's adapter does not offer the operation (an http adapter without that section)."""


ADAPTERS: dict[str, SimulatedCarrier] = {"simulated": SimulatedCarrier()}


def adapter(name: str) -> SimulatedCarrier:
    """A built-in adapter by name (a return's label names one in its step's params)."""
    return ADAPTERS[name]


def carrier_adapter(carrier: Carrier) -> CarrierAdapter:
    """The adapter a carrier of a ``carriers`` definition books, voids and tracks its parcels with."""
    if carrier.adapter == HTTP and carrier.http is not None:
        return HttpCarrier(carrier.name, carrier.http)
    return ADAPTERS[carrier.adapter]


def is_remote(adapter: CarrierAdapter) -> bool:
    """Whether the adapter calls out (then a step calls it outside its transaction)."""
    return isinstance(adapter, HttpCarrier)


@dataclass(frozen=True)
class Tracked:
    """A tracking event taken: the parcel, whether it was new, and the order event to signal (if any)."""

    order_id: str
    workflow_id: str
    shipment_id: int
    tracking_number: str
    type: str
    duplicate: bool
    order_event: str | None
    data: dict[str, Any]


def order_event_for(before: list[str], after: list[str], kind: str) -> str | None:
    """The order-level event a parcel event makes, given every parcel's status before and after.

    The order hears each stage once: in transit when its first parcel moves,
    out for delivery when the first goes out, delivered when the last arrives;
    an exception on any parcel is always heard.
    """
    if kind == "exception":
        return ORDER_EVENT[kind]
    if kind == "delivered":
        return ORDER_EVENT[kind] if all(s == "delivered" for s in after) else None
    stage = PROGRESS[kind]
    if max((PROGRESS[s] for s in before if s != "exception"), default=0) < stage:
        return ORDER_EVENT[kind]
    return None


def record_tracking(session: Session, carrier: str, event: CarrierEvent) -> Tracked:
    """Store a tracking event on its parcel (once per event id) and say what the order should hear."""
    shipment = session.exec(select(Shipment).where(Shipment.tracking_number == event.tracking_number)).first()
    if shipment is None:
        raise UnknownParcel(
            "parcel_not_found", f"tracking_number: no parcel {event.tracking_number!r}", field="tracking_number"
        )
    if shipment.carrier != carrier and shipment.adapter != carrier:
        raise UnknownParcel(
            "parcel_of_other_carrier",
            f"parcel {event.tracking_number} is not carried by {carrier!r}",
            field="tracking_number",
        )
    order = required(session, Order, shipment.order_id)
    shipment_id = shipment.id
    assert shipment_id is not None  # read from the table, so it has its key
    existing = session.exec(
        select(TrackingEvent).where(TrackingEvent.carrier == shipment.carrier, TrackingEvent.event_id == event.event_id)
    ).first()

    def tracked(duplicate: bool, order_event: str | None, data: dict[str, Any]) -> Tracked:
        return Tracked(
            order_id=order.id,
            workflow_id=order.workflow_id,
            shipment_id=shipment_id,
            tracking_number=shipment.tracking_number,
            type=event.type,
            duplicate=duplicate,
            order_event=order_event,
            data=data,
        )

    if existing is not None:
        # A carrier retrying a webhook whose signal did not go out gets it sent again.
        return tracked(True, existing.data.get("order_event"), existing.data)
    parcels = session.exec(select(Shipment).where(Shipment.order_id == order.id).order_by(col(Shipment.parcel))).all()
    before = [p.status for p in parcels]
    if shipment.status == "delivered":
        raise TrackingConflict("parcel_delivered", f"parcel {shipment.tracking_number} is delivered already")
    shipment.status = event.type
    shipment.updated_at = utcnow()
    session.add(shipment)
    after = [p.status for p in parcels]
    heard = order_event_for(before, after, event.type)
    data = {
        **event.data,
        "tracking_number": shipment.tracking_number,
        "parcel": shipment.parcel,
        "carrier": shipment.carrier,
        "status": event.type,
        "description": event.description,
        "order_event": heard,
    }
    session.add(
        TrackingEvent(
            shipment_id=shipment_id,
            order_id=order.id,
            carrier=shipment.carrier,
            event_id=event.event_id,
            type=event.type,
            description=event.description,
            data=data,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:  # the same event raced in twice: the other request signals
        raise TrackingConflict("event_in_progress", f"event {event.event_id} is being recorded already") from exc
    return tracked(False, heard, data)
