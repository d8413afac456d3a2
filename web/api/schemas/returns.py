from typing import Any

from pydantic import BaseModel

from web.api.schemas.orders import PinnedDefinition, VersionRef
from web.api.schemas.tasks import TaskView


class ReturnRequested(BaseModel):
    """The return is stored and its workflow started."""

    id: str
    status: str


class ReturnSummary(BaseModel):
    id: str
    order_id: str
    status: str
    kind: str
    reason: str
    value: float
    refunded: float
    replacement_sku: str | None
    exchange_order_id: str | None
    flow: VersionRef
    created_at: str
    updated_at: str
    closed_at: str | None
    age_days: float


class ReturnList(BaseModel):
    returns: list[ReturnSummary]
    total: int
    limit: int
    offset: int


class ReturnLineView(BaseModel):
    line: int
    sku: str
    qty: int
    price: float
    counted: int
    results: list[dict[str, Any]]
    restocked: int
    written_off: int


class QcLine(BaseModel):
    """The quality check of one line: what arrived resellable, damaged or missing."""

    line: int
    sku: str
    qty: int
    results: list[dict[str, Any]]
    restocked: int
    written_off: int


class ReturnMovement(BaseModel):
    id: int
    operation: str
    warehouse: str
    sku: str
    qty: int
    lot: str | None
    reason: str
    at: str


class ReturnTimelineEntry(BaseModel):
    seq: int
    type: str
    step: str | None
    status: str | None
    message: str
    data: dict[str, Any]
    at: str


class ReturnDetail(ReturnSummary):
    """The return with its lines, QC result, refund, tasks, stock movements and timeline."""

    comment: str
    photos: list[str]
    label: dict[str, Any]
    audit: dict[str, Any] | None
    refunded_shipping: float
    created_by: str
    lines: list[ReturnLineView]
    qc: list[QcLine] | None
    refund: dict[str, Any] | None
    tasks: list[TaskView]
    stock_movements: list[ReturnMovement]
    timeline: list[ReturnTimelineEntry]
    # Every definition the return uses, pinned when it was requested; empty for older returns.
    pins: list[PinnedDefinition] = []
