"""The shipped order flow's prepaid happy path written by hand: the baseline of bench/flow_overhead.py, and
the floor of bench/lifecycle.py (``python -m bench.handwritten``: `oms worker` with it in the interpreter's place).

The same activities, inputs, sequence numbers, timeouts, retry policy and local/regular choices as
``OrderFlow`` interpreting ``definitions/flows/order.yaml``; any other branch fails the workflow loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        AuditInput,
        AuditOutcome,
        ExternalEvent,
        OrderInput,
        OrderResult,
        Progress,
        StepInput,
        StepResult,
    )

# As in workflows/order_flow.py (copied: the baseline must not load the interpreter into the sandbox).
ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30)
)
DELIVERY_TIMEOUT = timedelta(days=30)  # await_delivery: timeout 30d
DELIVERED = ("delivered", "delivery_exception")  # what out_for_delivery waits for


@workflow.defn(name="HandwrittenOrder")
class HandwrittenOrderWorkflow:
    def __init__(self) -> None:
        self._seq = 0
        self._events: list[ExternalEvent] = []
        self._path: list[str] = []

    @workflow.signal(name="event")
    def on_event(self, event: ExternalEvent) -> None:
        self._events.append(ExternalEvent(event.type, dict(event.data)))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _progress(
        self, inp: OrderInput, type_: str, step: str, message: str, status: str | None = None, data: dict | None = None
    ) -> None:
        line = Progress(inp.order_id, self._next_seq(), type_, step, message, status, data or {})
        await workflow.execute_local_activity(
            "record_progress", line, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY
        )

    async def _step(self, inp: OrderInput, activity: str, step: str, status: str | None, params: dict) -> None:
        self._path.append(step)
        await workflow.execute_activity(
            activity,
            StepInput(order_id=inp.order_id, step=step, seq=self._next_seq(), status=status, params=params, event=None),
            result_type=StepResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def _wait(self, inp: OrderInput, step: str, on: tuple[str, ...], status: str | None = None) -> str:
        if status:
            await self._progress(inp, "waiting", step, f"waiting for {', '.join(on)}", status)
        await workflow.wait_condition(lambda: any(e.type in on for e in self._events), timeout=DELIVERY_TIMEOUT)
        event = self._events.pop(next(i for i, e in enumerate(self._events) if e.type in on))
        data = {"type": event.type, "data": event.data}
        await self._progress(inp, "event", step, f"event {event.type} received", data=data)
        return event.type

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        self._path.append("audit")
        audit = AuditInput(inp.order_id, "audit", self._next_seq(), inp.rules["order_audit"], status="audited")
        outcome: AuditOutcome = await workflow.execute_activity(
            "audit_order", audit, result_type=AuditOutcome, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY
        )
        if outcome.action != "approve":
            raise ApplicationError(f"benchmark baseline: audit said {outcome.action!r}", non_retryable=True)
        await self._step(inp, "reserve_stock", "reserve", "reserved", {})  # stock no run exhausts: no out_of_stock
        self._path.append("payment_check")
        if (inp.order.get("payment") or {}).get("status") != "paid":
            raise ApplicationError("benchmark baseline: only prepaid orders", non_retryable=True)
        self._path.append("delivery_method")  # ship
        await self._step(inp, "notify", "notify_confirmed", None, {"event": "confirmed"})
        await self._step(inp, "create_shipment", "ship", "shipped", {"carriers": "default"})
        await self._step(inp, "notify", "notify_shipped", None, {"event": "shipped"})
        self._path.append("await_delivery")
        received = await self._wait(inp, "await_delivery", ("in_transit", "out_for_delivery", *DELIVERED))
        if received == "out_for_delivery":  # the out_for_delivery wait step, with its status
            self._path.append("out_for_delivery")
            received = await self._wait(inp, "out_for_delivery", DELIVERED, "out_for_delivery")
        if received != "delivered":
            raise ApplicationError(f"benchmark baseline: event {received!r}", non_retryable=True)
        await self._step(inp, "notify", "notify_delivered", "delivered", {"event": "delivered"})
        self._path.append("completed")
        await self._progress(
            inp, "completed", "completed", f"flow {inp.flow.name} v{inp.flow.version} ended: completed", "completed"
        )
        return OrderResult(order_id=inp.order_id, status="completed", path=self._path)


@workflow.defn(name="OrderFlow")
class StandIn(HandwrittenOrderWorkflow):
    """Under the interpreter's name, so that intake and the events API start and signal it as they do an order."""

    @workflow.signal(name="event")
    def on_event(self, event: ExternalEvent) -> None:
        super().on_event(event)

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        return await super().run(inp)


if __name__ == "__main__":  # as `oms worker` runs, with its settings and CPU priority
    from oms.settings import get_settings
    from oms.worker import run_worker

    os.nice(get_settings().worker_nice)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(workflows=[StandIn]))
