from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlmodel import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.contracts import Decision, DecisionAccepted
from designer.deps import CurrentUser, SessionDep, TemporalDep, UserDep, require
from designer.views import task_view
from oms.models import Task

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

# How each refusal of the workflow's decision validator maps to HTTP.
REFUSAL_STATUS = {"already_decided": 409, "forbidden": 403, "unknown_decision": 422, "comment_required": 422}


@router.get("")
def list_tasks(
    session: SessionDep,
    _: UserDep,
    status: str | None = "open",
    role: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    query = select(Task)
    if status:
        query = query.where(Task.status == status)
    if role:
        query = query.where(Task.role == role)
    rows = session.exec(query.order_by(Task.created_at, Task.id).offset(offset).limit(limit)).all()
    return {"tasks": [task_view(t) for t in rows], "limit": limit, "offset": offset}


@router.get("/{task_id}")
def get_task(task_id: str, session: SessionDep, _: UserDep) -> dict:
    task = session.get(Task, task_id)
    if task is None:
        raise HTTPException(404, f"no task {task_id!r}")
    return task_view(task)


class DecisionIn(BaseModel):
    decision: str = Field(min_length=1, max_length=64)
    comment: str = Field(default="", max_length=2000)


@router.post("/{task_id}/decision")
async def decide(
    task_id: str,
    body: DecisionIn,
    session: SessionDep,
    client: TemporalDep,
    user: Annotated[CurrentUser, Depends(require("operator"))],
) -> dict:
    task = session.get(Task, task_id)
    if task is None:
        raise HTTPException(404, f"no task {task_id!r}")
    if task.status != "open":
        raise HTTPException(409, f"task is already {task.status}")
    handle = client.get_workflow_handle(task.workflow_id)
    decision = Decision(task_id=task_id, decision=body.decision, user=user.username, role=user.role, comment=body.comment)
    try:
        accepted = await handle.execute_update("decide", decision, result_type=DecisionAccepted)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise HTTPException(REFUSAL_STATUS.get(cause.type or "", 409), cause.message) from exc
        raise
    except RPCError as exc:
        raise HTTPException(409, f"the order's flow no longer accepts decisions: {exc.message}") from exc
    return {"task_id": accepted.task_id, "decision": accepted.decision, "next_step": accepted.next_step}
