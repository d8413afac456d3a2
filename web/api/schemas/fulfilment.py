from typing import Any

from pydantic import BaseModel, Field


class TrackingView(BaseModel):
    type: str
    description: str
    event_id: str
    at: str


class ParcelView(BaseModel):
    """One parcel of an order, with what its carrier reported so far."""

    id: int
    parcel: int
    carrier: str
    carrier_title: str
    service: str
    tracking_number: str
    warehouse: str
    weight_kg: float
    price: float
    status: str
    lines: list[dict[str, Any]]
    consolidation: str | None
    tracking: list[TrackingView]


class OrderParcels(BaseModel):
    shipments: list[ParcelView]


class TrackingRecorded(BaseModel):
    """The event is recorded on its parcel; ``order_event`` is what the order's flow heard, if anything."""

    order_id: str
    return_id: str | None = Field(default=None, description="a return's parcel: the return it moved")
    tracking_number: str
    type: str
    duplicate: bool
    order_event: str | None


class ParcelTracked(BaseModel):
    """What the parcel's carrier said; ``recorded`` is the tracking event it meant, when it was news."""

    tracking_number: str
    state: str = Field(description="label_created, in_transit, out_for_delivery, delivered or exception")
    carrier_status: str = Field(description="the carrier's own word, e.g. TRANSIT (Shippo)")
    description: str
    recorded: TrackingRecorded | None


class ChangeSent(BaseModel):
    """The change went to the order's flow, which was waiting at ``step``."""

    accepted: bool
    order_id: str
    type: str
    step: str


class WaveOrderView(BaseModel):
    id: str
    status: str | None


class WaveLineOrder(BaseModel):
    order_id: str
    external_id: str
    qty: int


class WaveLine(BaseModel):
    """One SKU of the pick list: the total to pick and each order's share."""

    sku: str
    name: str
    qty: int
    orders: list[WaveLineOrder]


class WaveView(BaseModel):
    id: str
    warehouse: str
    created_by: str
    created_at: str
    status: str
    orders: list[WaveOrderView]
    lines: list[WaveLine]


class WaveList(BaseModel):
    waves: list[WaveView]
