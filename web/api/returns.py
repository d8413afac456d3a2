"""Returns and exchanges: request, list, detail, parcel events, quality check."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from oms.models import Return
from services import scopes
from services.orders.decisions import Actor
from services.returns import parcels
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


@router.post(
    "",
    status_code=201,
    summary="Request a return or exchange of a delivered order",
    description="order_id is the order's own id (ord_…) or its external id; an external id several channels "
    "have needs the order's channel beside it (channel), else 422 naming order_id and each match.",
)
async def create_return(
    client: TemporalDep,
    user: Requester,
    payload: Annotated[
        Any,
        Body(
            examples=[
                {"order_id": "ord_…", "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size", "kind": "refund"},
                {"order_id": "A-1001", "channel": "web", "lines": [{"line": 1, "qty": 1}], "reason": "defective"},
            ]
        ),
    ],
    flow: Annotated[str | None, Query(description="return flow to run; default: return")] = None,
) -> ReturnRequested:
    requested = await returns.request_return(client, payload, user.username, flow, caller=user)
    return ReturnRequested(id=requested.return_id, status=requested.status)


@router.get("", response_model=ReturnList)
def list_returns(
    session: SessionDep,
    user: UserDep,
    status: str | None = None,
    reason: str | None = None,
    order_id: str | None = None,
    older_than_days: Annotated[float | None, Query(ge=0, le=MAX_DAYS)] = None,
    newer_than_days: Annotated[float | None, Query(ge=0, le=MAX_DAYS)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict:
    query = return_query(status, reason, order_id, older_than_days, newer_than_days)
    if (scope := scopes.return_clause(user)) is not None:
        query = query.where(scope)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Return.created_at.desc(), Return.id).offset(offset).limit(limit)).all()
    return {"returns": [return_summary(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{return_id}", response_model=ReturnDetail)
def get_return(return_id: str, session: SessionDep, user: UserDep) -> dict:
    return return_detail(session, scopes.visible_return(session, user, return_id))


class EventIn(BaseModel):
    type: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="e.g. parcel_received (carrier event or warehouse scan)",
    )
    data: dict[str, Any] = Field(default_factory=dict)


@router.post(
    "/{return_id}/events",
    status_code=202,
    response_model=EventAccepted,
    description="parcel_received (data.tracking_number: a scanned label, checked against the return's), "
    "deadline_extended and cancel_requested are taken only while the return waits for its parcel in a step "
    "that takes them (else 409, nothing sent); other events go to the return's flow as they are.",
)
async def post_event(return_id: str, event: EventIn, session: SessionDep, client: TemporalDep, user: Requester) -> dict:
    ret = scopes.visible_return(session, user, return_id)
    if event.type in parcels.ACTIONS:
        data = event.data
        await parcels.act(
            client,
            ret.id,
            event.type,
            user.username,
            str(data.get("tracking_number") or ""),
            str(data.get("note") or ""),
        )
        return {"accepted": True, "type": event.type}
    handle = client.get_workflow_handle(ret.workflow_id)
    try:
        await handle.signal("event", ExternalEvent(type=event.type, data=event.data))
    except RPCError as exc:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise HTTPException(409, f"return {return_id} is {ret.status}; its flow has ended") from exc
        raise
    return {"accepted": True, "type": event.type}


class ScanIn(BaseModel):
    tracking_number: str = Field(min_length=1, max_length=64, description="the return label's tracking number")
    note: str = Field(default="", max_length=500)


class ParcelScanned(BaseModel):
    return_id: str
    type: str
    message: str


@router.post(
    "/scan",
    status_code=202,
    response_model=ParcelScanned,
    summary="A return parcel arrived: find its return by the label's tracking number and record it received",
)
async def scan_parcel(body: ScanIn, session: SessionDep, client: TemporalDep, user: Operator) -> dict:
    return_id = parcels.scanned_return_id(body.tracking_number)
    scopes.visible_return(session, user, return_id)
    message = await parcels.act(client, return_id, parcels.RECEIVED, user.username, body.tracking_number, body.note)
    return {"return_id": return_id, "type": parcels.RECEIVED, "message": message}


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
async def decide(
    return_id: str, body: DecisionIn, session: SessionDep, client: TemporalDep, user: Operator
) -> DecisionTaken:
    scopes.visible_return(session, user, return_id)
    qc = [{k: v for k, v in r.model_dump().items() if v is not None} for r in body.qc]
    actor = Actor(user.username, user.roles)
    accepted = await returns.decide(client, return_id, actor, body.decision, body.comment, qc)
    return DecisionTaken(task_id=accepted.task_id, decision=accepted.decision, next_step=accepted.next_step)
