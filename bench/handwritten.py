"""The shipped order flow's prepaid happy path, written by hand as a plain Temporal workflow.

The baseline for ``bench/flow_overhead.py``: the same activities, inputs,
sequence numbers, timeouts, retry policy and local/regular choices as
``workflows/order.py`` produces when it interprets ``definitions/flows/order.yaml``
for a prepaid order the audit approves:

    audit (audit_order, seq 1, status audited)
    reserve (reserve_stock, seq 2, status reserved)
    payment_check (switch without status: no activity)
    ship (create_shipment, seq 3, status shipped)
    await_delivery (wait without status: no "waiting" line; on the event,
                    record_progress "event" as a local activity, seq 4)
    completed (end: record_progress "completed" as a local activity, seq 5)

Only the branches the benchmark needs are written out; anything else fails the
workflow loudly so a benchmark never silently measures a different path.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

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

# Same values as workflows/order.py (copied, not imported: the baseline must not
# load the interpreter's module into the sandbox).
ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30))
DELIVERY_TIMEOUT = timedelta(days=30)  # await_delivery: timeout 30d


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

    async def _progress(self, inp: OrderInput, type_: str, step: str, message: str,
                        status: str | None = None, data: dict | None = None) -> None:
        await workflow.execute_local_activity(
            "record_progress",
            Progress(order_id=inp.order_id, seq=self._next_seq(), type=type_, step=step,
                     message=message, status=status, data=data or {}),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )

    async def _notify(self, inp: OrderInput, step: str, event: str, status: str | None = None) -> None:
        self._path.append(step)
        await workflow.execute_activity(
            "notify",
            StepInput(order_id=inp.order_id, step=step, seq=self._next_seq(), status=status,
                      params={"event": event}, event=None),
            result_type=StepResult, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )

    async def _end(self, inp: OrderInput, step: str, status: str) -> OrderResult:
        self._path.append(step)
        await self._progress(inp, "completed" if status == "completed" else "ended", step,
                             f"flow {inp.flow.name} v{inp.flow.version} ended: {status}", status)
        return OrderResult(order_id=inp.order_id, status=status, path=self._path)

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        # audit
        self._path.append("audit")
        outcome: AuditOutcome = await workflow.execute_activity(
            "audit_order",
            AuditInput(order_id=inp.order_id, step="audit", seq=self._next_seq(),
                       rules=inp.rules["order_audit"], status="audited"),
            result_type=AuditOutcome, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        if outcome.action == "reject":
            return await self._end(inp, "rejected", "rejected")
        if outcome.action != "approve":
            raise ApplicationError(f"benchmark baseline: audit said {outcome.action!r}", non_retryable=True)

        # reserve
        self._path.append("reserve")
        try:
            await workflow.execute_activity(
                "reserve_stock",
                StepInput(order_id=inp.order_id, step="reserve", seq=self._next_seq(), status="reserved",
                          params={}, event=None),
                result_type=StepResult, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == "out_of_stock":
                await self._progress(inp, "out_of_stock", "reserve", str(cause.message))
                return await self._end(inp, "out_of_stock", "out_of_stock")
            raise

        # payment_check
        self._path.append("payment_check")
        if (inp.order.get("payment") or {}).get("status") != "paid":
            raise ApplicationError("benchmark baseline: only prepaid orders", non_retryable=True)

        # delivery_method (ship), notify_confirmed
        self._path.append("delivery_method")
        await self._notify(inp, "notify_confirmed", "confirmed")

        # ship, notify_shipped
        self._path.append("ship")
        await workflow.execute_activity(
            "create_shipment",
            StepInput(order_id=inp.order_id, step="ship", seq=self._next_seq(), status="shipped",
                      params={"carriers": "default"}, event=None),
            result_type=StepResult, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        await self._notify(inp, "notify_shipped", "shipped")

        # await_delivery
        self._path.append("await_delivery")
        await workflow.wait_condition(
            lambda: any(e.type == "delivered" for e in self._events), timeout=DELIVERY_TIMEOUT
        )
        event = self._events.pop(next(i for i, e in enumerate(self._events) if e.type == "delivered"))
        await self._progress(inp, "event", "await_delivery", f"event {event.type} received",
                             data={"type": event.type, "data": event.data})
        await self._notify(inp, "notify_delivered", "delivered", status="delivered")

        # completed
        return await self._end(inp, "completed", "completed")
