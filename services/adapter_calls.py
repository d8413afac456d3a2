"""Calls of HTTP adapters (carriers, payment providers) and what their answers mean for a step.

``call`` sends one operation of an adapter configured in a definition
(engine/http_adapters.py): the request is built from the operation's
mapping, its secret read from the environment variable the definition names,
its destination checked against the outbound address rules
(services/outbound.py). The answer decides:

- 2xx that fits the mapping: the result fields;
- 429, 5xx, a timeout or no connection: ``ProviderUnavailable``, retryable, so
  Temporal's activity retry policy tries again (after a 429's Retry-After);
- any other answer (4xx), an answer that does not fit the mapping, a request
  the mapping cannot build, a secret that is not set: ``ProviderFailed``, not
  retryable, with a message naming the mapping field; the flow's ``on_error``
  or the order's repair task takes it from there.

A step calls out only after its transaction: ``with_calls`` runs the step's
work, which raises ``CallsNeeded`` with the calls it is missing; they are
made with no transaction open (a slow provider never holds the database's
write lock) and the work runs again with their answers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from engine.http_adapters import AnswerMismatch, HttpAdapter, MappingError
from services import http_client
from services.errors import StepFailed, Unavailable
from services.http_client import SecretNotSet
from services.outbound import DestinationRefused

T = TypeVar("T")
# Answers of calls made so far, and calls a step still needs, keyed by what they ask.
Answers = dict[Hashable, Any]
Pending = dict[Hashable, Callable[[], Any]]
# A provider's Retry-After is honoured up to this many seconds (the activity's own retry policy caps at 30 s).
MAX_RETRY_AFTER_SECONDS = 30.0
# Rounds of "call out, then run the step again" before the plan is taken to be moving under the step.
MAX_ROUNDS = 4


class ProviderUnavailable(Unavailable):
    """429, 5xx, a timeout or no connection: trying again later can work."""

    def __init__(self, code: str, message: str, retry_after: float | None = None):
        super().__init__(code, message, retryable=True)
        # Seen by activities/failures.py: Temporal waits this long before the next attempt.
        self.retry_after = retry_after


class ProviderFailed(StepFailed):
    """The provider refused, or answered in a shape the mapping does not describe: a retry will not help."""


def call(adapter: HttpAdapter, operation: str, context: dict[str, Any], who: str, key: str = "") -> dict[str, str]:
    """Send ``operation`` of ``adapter`` and read its answer; ``who`` (e.g. "carrier 'dhl'") starts each message.

    Failure codes are ``<kind>_unavailable`` (retried) and ``<kind>_failed``, where kind is the first word of ``who``.
    """
    kind = who.split(" ", 1)[0]
    failed, unavailable = f"{kind}_failed", f"{kind}_unavailable"
    try:
        request = adapter.request(operation, context, key)
    except MappingError as exc:
        raise ProviderFailed(
            failed, f"{who}: cannot build the {operation} request: {exc.field}: {exc.message}"
        ) from None
    try:
        answer = http_client.send(
            request.method,
            request.url,
            headers=request.headers,
            secrets=[adapter.auth] if adapter.auth else [],
            content=request.body,
            timeout=adapter.timeout_seconds,
            what="the",
        )
    except SecretNotSet as exc:
        raise ProviderFailed(failed, f"{who}: {exc} ({adapter.where}.auth.secret_env)") from None
    except DestinationRefused as exc:
        raise ProviderFailed(failed, f"{who}: {exc} ({adapter.where}.base_url)") from None
    except http_client.NoAnswer as exc:
        raise ProviderUnavailable(unavailable, f"{who}: the {operation} request {exc}") from None
    reply = _json(answer)
    said = adapter.error_text(reply)
    said = f": {said}" if said else ""
    if answer.retryable:
        delay = answer.retry_after(MAX_RETRY_AFTER_SECONDS) if answer.status == 429 else None
        raise ProviderUnavailable(
            unavailable, f"{who}: {operation} {answer.said(MAX_RETRY_AFTER_SECONDS)}{said}", delay
        )
    if not answer.ok:
        raise ProviderFailed(failed, f"{who}: {operation} was refused with {answer.status}{said}")
    if reply is _NOT_JSON:
        raise ProviderFailed(
            failed, f"{who}: the answer to {operation} is not JSON ({adapter.operations[operation].where})"
        )
    try:
        return adapter.read(operation, reply)
    except AnswerMismatch as exc:
        raise ProviderFailed(
            failed, f"{who}: the answer to {operation} does not match the mapping: {exc.field}: {exc.message}"
        ) from None


_NOT_JSON = object()


def _json(answer: http_client.Answer) -> Any:
    try:
        return answer.json()
    except ValueError:
        return _NOT_JSON


class CallsNeeded(Exception):
    """Raised inside a step's transaction: these calls must be made first (outside it), keyed by what they ask."""

    def __init__(self, calls: Pending):
        super().__init__(f"{len(calls)} call(s) to make first")
        self.calls = calls


def with_calls(run: Callable[[Answers], T]) -> T:
    """``run(answers)``; each time it raises CallsNeeded, make those calls and run it again with their answers."""
    answers: Answers = {}
    for _ in range(MAX_ROUNDS):
        try:
            return run(answers)
        except CallsNeeded as needed:
            for key, make in needed.calls.items():
                answers[key] = make()
    raise Unavailable("plan_changed", "the step's plan changed while it called out; trying again", retryable=True)


def answer_of(answers: Answers, pending: Pending, key: Hashable, make: Callable[[], Any]) -> Any:
    """The answer to ``key`` if it was called already; else None, with the call added to ``pending``."""
    if key in answers:
        return answers[key]
    pending[key] = make
    return None
