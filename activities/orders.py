"""Activities of orders: each a thin call into its service."""

from __future__ import annotations

from temporalio import activity

from activities.failures import typed_failures
from services.orders import address, audit, payments, status_push, tasks, timeline
from workflows.contracts import (
    AuditInput,
    AuditOutcome,
    Progress,
    StatusPush,
    StepInput,
    StepResult,
    TaskApproval,
    TaskClose,
    TaskEscalation,
    TaskInput,
)


@activity.defn(name="record_progress")
def record_progress(progress: Progress) -> None:
    """Write one timeline line (and the new status) unless it is already there."""
    with typed_failures():
        return timeline.record_progress(progress)


@activity.defn(name="open_task")
def open_task(inp: TaskInput) -> str:
    """Put a human task in the inbox; returns its id (stable across retries)."""
    with typed_failures():
        return tasks.open_task(inp)


@activity.defn(name="close_task")
def close_task(inp: TaskClose) -> None:
    """Record a task's decision, or its expiry, on the task and the timeline."""
    with typed_failures():
        return tasks.close_task(inp)


@activity.defn(name="escalate_task")
def escalate_task(inp: TaskEscalation) -> None:
    """Hand an undecided task to the escalation role, with a new due time."""
    with typed_failures():
        return tasks.escalate_task(inp)


@activity.defn(name="record_approval")
def record_approval(inp: TaskApproval) -> None:
    """Record the first of two approvals (four-eyes); the task stays open for the second."""
    with typed_failures():
        return tasks.record_approval(inp)


@activity.defn(name="audit_order")
def audit_order(inp: AuditInput) -> AuditOutcome:
    """Compute facts, apply the pinned rule set, store the outcome on the order."""
    with typed_failures():
        return audit.audit_order(inp)


@activity.defn(name="mark_paid")
def mark_paid(inp: StepInput) -> StepResult:
    """Mark the order paid with the data of the payment event that arrived."""
    with typed_failures():
        return payments.mark_paid(inp)


@activity.defn(name="cancel_payment")
def cancel_payment(inp: StepInput) -> StepResult:
    """Give the money back on cancellation: refund a paid order, void an unpaid authorisation."""
    with typed_failures():
        return payments.cancel_payment(inp)


@activity.defn(name="change_address")
def change_address(inp: StepInput) -> StepResult:
    """Apply the new shipping address of an address_changed event (re-audit and re-allocate follow in the flow)."""
    with typed_failures():
        return address.change_address(inp)


@activity.defn(name="push_status")
def push_status(push: StatusPush) -> None:
    """POST the new status; any failure raises, and Temporal retries with backoff."""
    with typed_failures():
        return status_push.push_status(push)
