"""Asking a parcel's carrier where it is, through the adapter of the carriers definition that booked it.

A carrier whose API has no webhook for us (or one that was missed) is asked
on demand: ``ask_carrier`` reads the parcel, calls the carrier's ``track``
operation with no transaction open, and says which tracking event, if any,
its answer means. The caller records that event as a webhook's would be
(``record_tracking``), so the order hears it once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from engine.adapters import TRACKING_TYPES, ParcelRef, ParcelStatus
from oms.db import get_read_engine
from oms.models import Order, Shipment
from services.definitions.pinned import pinned_model
from services.errors import Conflict
from services.fulfilment.carriers import CarrierAdapter, CarrierEvent, carrier_adapter, is_remote
from services.rows import required


@dataclass(frozen=True)
class CarrierAnswer:
    """What the carrier said, and the tracking event it means (None: nothing new to record)."""

    status: ParcelStatus
    event: CarrierEvent | None


class CarrierNotAsked(Conflict):
    """The parcel's carrier has no API to ask (a built-in carrier, or a parcel booked before adapters)."""


def _booked_with(session: Session, shipment: Shipment) -> CarrierAdapter | None:
    """The adapter of the carrier in the carriers definition (as the order pinned it) that booked the parcel."""
    name = shipment.label.get("carriers_definition")
    if not name:
        return None
    order = required(session, Order, shipment.order_id)
    table, _ = pinned_model(session, order.pins, "carriers", str(name))
    carrier = table.carriers.get(shipment.carrier) if table is not None else None
    return carrier_adapter(carrier) if carrier is not None else None


def ask_carrier(shipment_id: int) -> CarrierAnswer:
    """The carrier's word on the parcel; raises CarrierNotAsked, or the adapter's typed failures."""
    with Session(get_read_engine()) as session:
        shipment = required(session, Shipment, shipment_id)
        adapter = _booked_with(session, shipment)
        parcel = ParcelRef(
            shipment.carrier,
            shipment.tracking_number,
            str(shipment.label.get("reference") or ""),
            shipment.order_id,
            shipment.parcel,
        )
        current = shipment.status
    if adapter is None or not is_remote(adapter):
        raise CarrierNotAsked(
            "carrier_not_asked",
            f"parcel {parcel.tracking_number} goes with {parcel.carrier!r}, which has no API to ask; "
            "its tracking comes from webhooks (or, simulated, from /advance)",
        )
    status = adapter.track(parcel)
    if status.state not in TRACKING_TYPES or status.state == current:
        return CarrierAnswer(status, None)
    event_id = f"{parcel.tracking_number}:{status.carrier_status}:{status.at}"
    return CarrierAnswer(status, CarrierEvent(parcel.tracking_number, status.state, event_id, status.description))
