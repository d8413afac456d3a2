"""The activity of the flows' ``http`` steps: a thin call into services/http_calls.py."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.failures import typed_failures
from services import http_calls
from workflows.contracts import HttpAnswer, HttpCall


@activity.defn(name="http_request")
async def http_request(call: HttpCall) -> HttpAnswer:
    """Send an http step's request; its 2xx answer, or a failure typed ``http_<status>``, ``http_timeout`` ...

    5xx, 408, 429, timeouts and unreachable hosts are retried by the step's retry policy (a Retry-After
    is honoured); other answers and refused destinations are not.
    """
    with typed_failures():
        try:
            return await http_calls.call(call)
        except http_calls.HttpCallFailed as exc:
            if exc.retry_after is None:
                raise
            # Temporal waits what the server asked instead of the policy's interval.
            raise ApplicationError(
                exc.message,
                type=exc.code,
                non_retryable=not exc.retryable,
                next_retry_delay=timedelta(seconds=exc.retry_after),
            ) from None
