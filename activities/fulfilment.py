"""Activities of fulfilment: each a thin call into its service."""

from __future__ import annotations

from temporalio import activity

from activities.failures import typed_failures
from services import notifications
from services.fulfilment import picking, shipping
from workflows.contracts import StepInput, StepResult


@activity.defn(name="pick")
def pick(inp: StepInput) -> StepResult:
    """Pick the order's reserved items (automatic: no scan)."""
    with typed_failures():
        return picking.pick(inp)


@activity.defn(name="check")
def check(inp: StepInput) -> StepResult:
    """Check the picked items against the order (automatic)."""
    with typed_failures():
        return picking.check(inp)


@activity.defn(name="pack")
def pack(inp: StepInput) -> StepResult:
    """Pack the order's items (automatic)."""
    with typed_failures():
        return picking.pack(inp)


@activity.defn(name="create_shipment")
def create_shipment(inp: StepInput) -> StepResult:
    """Ship the reserved stock: one parcel per warehouse (or rule), carrier by the carriers table."""
    with typed_failures():
        return shipping.create_shipment(inp)


@activity.defn(name="notify")
def notify(inp: StepInput) -> StepResult:
    """Send the customer the notification of ``params.event`` (e-mail and webhook), on the timeline."""
    with typed_failures():
        return notifications.notify(inp, activity.info().attempt)
