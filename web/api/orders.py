from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from services import scopes
from services.orders import channel_events
from services.orders.intake import submit_order
from services.orders.search import BadSearch, OrderQuery, row_view, search
from services.orders.views import order_detail, order_summary
from web.api.params import MAX_DAYS
from web.api.schemas.orders import EventAccepted, OrderAccepted, OrderDetail, OrderList
from web.deps import CurrentUser, SessionDep, StarterDep, TemporalDep, UserDep, require
from workflows.contracts import ExternalEvent

router = APIRouter(prefix="/api/orders", tags=["orders"])
# Deeper pages by offset cost more on every database: past this, page with ``after``.
MAX_SEARCH_OFFSET = 10_000


@router.post(
    "",
    status_code=201,
    response_model=OrderAccepted,
    responses={200: {"description": "the order existed already", "model": OrderAccepted}},
)
async def create_order(
    response: Response,
    client: TemporalDep,
    starter: StarterDep,
    user: Annotated[CurrentUser, Depends(require("channel", "operator"))],
    payload: Annotated[Any, Body()],
    flow: Annotated[str | None, Query(description="flow to run; default: the flow of the order's channel")] = None,
) -> dict:
    if user.channels:
        scopes.check_channel(user, str(payload.get("channel", "")) if isinstance(payload, dict) else "")
    accepted = await submit_order(client, payload, flow, starter)
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    return {"id": accepted.order_id, "status": accepted.status}


@router.get("", response_model=OrderList)
def list_orders(
    session: SessionDep,
    user: UserDep,
    status_: Annotated[str | None, Query(alias="status", description="one status, or several comma-separated")] = None,
    channel: str | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="order id, external id, e-mail, phone or customer name")
    ] = None,
    warehouse: Annotated[str | None, Query(max_length=40)] = None,
    sku: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    created_from: Annotated[date | None, Query(alias="from", description="created on or after this day (UTC)")] = None,
    created_to: Annotated[date | None, Query(alias="to", description="created on or before this day (UTC)")] = None,
    older_than_days: Annotated[int | None, Query(ge=0, le=MAX_DAYS)] = None,
    sort: Annotated[Literal["-created", "created", "-total", "total"], Query()] = "-created",
    after: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_SEARCH_OFFSET, description="rows to skip; prefer after")] = 0,
) -> dict:
    """Orders the caller may see, newest first unless ``sort`` says otherwise; page with ``after`` (keyset)."""
    if created_from and created_to and created_from > created_to:
        raise BadSearch("bad_range", "the date range ends before it starts", field="to")
    query = OrderQuery(
        q=q or "",
        status=tuple(s for s in (status_ or "").split(",") if s.strip()),
        channel=channel or "",
        warehouse=warehouse or "",
        sku=sku or "",
        tag=tag or "",
        created_from=created_from,
        created_to=created_to,
        older_than_days=older_than_days,
        sort=sort,
        after=after or "",
        limit=limit,
    )
    found = search(session, user, query, offset=offset)
    return {
        "orders": [{**order_summary(o), **row_view(o), "created_at": o.created_at.isoformat()} for o in found.orders],
        "limit": limit,
        "offset": offset,
        "next_cursor": found.next_cursor,
    }


@router.get("/{order_id}", response_model=OrderDetail)
def get_order(order_id: str, session: SessionDep, user: UserDep) -> dict:
    return order_detail(session, scopes.visible_order(session, user, order_id))


class EventIn(BaseModel):
    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    data: dict[str, Any] = Field(default_factory=dict)


@router.post("/{order_id}/events", status_code=202, response_model=EventAccepted)
async def post_event(
    order_id: str,
    event: EventIn,
    session: SessionDep,
    client: TemporalDep,
    user: Annotated[CurrentUser, Depends(require("channel", "operator"))],
) -> dict:
    order = scopes.visible_order(session, user, order_id)
    if user.key_id is not None:
        channel_events.check_key_event(session, order.channel, event.type)
    handle = client.get_workflow_handle(order.workflow_id)
    # The timeline records who sent the event (a person, or a channel key by its id).
    data = {**event.data, "by": user.username}
    try:
        await handle.signal("event", ExternalEvent(type=event.type, data=data))
    except RPCError as exc:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise HTTPException(409, f"order {order_id} is {order.status}; its flow has ended") from exc
        raise
    return {"accepted": True, "type": event.type}
