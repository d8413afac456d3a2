from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from oms.models import Order
from services.orders.intake import submit_order
from services.orders.views import order_detail, order_summary
from web.deps import CurrentUser, SessionDep, StarterDep, TemporalDep, UserDep, require
from workflows.contracts import ExternalEvent

router = APIRouter(prefix="/api/orders", tags=["orders"])


@router.post("", status_code=201, responses={200: {"description": "the order existed already"}})
async def create_order(
    response: Response,
    client: TemporalDep,
    starter: StarterDep,
    _: Annotated[CurrentUser, Depends(require("channel", "operator"))],
    payload: Annotated[Any, Body()],
    flow: Annotated[str | None, Query(description="flow to run; default: the flow of the order's channel")] = None,
) -> dict:
    accepted = await submit_order(client, payload, flow, starter)
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    return {"id": accepted.order_id, "status": accepted.status}


@router.get("")
def list_orders(
    session: SessionDep,
    _: UserDep,
    status_: Annotated[str | None, Query(alias="status")] = None,
    channel: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    query = select(Order)
    if status_:
        query = query.where(Order.status == status_)
    if channel:
        query = query.where(Order.channel == channel)
    rows = session.exec(query.order_by(Order.created_at.desc(), Order.id).offset(offset).limit(limit)).all()
    return {"orders": [order_summary(o) for o in rows], "limit": limit, "offset": offset}


@router.get("/{order_id}")
def get_order(order_id: str, session: SessionDep, _: UserDep) -> dict:
    order = session.get(Order, order_id)
    if order is None:
        raise HTTPException(404, f"no order {order_id!r}")
    return order_detail(session, order)


class EventIn(BaseModel):
    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    data: dict[str, Any] = Field(default_factory=dict)


@router.post("/{order_id}/events", status_code=202)
async def post_event(
    order_id: str,
    event: EventIn,
    session: SessionDep,
    client: TemporalDep,
    _: Annotated[CurrentUser, Depends(require("channel", "operator"))],
) -> dict:
    order = session.get(Order, order_id)
    if order is None:
        raise HTTPException(404, f"no order {order_id!r}")
    handle = client.get_workflow_handle(order.workflow_id)
    try:
        await handle.signal("event", ExternalEvent(type=event.type, data=event.data))
    except RPCError as exc:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise HTTPException(409, f"order {order_id} is {order.status}; its flow has ended") from exc
        raise
    return {"accepted": True, "type": event.type}
