"""Fulfilment API: parcels, labels, packing slips, carrier tracking, waves and changes in flight."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from oms.db import session_scope
from oms.models import Order, Shipment, TrackingEvent, Warehouse
from oms.settings import get_settings
from services import scopes
from services.adapter_calls import ProviderFailed
from services.fulfilment.carrier_queries import ask_carrier
from services.fulfilment.carriers import ADAPTERS, SimulatedCarrier, UnknownParcel, record_tracking
from services.fulfilment.picking import create_wave, wave_view
from services.notifications import shipment_view
from services.orders import channel_events
from services.orders.changes import request_change, signal_order
from services.orders.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature
from services.returns import parcels as return_parcels
from web import printing
from web.api.params import RowId
from web.api.schemas.fulfilment import (
    ChangeSent,
    OrderParcels,
    ParcelTracked,
    TrackingRecorded,
    WaveList,
    WaveView,
)
from web.deps import CurrentUser, SessionDep, TemporalDep, UserDep, require
from web.limits import limited_body

router = APIRouter(prefix="/api", tags=["fulfilment"])

Operator = Annotated[CurrentUser, Depends(require("operator"))]
Changer = Annotated[CurrentUser, Depends(require("channel", "operator"))]


def _order(session: Session, user: CurrentUser, order_id: str) -> Order:
    """The order, if ``user`` may see it (404 otherwise)."""
    return scopes.visible_order(session, user, order_id)


# ---- parcels and print ------------------------------------------------------------------


def tracking_history(session: Session, shipment_id: int) -> list[dict[str, Any]]:
    rows = session.exec(
        select(TrackingEvent).where(TrackingEvent.shipment_id == shipment_id).order_by(TrackingEvent.id)
    ).all()
    return [
        {"type": r.type, "description": r.description, "event_id": r.event_id, "at": r.at.isoformat()} for r in rows
    ]


@router.get(
    "/orders/{order_id}/shipments",
    summary="The order's parcels with their tracking history",
    response_model=OrderParcels,
)
def order_shipments(order_id: str, session: SessionDep, user: UserDep) -> dict:
    _order(session, user, order_id)
    parcels = session.exec(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.parcel)).all()
    return {"shipments": [{**shipment_view(p), "tracking": tracking_history(session, p.id)} for p in parcels]}


@router.get("/orders/{order_id}/label", response_class=HTMLResponse, summary="Printable labels of every parcel")
def order_label(order_id: str, session: SessionDep, user: UserDep) -> HTMLResponse:
    return printing.printable(printing.labels(session, _order(session, user, order_id)))


@router.get("/shipments/{shipment_id}/label", response_class=HTMLResponse, summary="Printable label of one parcel")
def shipment_label(shipment_id: RowId, session: SessionDep, user: UserDep) -> HTMLResponse:
    order, shipment = printing.shipment_for(session, shipment_id)
    _order(session, user, order.id)
    return printing.printable(printing.labels(session, order, shipment.id))


@router.get("/orders/{order_id}/packing-slip", response_class=HTMLResponse, summary="Printable packing slip")
def order_packing_slip(order_id: str, session: SessionDep, user: UserDep) -> HTMLResponse:
    return printing.printable(printing.packing_slip(session, _order(session, user, order_id)))


# ---- carrier tracking -------------------------------------------------------------------


def carrier_secret(name: str) -> str | None:
    """Each carrier's own secret, ``OMS_CARRIER_SECRET_<NAME>``; one carrier's secret never signs for another."""
    specific = os.environ.get(f"OMS_CARRIER_SECRET_{name.upper()}")
    if specific:
        return specific
    return f"dev-secret-carrier-{name}" if get_settings().dev_mode else None


def _track(carrier: str, payload: dict) -> Any:
    # The generic payload {tracking_number, type, event_id, description, data}; a carrier with an
    # adapter of its own name parses its own.
    event = ADAPTERS.get(carrier, ADAPTERS["simulated"]).parse_event(payload)
    try:
        with session_scope() as session:
            return record_tracking(session, carrier, event)
    except UnknownParcel as exc:
        # A return's label is no parcel of an order: its tracking moves the return (services/returns/parcels.py).
        if exc.code != "parcel_not_found" or (tracked := return_parcels.track(carrier, event)) is None:
            raise
        return tracked


async def _deliver(client, carrier: str, payload: dict) -> dict:
    tracked = await anyio.to_thread.run_sync(_track, carrier, payload)
    if isinstance(tracked, return_parcels.ReturnTracked):
        if tracked.planned is not None:
            await return_parcels.signal(client, tracked.planned)
        return {
            "order_id": tracked.order_id,
            "return_id": tracked.return_id,
            "tracking_number": tracked.tracking_number,
            "type": tracked.type,
            "duplicate": tracked.duplicate,
            "order_event": tracked.planned.event if tracked.planned else None,
        }
    heard = False
    if tracked.order_event:
        heard = await signal_order(client, tracked.workflow_id, tracked.order_event, tracked.data)
    return {
        "order_id": tracked.order_id,
        "tracking_number": tracked.tracking_number,
        "type": tracked.type,
        "duplicate": tracked.duplicate,
        "order_event": tracked.order_event if heard else None,
    }


@router.post(
    "/carriers/{carrier}/events",
    status_code=202,
    response_model=TrackingRecorded,
    response_model_exclude_unset=True,  # return_id only for a return's parcel
    summary="Carrier tracking webhook (signed): in_transit, out_for_delivery, delivered, exception",
)
async def carrier_event(carrier: str, request: Request, client: TemporalDep) -> dict:
    body = await limited_body(request)  # before the signature: an unsigned caller can make us read only so much
    secret = carrier_secret(carrier)
    if secret is None:
        raise HTTPException(
            401, f"carrier {carrier!r} has no webhook secret configured (OMS_CARRIER_SECRET_{carrier.upper()})"
        )
    check_signature(secret, body, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER))
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise HTTPException(422, f"malformed JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise HTTPException(422, "the body must be a JSON object with tracking_number and type")
    return await _deliver(client, carrier, payload)


class AdvanceIn(BaseModel):
    type: str | None = Field(
        default=None,
        description="in_transit, out_for_delivery, delivered or exception; default: the parcel's next stage",
    )
    description: str = Field(default="", max_length=500)


@router.post(
    "/carriers/simulated/parcels/{tracking_number}/advance",
    status_code=202,
    response_model=TrackingRecorded,
    response_model_exclude_unset=True,  # return_id only for a return's parcel
    summary="Move a parcel of the simulated carrier on (as its tracking webhook would)",
)
async def advance_parcel(
    tracking_number: str, client: TemporalDep, user: Operator, body: AdvanceIn | None = None
) -> dict:
    body = body or AdvanceIn()

    def current() -> Shipment | None:
        with session_scope() as session:
            shipment = session.exec(select(Shipment).where(Shipment.tracking_number == tracking_number)).first()
            if shipment is not None and not scopes.visible_order_ids(session, user, [shipment.order_id]):
                return None  # another scope's parcel: as if there were none
            return shipment

    shipment = await anyio.to_thread.run_sync(current)
    if shipment is None or shipment.adapter != "simulated":
        raise HTTPException(404, f"no parcel {tracking_number!r} of the simulated carrier")
    kind = body.type or SimulatedCarrier().next_type(shipment.status)
    if kind is None:
        raise HTTPException(409, f"parcel {tracking_number} is delivered already")
    count = len(await anyio.to_thread.run_sync(_history_of, shipment.id))
    return await _deliver(
        client,
        shipment.carrier,
        {
            "tracking_number": tracking_number,
            "type": kind,
            "description": body.description,
            "event_id": f"{tracking_number}:{count + 1}",
        },
    )


@router.post(
    "/shipments/{shipment_id}/track",
    response_model=ParcelTracked,
    summary="Ask the parcel's carrier (an http adapter's track) where it is; news is recorded as its webhook's",
)
async def track_parcel(shipment_id: RowId, session: SessionDep, client: TemporalDep, user: Operator) -> dict:
    order, shipment = printing.shipment_for(session, shipment_id)
    _order(session, user, order.id)
    try:
        answer = await anyio.to_thread.run_sync(ask_carrier, shipment_id)
    except ProviderFailed as exc:  # the carrier refused or answered otherwise than its mapping says
        raise HTTPException(502, exc.message) from None
    recorded = None
    if answer.event is not None:
        event = answer.event
        payload = {
            "tracking_number": event.tracking_number,
            "type": event.type,
            "event_id": event.event_id,
            "description": event.description,
            "data": {"asked_by": user.username, "carrier_status": answer.status.carrier_status},
        }
        recorded = await _deliver(client, shipment.carrier, payload)
    status = answer.status
    return {
        "tracking_number": status.tracking_number,
        "state": status.state,
        "carrier_status": status.carrier_status,
        "description": status.description,
        "recorded": recorded,
    }


def _history_of(shipment_id: int) -> list:
    with session_scope() as session:
        return tracking_history(session, shipment_id)


# ---- changes in flight ------------------------------------------------------------------


class CancelIn(BaseModel):
    reason: str = Field(default="", max_length=500)


class AddressIn(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    street: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2, e.g. DE")
    region: str | None = Field(default=None, max_length=100)


class AddressChangeIn(BaseModel):
    shipping_address: AddressIn


def _changeable(session: Session, user: CurrentUser, order_id: str, event_type: str) -> None:
    """The caller sees the order and, if a channel key, its channel allows ``event_type``."""
    order = _order(session, user, order_id)
    if user.key_id is not None:
        channel_events.check_key_event(session, order.channel, event_type)


@router.post(
    "/orders/{order_id}/cancel",
    status_code=202,
    response_model=ChangeSent,
    summary="Cancel before shipping: stock released, payment refunded or voided",
)
async def cancel_order(
    order_id: str, session: SessionDep, client: TemporalDep, user: Changer, body: CancelIn | None = None
) -> dict:
    _changeable(session, user, order_id, "cancel_requested")
    reason = (body.reason if body else "") or f"requested by {user.username}"
    return await request_change(
        client, order_id, "cancel_requested", {"reason": reason, "by": user.username}, "cancelled"
    )


@router.post(
    "/orders/{order_id}/address",
    status_code=202,
    response_model=ChangeSent,
    summary="New shipping address before shipping: audited and allocated again",
)
async def change_address(
    order_id: str, body: AddressChangeIn, session: SessionDep, client: TemporalDep, user: Changer
) -> dict:
    _changeable(session, user, order_id, "address_changed")
    address = body.shipping_address.model_dump(exclude_none=True)
    return await request_change(
        client, order_id, "address_changed", {"shipping_address": address, "by": user.username}, "changed"
    )


# ---- waves --------------------------------------------------------------------------------


class WaveIn(BaseModel):
    warehouse: str = Field(min_length=1, max_length=20)
    max_orders: int = Field(default=50, ge=1, le=500)


@router.post(
    "/waves", status_code=201, response_model=WaveView, summary="A wave of the orders ready to pick in a warehouse"
)
def new_wave(body: WaveIn, user: Operator) -> dict:
    with session_scope() as session:
        if session.get(Warehouse, body.warehouse) is None:
            raise HTTPException(422, f"warehouse: no warehouse {body.warehouse!r}")
        scopes.check_warehouses(user, [body.warehouse])
        wave = create_wave(session, body.warehouse, body.max_orders, user.username, user.channels)
        return wave_view(session, wave)


@router.get("/waves", response_model=WaveList)
def list_waves(
    session: SessionDep, user: UserDep, warehouse: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict:
    return {"waves": [wave_view(session, w) for w in scopes.visible_waves(session, user, warehouse, limit)]}


@router.get("/waves/{wave_id}", response_model=WaveView)
def get_wave(wave_id: str, session: SessionDep, user: UserDep) -> dict:
    return wave_view(session, scopes.visible_wave(session, user, wave_id))


@router.get("/waves/{wave_id}/pick-list", response_class=HTMLResponse, summary="Printable pick list of a wave")
def wave_pick_list(wave_id: str, session: SessionDep, user: UserDep) -> HTMLResponse:
    return printing.printable(printing.pick_list(session, scopes.visible_wave(session, user, wave_id)))
