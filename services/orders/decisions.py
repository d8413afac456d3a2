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
from services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable
from services.orders import repair
from workflows.contracts import REPAIR_DECISIONS, REPAIR_ROLE, Decision, DecisionAccepted


class TaskRefused(DomainError):
    """A decision or claim the task cannot take; nothing was changed."""


class UnknownTask(TaskRefused, NotFound):
    """No task (or return) has that id."""


class TaskTaken(TaskRefused, Conflict):
    """The task is decided or claimed by someone else, or its flow no longer takes decisions."""


class TaskForbidden(TaskRefused, Forbidden):
    """The actor's role may not do this to the task."""


class DecisionInvalid(TaskRefused, Invalid):
    """The decision itself is wrong: unknown, without a needed comment, scans or QC that do not add up."""


class FlowUnreachable(TaskRefused, Unavailable):
    """The flow could not take the decision now; trying again can work."""

    def __init__(self, message: str):
        super().__init__("flow_unavailable", message, retryable=True)


# The kind of each refusal of the workflow's decision validator (its ApplicationError type).
REFUSALS: dict[str, type[TaskRefused]] = {
    "already_decided": TaskTaken,
    "same_person": TaskTaken,
    "forbidden": TaskForbidden,
    "unknown_decision": DecisionInvalid,
    "comment_required": DecisionInvalid,
    "scan_mismatch": DecisionInvalid,
    "qc_invalid": DecisionInvalid,
}


def refused_by_flow(cause: ApplicationError) -> TaskRefused:
    """The validator's refusal as a TaskRefused of its kind, typed by the validator's code."""
    return REFUSALS.get(cause.type or "", TaskTaken)(cause.type or "decision_refused", cause.message)


@dataclass(frozen=True)
class Actor:
    """Who decides: a person with one or more roles."""

    username: str
    roles: tuple[str, ...]

    def acting_as(self, task_role: str) -> str:
        """The role this person decides a task of ``task_role`` in: that role if they have it, else admin."""
        if task_role in self.roles:
            return task_role
        if "admin" in self.roles:
            return "admin"
        return self.roles[0] if self.roles else ""


def _load(task_id: str) -> Task:
    from sqlmodel import Session

    with Session(get_read_engine()) as session:
        task = session.get(Task, task_id)
    if task is None:
        raise UnknownTask("task_not_found", f"no task {task_id!r}")
    return task


async def decide(
    client: Client, task_id: str, actor: Actor, decision: str, comment: str, scans: list[dict] | None = None
) -> DecisionAccepted:
    """Send one decision; a refusal raises the TaskRefused of its kind, with the reason."""
    task = await anyio.to_thread.run_sync(_load, task_id)
    if task.status != "open":
        raise TaskTaken("task_closed", f"task is already {task.status}")
    if task.claimed_by and task.claimed_by != actor.username:
        raise TaskTaken("task_claimed", f"task is claimed by {task.claimed_by}")
    if task.step == repair.CLOSED_STEP:
        return await _decide_closed(client, task, actor, decision, comment)
    handle = client.get_workflow_handle(task.workflow_id)
    update = Decision(
        task_id=task_id,
        decision=decision,
        user=actor.username,
        role=actor.acting_as(task.role),
        comment=comment,
        scans=list(scans or []),
    )
    try:
        return await handle.execute_update("decide", update, result_type=DecisionAccepted)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise refused_by_flow(cause) from exc
        raise FlowUnreachable(f"the order's flow could not take the decision: {cause or exc}") from exc
    except RPCError as exc:
        raise TaskTaken("flow_ended", f"the order's flow no longer accepts decisions: {exc.message}") from exc
    except RuntimeError as exc:  # the Temporal service is unreachable
        raise FlowUnreachable(f"the order's flow is unavailable, try again: {exc}") from exc


async def _decide_closed(client: Client, task: Task, actor: Actor, decision: str, comment: str) -> DecisionAccepted:
    """The repair task of a workflow that closed without repairing itself (terminated): decided here."""
    role = actor.acting_as(task.role)
    if role not in (REPAIR_ROLE, "admin"):
        raise TaskForbidden("forbidden", f"only role {REPAIR_ROLE!r} may decide this task")
    if decision not in REPAIR_DECISIONS:
        raise DecisionInvalid(
            "unknown_decision", f"unknown decision {decision!r}; expected one of {list(REPAIR_DECISIONS)}"
        )
    try:
        await repair.decide_closed(client, task, actor.username, role, decision, comment)
    except RPCError as exc:
        raise FlowUnreachable(f"the order's flow could not be restarted: {exc.message}") from exc
    return DecisionAccepted(task_id=task.id, decision=decision, next_step=decision)


def claim(task_id: str, actor: Actor, assignee: str | None) -> Task:
    """Claim for yourself, release your claim (assignee None), or, as admin, assign anyone."""
    with session_scope() as session:
        task = session.exec(select(Task).where(Task.id == task_id).with_for_update()).first()
        if task is None:
            raise UnknownTask("task_not_found", f"no task {task_id!r}")
        if task.status != "open":
            raise TaskTaken("task_closed", f"task is already {task.status}")
        holder = task.claimed_by
        if "admin" not in actor.roles:
            if task.role not in actor.roles:
                raise TaskForbidden("wrong_role", f"only role {task.role!r} may claim this task")
            if assignee not in (None, actor.username):
                raise TaskForbidden("assign_needs_admin", "only an admin may assign a task to someone else")
            if holder and holder != actor.username:
                raise TaskTaken("task_claimed", f"task is claimed by {holder}")
        task.claimed_by = assignee
        session.add(task)
        session.flush()
        return task
