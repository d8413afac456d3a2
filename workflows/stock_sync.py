"""A channel's stock sync ("StockSync"): one long-running workflow per channel that pushes its stock.

It loops: ``plan_stock_sync`` says what is due (a batch of changed SKUs once
the oldest change is ``debounce`` old), how long to wait, or that the channel
no longer syncs (the workflow ends); ``push_stock_batch`` pushes a batch in
one request. A 429, a 5xx or an unreachable platform fails the push with a
retryable error and the retry policy tries again (a 429 after its
Retry-After); when its attempts are spent the SKUs are still marked, and the
next loop, after a pause, tries them again. The ``wake`` signal (sent when
the channel is published) ends a wait early, so new settings count at once.
The history is handed to a new run now and then (continue-as-new).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import StockSyncBatch, StockSyncPlan, StockSyncPushed, StockSyncRun

PLAN_TIMEOUT = timedelta(seconds=30)
PUSH_TIMEOUT = timedelta(seconds=60)
# The database down or a deploy: planning waits as long as it takes.
PLAN_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
# 429, 5xx and an unreachable platform: tried again, a little later each time, for about ten minutes.
PUSH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=["stock_sync_refused"],
)
# After a push whose attempts are all spent: the platform gets a rest before the SKUs are tried again.
PAUSE_AFTER_FAILURE = timedelta(minutes=5)
LOOPS_PER_RUN = 500


@workflow.defn(name="StockSync")
class StockSync:
    def __init__(self) -> None:
        self._woken = False

    @workflow.signal(name="wake")
    def wake(self) -> None:
        """The channel was published: look at its settings now, not after the current wait."""
        self._woken = True

    @workflow.run
    async def run(self, run: StockSyncRun) -> None:
        for _ in range(LOOPS_PER_RUN):
            plan: StockSyncPlan = await workflow.execute_activity(
                "plan_stock_sync",
                run,
                result_type=StockSyncPlan,
                start_to_close_timeout=PLAN_TIMEOUT,
                retry_policy=PLAN_RETRY,
            )
            if plan.stop:
                return
            if plan.skus:
                try:
                    await workflow.execute_activity(
                        "push_stock_batch",
                        StockSyncBatch(channel=run.channel, skus=plan.skus),
                        result_type=StockSyncPushed,
                        start_to_close_timeout=PUSH_TIMEOUT,
                        retry_policy=PUSH_RETRY,
                    )
                except ActivityError:
                    # Every attempt failed; each failure is on the stock page and the SKUs stay marked.
                    await self._wait(PAUSE_AFTER_FAILURE)
            else:
                await self._wait(timedelta(seconds=plan.wait_seconds))
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(run)

    async def _wait(self, duration: timedelta) -> None:
        if not self._woken:
            with suppress(TimeoutError):  # the wait ran out: the usual way
                await workflow.wait_condition(lambda: self._woken, timeout=duration)
        self._woken = False
