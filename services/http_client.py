"""One request of an outbound HTTP integration, and what its answer means.

Pull connectors, stock sync, carrier and payment adapters and the flows'
``http`` step send through ``send``: it reads each secret header's value from
its ``OMS_..._SECRET...`` variable (engine/outbound_config.py), checks the
destination against the outbound address rules (services/outbound.py) unless
the operator named it (an http step's endpoint), sends without following
redirects and reads the answer (up to a limit, when one is given).

``send`` returns every answer the server gave, whatever its status; the caller
words the failure for its own timeline or error. What the answer means is the
same for all: a 2xx is ``ok``; a 429 (after its Retry-After) or a 5xx is
``retryable``, as are a timeout and a server that cannot be reached
(``NoAnswer``); any other answer is final. Exceptions carry text that is safe
on a timeline; the raw network error goes to the log.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from engine.outbound_config import SecretHeader, retry_after_seconds
from services.outbound import SendFailed, check_destination, describe

log = logging.getLogger(__name__)

# A Retry-After is honoured up to this many seconds unless the caller caps it lower.
RETRY_AFTER_CEILING = 300.0


class SecretNotSet(SendFailed):
    """The environment variable a secret header names is not set (or empty)."""

    def __init__(self, secret: SecretHeader):
        super().__init__(f"{secret.secret_env} is not set")
        self.secret = secret


class CannotSend(SendFailed):
    """The request cannot be put on the wire (a URL or header httpx refuses)."""


class NoAnswer(SendFailed):
    """No answer: the server timed out or could not be reached; ``timed_out`` says which."""

    def __init__(self, cause: BaseException):
        super().__init__(describe(cause))
        self.timed_out = isinstance(cause, httpx.TimeoutException)


class AnswerTooLarge(SendFailed):
    """The answer is longer than the caller reads."""

    def __init__(self, limit: int):
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Answer:
    """What the server answered: its status, headers (names in any case) and body."""

    status: int
    headers: httpx.Headers
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """429 or 5xx: trying again later can work."""
        return self.status == 429 or self.status >= 500

    def retry_after(self, ceiling: float = RETRY_AFTER_CEILING) -> float:
        """The Retry-After header's delay in seconds, at most ``ceiling`` (1 without a usable header)."""
        return retry_after_seconds(self.headers.get("retry-after"), ceiling=ceiling)

    def said(self, ceiling: float = RETRY_AFTER_CEILING) -> str:
        """``answered 503``, or for a 429 ``answered 429 (retry after 2s)``."""
        if self.status == 429:
            return f"answered 429 (retry after {self.retry_after(ceiling):g}s)"
        return f"answered {self.status}"

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.content)


def secret_headers(secrets: Iterable[SecretHeader]) -> dict[str, str]:
    """Each secret header with its value read from the environment; SecretNotSet for the first one unset."""
    headers = {}
    for secret in secrets:
        value = os.environ.get(secret.secret_env)
        if not value:
            raise SecretNotSet(secret)
        headers[secret.header] = secret.prefix + value
    return headers


def send(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    secrets: Iterable[SecretHeader] = (),
    content: bytes | None = None,
    timeout: float,
    max_bytes: int | None = None,
    trusted: bool = False,
    what: str = "the webhook",
) -> Answer:
    """Send one request and return its answer, whatever its status.

    Raises SecretNotSet, DestinationRefused (unless ``trusted``: a base URL the operator configured;
    ``what`` names the sender in its message), CannotSend, NoAnswer, or AnswerTooLarge past ``max_bytes``.
    """
    sent = {**headers, **secret_headers(secrets)}
    if not trusted:
        check_destination(url, what)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            try:
                request = client.build_request(method, url, headers=sent, content=content)
            except (httpx.InvalidURL, UnicodeError) as exc:
                raise CannotSend(str(exc)) from None
            response = client.send(request, stream=True)
            try:
                data = _read(response, max_bytes)
            finally:
                response.close()
    except httpx.HTTPError as exc:
        log.warning("%s %s failed: %r", method, url, exc)
        raise NoAnswer(exc) from None
    return Answer(response.status_code, response.headers, data)


def _read(response: httpx.Response, max_bytes: int | None) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise AnswerTooLarge(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)
