from typing import Any

from pydantic import BaseModel

from web.api.schemas.tasks import DecisionRecordView, TaskView


class VersionRef(BaseModel):
    """A published definition (a flow, a rule set) by name and version."""

    name: str
    version: int


class PinnedDefinition(BaseModel):
    """A definition version an order (or return) was pinned to at intake."""

    kind: str
    name: str
    version: int
    sha256: str


class OrderAccepted(BaseModel):
    """The order is stored (201) or was stored already (200); its workflow runs."""

    id: str
    status: str


class EventAccepted(BaseModel):
    accepted: bool
    type: str


class OrderSummary(BaseModel):
    id: str
    channel: str
    external_id: str
    status: str
    total: float
    flow: VersionRef
    created_at: str
    updated_at: str


class OrderRow(OrderSummary):
    """An order of a search: the summary plus who ordered what."""

    customer: str = ""
    email: str = ""
    phone: str = ""
    skus: list[str] = []
    tags: list[str] = []
    currency: str = ""  # the document's; empty: the shop's (OMS_CURRENCY)


class OrderList(BaseModel):
    orders: list[OrderRow]
    limit: int
    offset: int
    # Pass as ``after`` for the next page; null on the last page.
    next_cursor: str | None = None


class Allocation(BaseModel):
    """A stock movement of an order line: reserved, released or shipped."""

    line: int | None
    sku: str
    qty: int
    warehouse: str
    state: str


class OrderParcel(BaseModel):
    id: int
    parcel: int
    carrier: str
    service: str
    price: float
    tracking_number: str
    status: str
    warehouse: str
    warehouses: list[str]
    weight_kg: float
    lines: list[dict[str, Any]]
    consolidation: str | None
    created_at: str


class AuditView(BaseModel):
    """What the order's audit decided, by which rules and on which facts."""

    action: str
    fired: list[dict[str, Any]]
    tags: list[str]
    rules: VersionRef
    facts: dict[str, Any]


class TimelineEntry(BaseModel):
    seq: int
    type: str
    step: str | None
    message: str
    data: dict[str, Any]
    at: str


class OrderDetail(OrderSummary):
    """The order with its document, allocations, parcels, audit, tasks, decisions and timeline.

    ``customer``, ``shipping_address``, ``lines`` and ``payment`` are as the order form defines them.
    """

    workflow_id: str
    temporal_url: str
    customer: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    lines: list[dict[str, Any]]
    payment: dict[str, Any] | None
    client_ip: str | None
    tags: list[str]
    allocations: list[Allocation]
    shipments: list[OrderParcel]
    audit: AuditView | None
    tasks: list[TaskView]
    decisions: list[DecisionRecordView]
    timeline: list[TimelineEntry]
    # Every definition the order uses, pinned at intake; empty for orders taken before pinning.
    pins: list[PinnedDefinition] = []
