from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from oms.models import Order
from services import scopes
from services.orders import channel_events
from services.orders.intake import submit_order
from services.orders.views import order_detail, order_summary
from web.api.params import Offset
from web.api.schemas.orders import EventAccepted, OrderAccepted, OrderDetail, OrderList
from web.deps import CurrentUser, SessionDep, StarterDep, TemporalDep, UserDep, require
from workflows.contracts import ExternalEvent

router = APIRouter(prefix="/api/orders", tags=["orders"])


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
    status_: Annotated[str | None, Query(alias="status")] = None,
    channel: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict:
    query = select(Order)
    if (scope := scopes.order_clause(user)) is not None:
        query = query.where(scope)
    if status_:
        query = query.where(Order.status == status_)
    if channel:
        query = query.where(Order.channel == channel)
    rows = session.exec(query.order_by(Order.created_at.desc(), Order.id).offset(offset).limit(limit)).all()
    return {"orders": [order_summary(o) for o in rows], "limit": limit, "offset": offset}


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
