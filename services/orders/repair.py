"""Flows that ended without repairing themselves: terminated, timed out, or failed in code without the repair.

A flow whose activity fails repairs itself (``workflows/flow.py``: the order shows
``failed`` and an operator task waits in the workflow). A workflow that was
terminated (``temporal workflow terminate``) runs no code at all, so the web
process finds it: ``reconcile`` lists the workflows of this task queue closed as
terminated, failed or timed out, and for each order or return still showing a
live status writes ``failed`` with the reason on its timeline and opens the same
repair task. Its decision is taken here, since no workflow is left to take it:
``retry`` resets the workflow to its last completed workflow task (Temporal
replays its history into a new run, which goes on from where it stood),
``cancel`` releases the stock and gives the money back, ``handled`` closes it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import func
from sqlmodel import Session, col, select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus

from oms.db import get_read_engine, session_scope
from oms.models import DecisionRecord, Order, OrderEvent, Return, ReturnEvent, Task, utcnow
from oms.settings import get_settings
from services.orders import timeline
from services.orders.payments import cancel_payment
from services.returns import steps as return_steps
from services.stock.reservation import release_stock
from workflows.contracts import (
    REPAIR_DECISIONS,
    REPAIR_DUE_SECONDS,
    REPAIR_ROLE,
    REPAIR_TITLE,
    Progress,
    ReturnProgress,
    ReturnStepInput,
    StepInput,
)

log = logging.getLogger("services.orders.repair")

# The step a repair task of a closed workflow names: its decision is taken here, not by a workflow.
CLOSED_STEP = "workflow_closed"
# Timeline lines written outside the workflow take sequence numbers far above any workflow's own.
OUTSIDE_SEQ = 1_000_000_000
# Workflows closed longer ago than this are not looked at again.
LOOK_BACK = timedelta(days=7)
FINAL_STATUSES = ("completed", "cancelled", "rejected", "handled", "failed", "out_of_stock", "lost_in_transit")
_CLOSED = (
    WorkflowExecutionStatus.TERMINATED,
    WorkflowExecutionStatus.FAILED,
    WorkflowExecutionStatus.TIMED_OUT,
)


@dataclass(frozen=True)
class Closed:
    workflow_id: str
    run_id: str
    how: str  # terminated | failed | timed_out
    reason: str


async def reconcile(client: Client) -> int:
    """Mark every order or return whose workflow closed without ending its flow ``failed``, with a task."""
    since = (datetime.now(UTC) - LOOK_BACK).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = (
        "(ExecutionStatus = 'Terminated' OR ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut') "
        f"AND TaskQueue = '{get_settings().task_queue}' AND CloseTime > '{since}'"
    )
    found = 0
    async for execution in client.list_workflows(query):
        if execution.workflow_type not in ("OrderFlow", "ReturnFlow"):
            continue
        handle = client.get_workflow_handle(execution.id)
        latest = await handle.describe()
        if latest.run_id != execution.run_id or latest.status not in _CLOSED:
            continue  # reset into a new run, or started again: not closed after all
        how = latest.status.name.lower() if latest.status else "closed"
        closed = Closed(execution.id, execution.run_id, how, await _reason(client, execution.id, execution.run_id))
        if await anyio.to_thread.run_sync(mark_failed, closed):
            found += 1
    return found


async def _reason(client: Client, workflow_id: str, run_id: str) -> str:
    """What the closing event says: the termination reason or the failure's message."""
    last = None
    async for event in client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events():
        last = event
    if last is None:
        return ""
    if last.HasField("workflow_execution_terminated_event_attributes"):
        return last.workflow_execution_terminated_event_attributes.reason or "no reason given"
    if last.HasField("workflow_execution_failed_event_attributes"):
        return last.workflow_execution_failed_event_attributes.failure.message
    return ""


def _next_outside_seq(session: Session, model: type[OrderEvent] | type[ReturnEvent], owner_id: str) -> int:
    """The next sequence number above every workflow's own for a line written here."""
    owner = col(OrderEvent.order_id) if model is OrderEvent else col(ReturnEvent.return_id)
    seq = col(model.seq)
    highest = session.exec(select(func.max(seq)).where(owner == owner_id, seq >= OUTSIDE_SEQ)).one()
    return (highest or OUTSIDE_SEQ - 1) + 1


def task_id_for(owner_id: str, run_id: str) -> str:
    return f"{owner_id}-repair-{run_id[:12]}"


def mark_failed(closed: Closed) -> bool:
    """``failed`` with the reason and a repair task, once per closed run; False if nothing was to do."""
    message = f"workflow {closed.how}: {closed.reason}" if closed.reason else f"workflow {closed.how}"
    with session_scope() as session:
        order = session.exec(select(Order).where(Order.workflow_id == closed.workflow_id)).first()
        ret = None if order else session.exec(select(Return).where(Return.workflow_id == closed.workflow_id)).first()
        owner = order or ret
        if owner is None or owner.status in FINAL_STATUSES:
            return False
        task_id = task_id_for(owner.id, closed.run_id)
        if session.get(Task, task_id) is not None:
            return False
        data = {"error": message, "run_id": closed.run_id, "previous_status": owner.status}
        if order is not None:
            seq = _next_outside_seq(session, OrderEvent, order.id)
            timeline.record(
                session,
                Progress(order.id, seq, "failed", CLOSED_STEP, f"flow failed: {message}", "failed", data),
            )
        else:
            assert ret is not None
            seq = _next_outside_seq(session, ReturnEvent, ret.id)
            return_steps.record(
                session,
                ReturnProgress(ret.id, seq, "failed", CLOSED_STEP, f"flow failed: {message}", "failed", data),
            )
        session.add(
            Task(
                id=task_id,
                order_id=order.id if order else ret.order_id,  # type: ignore[union-attr]
                return_id=ret.id if ret else None,
                workflow_id=closed.workflow_id,
                step=CLOSED_STEP,
                title=REPAIR_TITLE,
                role=REPAIR_ROLE,
                reason=message,
                decisions=list(REPAIR_DECISIONS),
                due_at=utcnow() + timedelta(seconds=REPAIR_DUE_SECONDS),
            )
        )
    log.warning(
        "%s %s: %s", "order" if order else "return", owner.id, message, extra={"workflow_id": closed.workflow_id}
    )
    return True


# ---- the decision on a closed workflow's repair task ---------------------------------------------


async def decide_closed(client: Client, task: Task, user: str, role: str, decision: str, comment: str) -> None:
    """Take a checked decision (one of REPAIR_DECISIONS) on a repair task whose workflow is closed."""
    if decision == "retry":
        await _reset(client, task.workflow_id, task.id.rsplit("-repair-", 1)[1])
    elif decision == "cancel":
        await _cancel(client, task)
    await anyio.to_thread.run_sync(_decided, task.id, user, role, decision, comment)


async def _reset(client: Client, workflow_id: str, run_prefix: str) -> None:
    """A new run replaying the closed one up to its last completed workflow task, then going on."""
    latest = await client.get_workflow_handle(workflow_id).describe()
    run_id = latest.run_id
    last_completed = 0
    async for event in client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            last_completed = event.event_id
    await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            reason=f"repair: retry after the run {run_prefix} closed",
            workflow_task_finish_event_id=last_completed,
            request_id=str(uuid.uuid4()),
        )
    )


async def _cancel(client: Client, task: Task) -> None:
    """Release what is held and give the money back, as the flow's own cancellation does."""
    with Session(get_read_engine()) as session:
        model = ReturnEvent if task.return_id else OrderEvent
        base = _next_outside_seq(session, model, task.return_id or task.order_id)
    reason = "cancelled after the flow failed"
    if task.return_id:
        params = {"reason": reason}
        inp = ReturnStepInput(return_id=task.return_id, step=CLOSED_STEP, seq=base, params=params)
        await anyio.to_thread.run_sync(return_steps.release_exchange, inp)
        return
    await release_stock(StepInput(task.order_id, CLOSED_STEP, base, params={"reason": reason}), client)
    await anyio.to_thread.run_sync(cancel_payment, StepInput(task.order_id, CLOSED_STEP, base + 1))


def _decided(task_id: str, user: str, role: str, decision: str, comment: str) -> None:
    status = {"retry": None, "cancel": "cancelled", "handled": "handled"}[decision]
    with session_scope() as session:
        task = session.get(Task, task_id)
        assert task is not None
        task.status, task.decision, task.decided_by, task.comment = "decided", decision, user, comment
        task.decided_at = utcnow()
        session.add(task)
        message = f"{task.title}: {decision} by {user}" + (f" ({comment})" if comment else "")
        data = {"task_id": task.id, "decision": decision, "by": user, "comment": comment}
        if task.return_id:
            seq = _next_outside_seq(session, ReturnEvent, task.return_id)
            if decision == "retry":
                status = _previous_status(session, ReturnEvent, task.return_id)
            return_steps.record(
                session,
                ReturnProgress(
                    task.return_id, seq, "task_decided", CLOSED_STEP, message, status, data, final=decision != "retry"
                ),
            )
            return
        seq = _next_outside_seq(session, OrderEvent, task.order_id)
        session.add(
            DecisionRecord(
                order_id=task.order_id,
                task_id=task.id,
                seq=seq,
                user=user,
                role=role,
                decision=decision,
                comment=comment,
            )
        )
        if decision == "retry":
            status = _previous_status(session, OrderEvent, task.order_id)
        timeline.record(session, Progress(task.order_id, seq, "task_decided", CLOSED_STEP, message, status, data))


def _previous_status(session: Session, model: type[OrderEvent] | type[ReturnEvent], owner_id: str) -> str | None:
    """The status the order (or return) had before its workflow closed: a retried flow goes on from there."""
    line: OrderEvent | ReturnEvent | None
    if model is OrderEvent:
        line = session.exec(
            select(OrderEvent)
            .where(OrderEvent.order_id == owner_id, OrderEvent.type == "failed", OrderEvent.step == CLOSED_STEP)
            .order_by(col(OrderEvent.seq).desc())
        ).first()
    else:
        line = session.exec(
            select(ReturnEvent)
            .where(ReturnEvent.return_id == owner_id, ReturnEvent.type == "failed", ReturnEvent.step == CLOSED_STEP)
            .order_by(col(ReturnEvent.seq).desc())
        ).first()
    return ((line.data or {}).get("previous_status") or None) if line else None
