"""The human tasks of an order: opened, escalated, approved and closed by its workflow.

Each write goes on the timeline with the workflow's sequence number, in the
same transaction, so a retried activity does nothing twice.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from oms.db import get_read_engine, session_scope
from oms.models import DecisionRecord, Task, utcnow
from services import escalations
from services.orders.timeline import already_recorded, record
from services.rows import required
from workflows.contracts import Progress, TaskApproval, TaskClose, TaskEscalation, TaskInput


def task_id_for(order_id: str, seq: int) -> str:
    return f"{order_id}-t{seq}"


def open_task(inp: TaskInput) -> str:
    """Put a human task in the inbox; returns its id (stable across retries)."""
    task_id = task_id_for(inp.order_id, inp.seq)
    with session_scope() as session:
        if already_recorded(session, inp.order_id, inp.seq):
            return task_id
        session.add(
            Task(
                id=task_id,
                order_id=inp.order_id,
                workflow_id=inp.workflow_id,
                step=inp.step,
                title=inp.title,
                role=inp.role,
                reason=inp.reason,
                decisions=inp.decisions,
                due_at=utcnow() + timedelta(seconds=inp.due_seconds),
                needs_approvals=inp.needs_approvals,
            )
        )
        record(
            session,
            Progress(
                order_id=inp.order_id,
                seq=inp.seq,
                type="task_opened",
                step=inp.step,
                message=f"{inp.title}: waiting for {inp.role} ({inp.reason})"
                if inp.reason
                else f"{inp.title}: waiting for {inp.role}",
                status=inp.status,
                data={"task_id": task_id, "role": inp.role, "decisions": inp.decisions},
            ),
        )
    return task_id


def close_task(inp: TaskClose) -> None:
    """Record a task's decision, or its expiry, on the task and the timeline."""
    with session_scope() as session:
        if already_recorded(session, inp.order_id, inp.seq):
            return
        task = required(session, Task, inp.task_id)
        if inp.event:
            _close_by_event(session, task, inp)
            return
        expired = inp.outcome == "timeout"
        task.status = "expired" if expired else "decided"
        task.decision = None if expired else inp.outcome
        task.decided_by = inp.decided_by
        task.comment = inp.comment
        task.decided_at = utcnow()
        session.add(task)
        if not expired:
            session.add(
                DecisionRecord(
                    order_id=inp.order_id,
                    task_id=task.id,
                    seq=inp.seq,
                    user=inp.decided_by or "",
                    role=inp.role,
                    decision=inp.outcome,
                    comment=inp.comment,
                )
            )
        message = (
            f"{task.title}: no decision before the due time"
            if expired
            else f"{task.title}: {inp.outcome} by {inp.decided_by}" + (f" ({inp.comment})" if inp.comment else "")
        )
        record(
            session,
            Progress(
                order_id=inp.order_id,
                seq=inp.seq,
                type="task_expired" if expired else "task_decided",
                step=task.step,
                message=message,
                data={
                    "task_id": task.id,
                    "decision": task.decision,
                    "by": inp.decided_by,
                    "comment": inp.comment,
                    **inp.data,
                },
            ),
        )


def _close_by_event(session, task: Task, inp: TaskClose) -> None:
    """An event the step listens for (e.g. cancel_requested) ended the task: no decision was taken."""
    task.status = "closed"
    task.decided_at = utcnow()
    session.add(task)
    record(
        session,
        Progress(
            order_id=inp.order_id,
            seq=inp.seq,
            type="task_closed",
            step=task.step,
            message=f"{task.title}: closed by event {inp.event}",
            data={"task_id": task.id, "event": inp.event},
        ),
    )


def escalate_task(inp: TaskEscalation) -> None:
    """Hand an undecided task to the escalation role, with a new due time, and e-mail whoever holds it."""
    with Session(get_read_engine()) as session:
        if already_recorded(session, inp.order_id, inp.seq):
            return
        previous = required(session, Task, inp.task_id).role
    due_at = utcnow() + timedelta(seconds=inp.due_seconds)
    told = escalations.announce(inp.task_id, inp.seq, previous, inp.role, due_at.strftime("%Y-%m-%d %H:%M UTC"))
    with session_scope() as session:
        if already_recorded(session, inp.order_id, inp.seq):
            return
        task = required(session, Task, inp.task_id)
        previous = task.role
        task.role = inp.role
        task.escalated_at = utcnow()
        task.due_at = due_at
        task.claimed_by = None
        session.add(task)
        message = f"{task.title}: no decision by {previous} in time; escalated to {inp.role}"
        record(
            session,
            Progress(
                order_id=inp.order_id,
                seq=inp.seq,
                type="task_escalated",
                step=task.step,
                message=message + (f"; {told.summary}" if told.summary else ""),
                data={"task_id": task.id, "from": previous, "to": inp.role, "emailed": told.sent},
            ),
        )


def record_approval(inp: TaskApproval) -> None:
    """Record the first of two approvals (four-eyes); the task stays open for the second."""
    with session_scope() as session:
        if already_recorded(session, inp.order_id, inp.seq):
            return
        task = required(session, Task, inp.task_id)
        task.approvals = [*task.approvals, inp.user]
        task.claimed_by = None
        session.add(task)
        session.add(
            DecisionRecord(
                order_id=inp.order_id,
                task_id=task.id,
                seq=inp.seq,
                user=inp.user,
                role=inp.role,
                decision="approve",
                comment=inp.comment,
                final=False,
            )
        )
        record(
            session,
            Progress(
                order_id=inp.order_id,
                seq=inp.seq,
                type="task_approved_once",
                step=task.step,
                message=f"{task.title}: approved by {inp.user}; a second person must approve",
                data={"task_id": task.id, "by": inp.user, "comment": inp.comment},
            ),
        )
