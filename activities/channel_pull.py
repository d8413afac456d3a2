"""Activities of pull connectors: each a thin call into services/orders/channel_pull.py."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import typed_failures
from services.orders import channel_pull
from workflows.contracts import PulledPage, PullPage, PullPlan, PullRun, PullSummary


@activity.defn(name="begin_channel_pull")
def begin_channel_pull(run: PullRun) -> PullPlan:
    """The first page's URL from the channel's stored cursor (empty: the channel pulls nothing)."""
    with typed_failures():
        return channel_pull.begin(run)


@activity.defn(name="pull_channel_page")
async def pull_channel_page(inp: PullPage) -> PulledPage:
    """Fetch one page of the platform's orders and take each through the mapping and the intake.

    A 429 is retried after its Retry-After, a 5xx or an unreachable platform by the retry policy.
    """
    with typed_failures():
        try:
            return await channel_pull.take_page(activity.client(), inp)
        except channel_pull.PullRetryable as exc:
            # Temporal waits what the platform asked (429 Retry-After) instead of the policy's interval.
            delay = None if exc.retry_after is None else timedelta(seconds=exc.retry_after)
            raise ApplicationError(exc.message, type=exc.code, next_retry_delay=delay) from None


@activity.defn(name="finish_channel_pull")
def finish_channel_pull(summary: PullSummary) -> None:
    """Store the run's cursor and outcome."""
    with typed_failures():
        channel_pull.finish(summary)


CHANNEL_PULL_ACTIVITIES = [begin_channel_pull, pull_channel_page, finish_channel_pull]
