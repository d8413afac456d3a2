"""Activities of returns: each a thin call into its service."""

from __future__ import annotations

from temporalio import activity

from activities.failures import typed_failures
from services.returns import steps
from workflows.contracts import (
    ReturnAuditInput,
    ReturnAuditOutcome,
    ReturnProgress,
    ReturnStepInput,
    ReturnTaskClose,
    ReturnTaskEscalation,
    ReturnTaskInput,
)


@activity.defn(name="record_return_progress")
def record_return_progress(progress: ReturnProgress) -> None:
    """Write one timeline line (and the new status) unless it is already there."""
    with typed_failures():
        return steps.record_return_progress(progress)


@activity.defn(name="await_return_stored")
def await_return_stored(return_id: str) -> bool:
    """True once the return's row is committed (the request commits right after starting the workflow).

    Retried by the workflow until its deadline, after which the workflow ends without acting.
    """
    with typed_failures():
        return steps.await_return_stored(return_id)


@activity.defn(name="audit_return")
def audit_return(inp: ReturnAuditInput) -> ReturnAuditOutcome:
    """Apply the pinned return_policy rules to the return and its facts; store the outcome."""
    with typed_failures():
        return steps.audit_return(inp)


@activity.defn(name="open_return_task")
def open_return_task(inp: ReturnTaskInput) -> str:
    """Put a return's task in the inbox (it names the return); returns its id, stable across retries."""
    with typed_failures():
        return steps.open_return_task(inp)


@activity.defn(name="close_return_task")
def close_return_task(inp: ReturnTaskClose) -> None:
    """Record a return task's decision (with the QC results), or its expiry."""
    with typed_failures():
        return steps.close_return_task(inp)


@activity.defn(name="escalate_return_task")
def escalate_return_task(inp: ReturnTaskEscalation) -> None:
    """"""
    with typed_failures():
        return steps.escalate_return_task(inp)


@activity.defn(name="issue_return_label")
def issue_return_label(inp: ReturnStepInput) -> dict:
    """A return label from the carrier adapter (params.carrier, params.adapter).

    Addressed to params.warehouse or the warehouse the order shipped from.
    """
    with typed_failures():
        return steps.issue_return_label(inp)


@activity.defn(name="notify_return")
def notify_return(inp: ReturnStepInput) -> dict:
    """Send the customer the notification of params.event (template notify_<event>) about the return."""
    with typed_failures():
        return steps.notify_return(inp, activity.info().attempt)


@activity.defn(name="reserve_exchange")
def reserve_exchange(inp: ReturnStepInput) -> dict:
    """Reserve the replacement now, under the exchange order's id; failure out_of_stock."""
    with typed_failures():
        return steps.reserve_exchange(inp)


@activity.defn(name="release_exchange")
def release_exchange(inp: ReturnStepInput) -> dict:
    """Give back the replacement held for an exchange that will not happen."""
    with typed_failures():
        return steps.release_exchange(inp)


@activity.defn(name="place_exchange")
async def place_exchange(inp: ReturnStepInput) -> dict:
    """The exchange order for the replacement, through the standard intake and order flow."""
    with typed_failures():
        return await steps.place_exchange(inp, activity.client())


@activity.defn(name="restock_return")
def restock_return(inp: ReturnStepInput) -> dict:
    """Resellable items back to stock; damaged ones written off with their reason.

    Restocking is a `return` ledger movement tied to the return, to params.warehouse or the warehouse they left from.
    """
    with typed_failures():
        return steps.restock_return(inp)


@activity.defn(name="refund_return")
def refund_return(inp: ReturnStepInput) -> dict:
    """Refund the goods that came back through the payment adapter, never more than the order paid.

    Shipping is refunded only when the policy tagged refund_shipping.
    """
    with typed_failures():
        return steps.refund_return(inp)
