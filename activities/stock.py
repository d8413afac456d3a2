"""Activities of stock: each a thin call into its service."""

from __future__ import annotations

from temporalio import activity

from activities.failures import typed_failures
from services.stock import reservation
from workflows.contracts import StepInput, StepResult


@activity.defn(name="reserve_stock")
def reserve_stock(inp: StepInput) -> StepResult:
    """Allocate and reserve every line in one transaction: all lines or none."""
    with typed_failures():
        return reservation.reserve_stock(inp)


@activity.defn(name="release_stock")
async def release_stock(inp: StepInput) -> StepResult:
    """Give the order's open reservations back to available stock; wake orders backordered on it."""
    with typed_failures():
        return await reservation.release_stock(inp, activity.client())
