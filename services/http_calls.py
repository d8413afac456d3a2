"""The ``http`` flow step's request (engine/http_steps.py): where it may go, its secrets, its answer.

An absolute URL goes out only if its host passes the outbound address rules
(``services.outbound.check_destination``: no loopback, private, link-local or
metadata address unless ``OMS_OUTBOUND_ALLOWLIST`` names it); an ``endpoint``
is a base URL the operator named in ``OMS_HTTP_ENDPOINTS``, trusted as the
allowlist is. Secret headers are read here from their ``OMS_..._SECRET...``
variables, never written to the workflow history or a timeline. Redirects are
not followed (a 3xx is an answer like any other), an answer is read up to
``MAX_BODY_BYTES``, and an ``Idempotency-Key`` stable across the activity's
retries goes with every request unless the step sets one.

Failures are typed for the flow's ``on_error`` (``http_404``, ``http_timeout``,
``http_unreachable``) and marked retryable for 5xx, 408, 429 (after its
Retry-After), timeouts and unreachable hosts; ``http_refused`` (the address
rules, an endpoint or a secret that is not configured) and ``http_too_large``
are for an operator's repair. Their messages are safe on a timeline: the raw
network error goes to the log.
"""

from __future__ import annotations

import json
from functools import partial

import anyio
import httpx

from engine.outbound_config import SecretHeader
from oms.settings import get_settings
from services import http_client
from services.errors import StepFailed
from services.http_client import SecretNotSet
from services.outbound import DestinationRefused
from workflows.contracts import HttpAnswer, HttpCall

MAX_BODY_BYTES = 256 * 1024
# Response headers kept in the answer (the workflow history): at most this many, none that sets a cookie.
MAX_ANSWER_HEADERS = 50
_DROPPED_HEADERS = frozenset({"set-cookie", "set-cookie2"})


class HttpCallFailed(StepFailed):
    """An http step's request that got no 2xx answer; ``retry_after`` is a 429's (or 503's) Retry-After."""

    def __init__(self, code: str, message: str, retryable: bool = False, retry_after: float | None = None):
        super().__init__(code, message, retryable=retryable)
        self.retry_after = retry_after


def shown(call: HttpCall) -> str:
    """The request as a timeline line says it: ``POST https://...`` or ``POST <endpoint>/path``."""
    return f"{call.method} {call.url or f'<{call.endpoint}>{call.path}'}"


def destination(call: HttpCall) -> str:
    """The URL to send to: the endpoint's base URL and the path (http_refused when it is not configured),
    or the URL, which the address rules check when it is sent."""
    if not call.endpoint:
        return call.url
    base = get_settings().http_endpoints.get(call.endpoint)
    if not base:
        raise HttpCallFailed(
            "http_refused", f"{shown(call)}: endpoint {call.endpoint!r} is not configured in OMS_HTTP_ENDPOINTS"
        )
    return base.rstrip("/") + call.path


def request_headers(call: HttpCall) -> dict[str, str]:
    """The step's headers but its secrets (http_client.send reads them from their variables)."""
    headers = {"Accept": "application/json", "User-Agent": "oms-http/1"}
    headers.update(call.headers)
    if not any(name.lower() == "idempotency-key" for name in headers):
        headers["Idempotency-Key"] = f"{call.workflow_id}-{call.seq}"
    return headers


async def call(inp: HttpCall) -> HttpAnswer:
    """Send the step's request; its 2xx answer, or HttpCallFailed typed for on_error."""
    request = partial(
        http_client.send,
        inp.method,
        destination(inp),
        headers=request_headers(inp),
        secrets=[SecretHeader(s.header, s.env, s.prefix) for s in inp.secrets],
        content=inp.body.encode("utf-8") if inp.body is not None else None,
        timeout=inp.timeout_seconds,
        max_bytes=MAX_BODY_BYTES,
        trusted=bool(inp.endpoint),  # a base URL the operator named, trusted as the allowlist is
        what="the http step's",
    )
    try:
        answer = await anyio.to_thread.run_sync(request)
    except SecretNotSet as exc:
        raise HttpCallFailed(
            "http_refused", f"{shown(inp)}: {exc} (the secret of header {exc.secret.header!r})"
        ) from None
    except DestinationRefused as exc:
        raise HttpCallFailed("http_refused", f"{shown(inp)} refused: {exc}") from None
    except http_client.CannotSend as exc:
        raise HttpCallFailed("http_refused", f"{shown(inp)} cannot be sent: {exc}") from None
    except http_client.AnswerTooLarge as exc:
        raise HttpCallFailed("http_too_large", f"{shown(inp)}: {exc}") from None
    except http_client.NoAnswer as exc:
        if exc.timed_out:
            raise HttpCallFailed(
                "http_timeout", f"{shown(inp)} did not answer within {inp.timeout_seconds:g}s", retryable=True
            ) from None
        raise HttpCallFailed("http_unreachable", f"{shown(inp)} could not be reached", retryable=True) from None
    status = answer.status
    if not answer.ok:
        # 408 too: the server gave up waiting for the request, which a retry can send in time.
        delay = answer.retry_after() if status in (429, 503) and "retry-after" in answer.headers else None
        raise HttpCallFailed(
            f"http_{status}",
            f"{shown(inp)} answered {status}",
            retryable=answer.retryable or status == 408,
            retry_after=delay,
        )
    return HttpAnswer(status=status, body=_body(answer.content), headers=_answer_headers(answer.headers))


def _body(data: bytes) -> object:
    if not data.strip():
        return None
    text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _answer_headers(headers: httpx.Headers) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() not in _DROPPED_HEADERS and len(kept) < MAX_ANSWER_HEADERS:
            kept[name.lower()] = value[:1000]
    return kept
