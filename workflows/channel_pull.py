"""One run of a channel's pull connector ("ChannelPull"), started by the channel's Temporal schedule.

``begin_channel_pull`` gives the first page's URL from the stored cursor;
``pull_channel_page`` fetches each page and takes its orders through the
channel's mapping and the intake (idempotent per channel and external id), and
says which page follows; ``finish_channel_pull`` stores the cursor the run
reached. Pages are at least ``1 / rate_limit.per_second`` apart (a durable
timer). A 429 or 5xx answer fails the page's activity with a retryable error:
the retry policy tries again (a 429 after its Retry-After). A run that fails
stores nothing, so the next run repeats its pages; intake makes that harmless.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import PulledPage, PullPage, PullPlan, PullRun, PullSummary

STEP_TIMEOUT = timedelta(seconds=30)
PAGE_TIMEOUT = timedelta(minutes=5)
# 429, 5xx and an unreachable platform: tried again, a little later each time, for about ten minutes.
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=["pull_refused"],
)
STEP_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20)


@workflow.defn(name="ChannelPull")
class ChannelPull:
    @workflow.run
    async def run(self, run: PullRun) -> PullSummary:
        plan: PullPlan = await workflow.execute_activity(
            "begin_channel_pull",
            run,
            result_type=PullPlan,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
        summary = PullSummary(channel=run.channel, cursor=plan.cursor)
        if not plan.url:
            return summary
        url = plan.url
        while url:
            if summary.pages and plan.min_gap_seconds:
                await workflow.sleep(timedelta(seconds=plan.min_gap_seconds))
            page: PulledPage = await workflow.execute_activity(
                "pull_channel_page",
                PullPage(channel=run.channel, url=url, page=summary.pages + 1, cursor=summary.cursor),
                result_type=PulledPage,
                start_to_close_timeout=PAGE_TIMEOUT,
                retry_policy=PAGE_RETRY,
            )
            summary.pages += 1
            summary.items += page.items
            summary.created += page.created
            summary.existing += page.existing
            summary.rejected.extend({**r, "page": summary.pages} for r in page.rejected)
            summary.cursor = page.cursor
            url = page.next_url
        await workflow.execute_activity(
            "finish_channel_pull", summary, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
        )
        return summary
