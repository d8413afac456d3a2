"""Human decisions on tasks: sent to the order's workflow as an Update."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
from sqlmodel import select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from oms.db import get_read_engine, session_scope
from oms.models import Task
from workflows.contracts import Decision, DecisionAccepted

# How each refusal of the workflow's decision validator maps to HTTP.
REFUSAL_STATUS = {
    "already_decided": 409, "same_person": 409, "forbidden": 403,
    "unknown_decision": 422, "comment_required": 422, "scan_mismatch": 422, "qc_invalid": 422,
}


class TaskRefused(Exception):
    def __init__(self, status_code: int, message: str):
        self.status_code = status_code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Actor:
    username: str
    role: str


def _load(task_id: str) -> Task:
    from sqlmodel import Session

    with Session(get_read_engine()) as session:
        task = session.get(Task, task_id)
    if task is None:
        raise TaskRefused(404, f"no task {task_id!r}")
    return task


async def decide(client: Client, task_id: str, actor: Actor, decision: str, comment: str,
                 scans: list[dict] | None = None) -> DecisionAccepted:
    """Send one decision; raises TaskRefused with the HTTP status and the reason."""
    task = await anyio.to_thread.run_sync(_load, task_id)
    if task.status != "open":
        raise TaskRefused(409, f"task is already {task.status}")
    if task.claimed_by and task.claimed_by != actor.username:
        raise TaskRefused(409, f"task is claimed by {task.claimed_by}")
    handle = client.get_workflow_handle(task.workflow_id)
    update = Decision(task_id=task_id, decision=decision, user=actor.username, role=actor.role, comment=comment,
                      scans=list(scans or []))
    try:
        return await handle.execute_update("decide", update, result_type=DecisionAccepted)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise TaskRefused(REFUSAL_STATUS.get(cause.type or "", 409), cause.message) from exc
        raise TaskRefused(503, f"the order's flow could not take the decision: {cause or exc}") from exc
    except RPCError as exc:
        raise TaskRefused(409, f"the order's flow no longer accepts decisions: {exc.message}") from exc
    except RuntimeError as exc:  # the Temporal service is unreachable
        raise TaskRefused(503, f"the order's flow is unavailable, try again: {exc}") from exc


def claim(task_id: str, actor: Actor, assignee: str | None) -> Task:
    """Claim for yourself, release your claim (assignee None), or, as admin, assign anyone."""
    with session_scope() as session:
        task = session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()
        if task is None:
            raise TaskRefused(404, f"no task {task_id!r}")
        if task.status != "open":
            raise TaskRefused(409, f"task is already {task.status}")
        holder = task.claimed_by
        if actor.role != "admin":
            if actor.role != task.role:
                raise TaskRefused(403, f"only role {task.role!r} may claim this task")
            if assignee not in (None, actor.username):
                raise TaskRefused(403, "only an admin may assign a task to someone else")
            if holder and holder != actor.username:
                raise TaskRefused(409, f"task is claimed by {holder}")
        task.claimed_by = assignee
        session.add(task)
        session.flush()
        return task
