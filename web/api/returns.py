"""Returns and exchanges: request, list, detail, parcel events, quality check."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from oms.models import Return
from services.orders.decisions import Actor
from services.returns import requests as returns
from services.returns.views import return_detail, return_query, return_summary
from web.api.params import MAX_DAYS, Offset
from web.api.schemas.orders import EventAccepted
from web.api.schemas.returns import ReturnDetail, ReturnList, ReturnRequested
from web.api.schemas.tasks import DecisionTaken
from web.deps import CurrentUser, SessionDep, TemporalDep, UserDep, require
from workflows.contracts import ExternalEvent

router = APIRouter(prefix="/api/returns", tags=["returns"])

Requester = Annotated[CurrentUser, Depends(require("operator", "channel"))]
Operator = Annotated[CurrentUser, Depends(require("operator"))]


@router.post("", status_code=201, summary="Request a return or exchange of a delivered order")
async def create_return(
    client: TemporalDep,
    user: Requester,
    payload: Annotated[
        Any,
        Body(
            examples=[{"order_id": "ord_…", "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size", "kind": "refund"}]
        ),
    ],
    flow: Annotated[str | None, Query(description="return flow to run; default: return")] = None,
) -> ReturnRequested:
    requested = await returns.request_return(client, payload, user.username, flow)
    return ReturnRequested(id=requested.return_id, status=requested.status)


@router.get("", response_model=ReturnList)
def list_returns(
    session: SessionDep,
    _: UserDep,
    status: str | None = None,
    reason: str | None = None,
    order_id: str | None = None,
    older_than_days: Annotated[float | None, Query(ge=0, le=MAX_DAYS)] = None,
    newer_than_days: Annotated[float | None, Query(ge=0, le=MAX_DAYS)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict:
    query = return_query(status, reason, order_id, older_than_days, newer_than_days)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Return.created_at.desc(), Return.id).offset(offset).limit(limit)).all()
    return {"returns": [return_summary(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{return_id}", response_model=ReturnDetail)
def get_return(return_id: str, session: SessionDep, _: UserDep) -> dict:
    ret = session.get(Return, return_id)
    if ret is None:
        raise HTTPException(404, f"no return {return_id!r}")
    return return_detail(session, ret)


class EventIn(BaseModel):
    type: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="e.g. parcel_received (carrier event or warehouse scan)",
    )
    data: dict[str, Any] = Field(default_factory=dict)


@router.post("/{return_id}/events", status_code=202, response_model=EventAccepted)
async def post_event(return_id: str, event: EventIn, session: SessionDep, client: TemporalDep, _: Requester) -> dict:
    ret = session.get(Return, return_id)
    if ret is None:
        raise HTTPException(404, f"no return {return_id!r}")
    handle = client.get_workflow_handle(ret.workflow_id)
    try:
        await handle.signal("event", ExternalEvent(type=event.type, data=event.data))
    except RPCError as exc:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise HTTPException(409, f"return {return_id} is {ret.status}; its flow has ended") from exc
        raise
    return {"accepted": True, "type": event.type}


class QcResultIn(BaseModel):
    line: int = Field(ge=1, le=10_000, description="the order line")
    result: Literal["resellable", "damaged", "missing"]
    qty: int | None = Field(default=None, ge=1, le=1_000_000_000, description="default: the whole line")
    reason: str = Field(default="", max_length=500, description="damaged: why it is written off")


class DecisionIn(BaseModel):
    decision: str = Field(min_length=1, max_length=64, description="review: approve | reject; quality check: inspected")
    comment: str = Field(default="", max_length=2000)
    qc: list[QcResultIn] = Field(default_factory=list, max_length=500)


@router.post("/{return_id}/decision", summary="Decide the return's open task (review or quality check)")
async def decide(return_id: str, body: DecisionIn, client: TemporalDep, user: Operator) -> DecisionTaken:
    qc = [{k: v for k, v in r.model_dump().items() if v is not None} for r in body.qc]
    actor = Actor(user.username, user.roles)
    accepted = await returns.decide(client, return_id, actor, body.decision, body.comment, qc)
    return DecisionTaken(task_id=accepted.task_id, decision=accepted.decision, next_step=accepted.next_step)
