"""The one place where a service's typed failure becomes a Temporal failure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from services.errors import DomainError


@contextmanager
def typed_failures() -> Iterator[None]:
    """Re-raise a :class:`DomainError` as an ``ApplicationError`` typed by its code.

    A flow's ``on_error`` matches that type; business failures are not retried
    unless the service marked them retryable (contention, a row not yet committed).
    """
    try:
        yield
    except DomainError as exc:
        details = () if exc.details is None else (exc.details,)
        # A provider that answered 429 said when to come back (services/adapter_calls.py: retry_after).
        retry_after = getattr(exc, "retry_after", None)
        raise ApplicationError(
            exc.message,
            *details,
            type=exc.code,
            non_retryable=not exc.retryable,
            next_retry_delay=timedelta(seconds=retry_after) if retry_after else None,
        ) from None
