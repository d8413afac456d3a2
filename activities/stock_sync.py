"""Activities of stock sync to channels: each a thin call into services/stock/channel_sync.py."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import typed_failures
from services.stock import channel_sync
from workflows.contracts import StockSyncBatch, StockSyncPlan, StockSyncPushed, StockSyncRun


@activity.defn(name="plan_stock_sync")
def plan_stock_sync(run: StockSyncRun) -> StockSyncPlan:
    """The channel's next batch of changed SKUs, how long to wait for one, or stop (it no longer syncs)."""
    with typed_failures():
        return channel_sync.plan(run)


@activity.defn(name="push_stock_batch")
def push_stock_batch(batch: StockSyncBatch) -> StockSyncPushed:
    """Push the batch's quantities to the channel's platform in one request and store the outcome per SKU.

    A 429 is retried after its Retry-After, a 5xx or an unreachable platform by the retry policy.
    """
    with typed_failures():
        try:
            return channel_sync.push(batch)
        except channel_sync.SyncRetryable as exc:
            # Temporal waits what the platform asked (429 Retry-After) instead of the policy's interval.
            delay = None if exc.retry_after is None else timedelta(seconds=exc.retry_after)
            raise ApplicationError(exc.message, type=exc.code, next_retry_delay=delay) from None


STOCK_SYNC_ACTIVITIES = [plan_stock_sync, push_stock_batch]
