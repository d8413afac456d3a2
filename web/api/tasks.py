from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import select

from oms.models import DecisionRecord, Order, Task, utcnow
from services import scopes
from services.orders import decisions
from services.orders.views import decision_view, task_view
from web.api.params import MAX_MINUTES, Offset
from web.api.schemas.tasks import BulkDecisions, DecisionLog, DecisionTaken, TaskList, TaskView
from web.deps import CurrentUser, SessionDep, TemporalDep, UserDep, require
from web.errors import status_for

router = APIRouter(prefix="/api", tags=["tasks"])

Operator = Annotated[CurrentUser, Depends(require("operator"))]


def _actor(user: CurrentUser) -> decisions.Actor:
    return decisions.Actor(user.username, user.roles)


def task_query(
    user: CurrentUser,
    status: str | None,
    role: str | None,
    reason: str | None,
    channel: str | None,
    older_than_minutes: int | None,
    claimed: str | None,
):
    query = select(Task, Order).join(Order, Order.id == Task.order_id)
    if (scope := scopes.order_clause(user)) is not None:
        query = query.where(scope)
    if status:
        query = query.where(Task.status == status)
    if role:
        query = query.where(Task.role == role)
    if reason:
        query = query.where(Task.reason.contains(reason))
    if channel:
        query = query.where(Order.channel == channel)
    if older_than_minutes:
        query = query.where(Task.created_at <= utcnow() - timedelta(minutes=older_than_minutes))
    if claimed == "me":
        query = query.where(Task.claimed_by == user.username)
    elif claimed == "none":
        query = query.where(Task.claimed_by.is_(None))
    return query


@router.get("/tasks", response_model=TaskList)
def list_tasks(
    session: SessionDep,
    user: UserDep,
    status: str | None = "open",
    role: str | None = None,
    reason: Annotated[str | None, Query(description="text the reason contains")] = None,
    channel: str | None = None,
    older_than_minutes: Annotated[int | None, Query(ge=0, le=MAX_MINUTES)] = None,
    claimed: Annotated[Literal["me", "none", "any"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict:
    query = task_query(user, status, role, reason, channel, older_than_minutes, claimed)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Task.created_at, Task.id).offset(offset).limit(limit)).all()
    return {
        "tasks": [{**task_view(t), "channel": o.channel, "total": o.total} for t, o in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/tasks/{task_id}", response_model=TaskView)
def get_task(task_id: str, session: SessionDep, user: UserDep) -> dict:
    return task_view(scopes.visible_task(session, user, task_id))


class ScanIn(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(default=1, ge=1, le=100000)


class DecisionIn(BaseModel):
    decision: str = Field(min_length=1, max_length=64)
    comment: str = Field(default="", max_length=2000)
    scans: list[ScanIn] = Field(
        default_factory=list, max_length=1000, description="pick, check and pack tasks: every SKU and quantity scanned"
    )


@router.post("/tasks/{task_id}/decision")
async def decide(
    task_id: str, body: DecisionIn, session: SessionDep, client: TemporalDep, user: Operator
) -> DecisionTaken:
    scopes.visible_task(session, user, task_id)
    accepted = await decisions.decide(
        client, task_id, _actor(user), body.decision, body.comment, [s.model_dump() for s in body.scans]
    )
    return DecisionTaken(task_id=accepted.task_id, decision=accepted.decision, next_step=accepted.next_step)


class BulkDecisionIn(DecisionIn):
    task_ids: list[str] = Field(min_length=1, max_length=200)


@router.post("/tasks/decisions", summary="Decide several tasks; one result per task", response_model=BulkDecisions)
async def decide_many(body: BulkDecisionIn, session: SessionDep, client: TemporalDep, user: Operator) -> dict:
    results = []
    for task_id in dict.fromkeys(body.task_ids):
        try:
            scopes.visible_task(session, user, task_id)
            accepted = await decisions.decide(client, task_id, _actor(user), body.decision, body.comment)
            results.append({"task_id": task_id, "ok": True, "status_code": 200, "next_step": accepted.next_step})
        except (decisions.TaskRefused, scopes.OutOfScope) as exc:
            results.append({"task_id": task_id, "ok": False, "status_code": status_for(exc), "detail": exc.message})
    return {"results": results, "decided": sum(r["ok"] for r in results)}


class ClaimIn(BaseModel):
    user: str | None = Field(default=None, description="admin only: assign to this user; omit to claim for yourself")


@router.post("/tasks/{task_id}/claim", response_model=TaskView)
def claim(task_id: str, session: SessionDep, user: Operator, body: ClaimIn | None = None) -> dict:
    scopes.visible_task(session, user, task_id)
    return task_view(decisions.claim(task_id, _actor(user), (body.user if body and body.user else user.username)))


@router.post("/tasks/{task_id}/unclaim", response_model=TaskView)
def unclaim(task_id: str, session: SessionDep, user: Operator) -> dict:
    scopes.visible_task(session, user, task_id)
    return task_view(decisions.claim(task_id, _actor(user), None))


@router.get("/decisions", tags=["audit log"], summary="The audit log of human decisions", response_model=DecisionLog)
def list_decisions(
    session: SessionDep,
    caller: UserDep,
    order_id: str | None = None,
    task_id: str | None = None,
    user: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict:
    """Decisions on the orders (and their returns) the caller sees."""
    query = select(DecisionRecord)
    if (scope := scopes.orders_of(caller, DecisionRecord.order_id)) is not None:
        query = query.where(scope)
    if order_id:
        query = query.where(DecisionRecord.order_id == order_id)
    if task_id:
        query = query.where(DecisionRecord.task_id == task_id)
    if user:
        query = query.where(DecisionRecord.user == user)
    rows = session.exec(
        query.order_by(DecisionRecord.at.desc(), DecisionRecord.id.desc()).offset(offset).limit(limit)
    ).all()
    return {"decisions": [decision_view(r) for r in rows], "limit": limit, "offset": offset}
