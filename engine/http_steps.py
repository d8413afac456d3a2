"""The ``http`` flow step: a call to another system, written as data.

```yaml
- id: fraud_check
  type: http
  method: POST
  endpoint: fraud                     # a base URL the operator names in OMS_HTTP_ENDPOINTS, or
  path: /v1/score                     #   url: https://risk.example.com/v1/score (https; http only to this machine)
  headers:
    Authorization: {secret_env: OMS_HTTP_SECRET_FRAUD, prefix: "Bearer "}
    X-Channel: "{{ order.channel }}"
  body: |
    {"order": {{ order.id | tojson }}, "total": {{ order.total }}}
  save:                               # results.fraud_check.<key>: zen expressions over status, body, headers
    score: body.score
    risky: body.score > 80
  timeout: 5s                         # each attempt; at most 60s (default 10s)
  retry: {max_attempts: 4, backoff: 1s, max_backoff: 30s}
  next: decide
  on_error: {"404": unknown_customer, 4xx: manual_review, 5xx: manual_review, timeout: manual_review}
```

The URL's path, the header values and the body are Jinja texts rendered in the
templates' bounded sandbox over what expressions see (order, audit, results,
events; a return flow's ``return``). A header never holds a secret: it names
the ``OMS_..._SECRET...`` variable, read only by the activity that sends the
request, so no secret is in a definition, the workflow history or a timeline.

Where the flow goes: a 2xx answer goes to ``next`` with
``results.<step>.status`` and every ``save`` key set; any other answer, or
none, goes to the ``on_error`` key naming it: the status itself (``"404"``),
then its class (``4xx``), or ``timeout`` / ``unreachable`` once the retries
are spent (5xx, 408, 429, timeouts and unreachable hosts are retried; other
answers are not). An outcome ``on_error`` does not name fails the step, which
then waits for an operator's repair like any failed step.

Pure: this module renders requests and reads answers; ``services/http_calls.py``
sends them, ``engine/runtime.py`` decides what a step's outcome means.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path
from engine.expressions import Expression, ExpressionError, compile_error, compile_expression, to_text
from engine.outbound_config import SecretHeader, check_duration, secret_header
from engine.templates import compile_text, render_text, template_problems

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_TIMEOUT = "10s"
MAX_TIMEOUT_SECONDS = 60.0
DEFAULT_RETRY = {"max_attempts": 3, "backoff": "1s", "max_backoff": "30s"}
# What test cases and what-if take as the answer of an http step when nothing scripts one.
DEFAULT_EXAMPLE: dict[str, Any] = {"status": 200, "body": {}}
# Outcomes that are not an HTTP status: no answer in time, or no connection (after the retries).
NO_ANSWER = ("timeout", "unreachable")
ON_ERROR_KEY = re.compile(r"^([3-5][0-9][0-9]|[3-5]xx|timeout|unreachable)$")
# A Temporal failure of the http_request activity is typed http_<outcome>: http_404, http_timeout ...;
# http_refused (the outbound rules, an endpoint or secret not configured) and http_too_large are not outcomes.
FAILURE_PREFIX = "http_"
# Headers the client sets itself.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# Header names whose value is a credential: never written inline.
_SECRET_HEADER = re.compile(r"^(authorization|proxy-authorization|cookie)$|token|secret|password|api-?key|signature")
# The names an http step's templates see, besides a return flow's `return`.
CONTEXT_NAMES = ("order", "audit", "results", "events")


class HttpStepError(ValueError):
    """A request that cannot be rendered (a template failed, a header would carry a line break)."""


@dataclass(frozen=True)
class HttpRequest:
    """One visit's request, rendered: the URL (or endpoint and path), headers, body; secrets by name only."""

    method: str
    url: str
    endpoint: str
    path: str
    headers: tuple[tuple[str, str], ...]
    secrets: tuple[SecretHeader, ...]
    body: str | None

    @property
    def target(self) -> str:
        """Where it goes, as timeline lines say it: the URL, or ``<endpoint>/path``."""
        return self.url or f"<{self.endpoint}>{self.path}"


@dataclass(frozen=True)
class HttpResponse:
    """A 2xx answer as the flow reads it: the status, the body (JSON when it is JSON, else text), the headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpCallSpec:
    """What an http step sends and how long it tries: its texts compiled once per definition."""

    method: str
    url: str
    endpoint: str
    path: str
    timeout_seconds: float
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    example: Mapping[str, Any]
    headers: tuple[tuple[str, Any], ...] = ()
    secrets: tuple[SecretHeader, ...] = ()
    save: tuple[tuple[str, Expression], ...] = ()
    _url: Any = None
    _path: Any = None
    _body: Any = None

    def request(self, context: dict[str, Any]) -> HttpRequest:
        """Render the request over what expressions see; HttpStepError if a text fails."""
        url = self._render("url", self._url, context) if self._url is not None else ""
        if url and not _same_origin(url, self.url):
            raise HttpStepError(f"the URL rendered as {url!r}: placeholders may not change its scheme or host")
        path = self._render("path", self._path, context) if self._path is not None else ""
        if self.endpoint and not path.startswith("/"):
            path = "/" + path
        headers = tuple((name, self._render(f"headers.{name}", text, context)) for name, text in self.headers)
        for name, value in headers:
            if "\r" in value or "\n" in value:
                raise HttpStepError(f"header {name!r} rendered with a line break")
            if not value.isascii():
                raise HttpStepError(f"header {name!r} rendered letters HTTP headers cannot carry; use | urlencode")
        body = self._render("body", self._body, context) if self._body is not None else None
        if body is not None and not any(name.lower() == "content-type" for name, _ in headers):
            headers += (("Content-Type", _content_type(body)),)
        return HttpRequest(self.method, url, self.endpoint, path, headers, self.secrets, body)

    @staticmethod
    def _render(what: str, compiled: Any, context: dict[str, Any]) -> str:
        try:
            return render_text(what, compiled, context)
        except Exception as exc:  # a sandbox stop, or a value the text cannot use (TypeError, ZeroDivisionError ...)
            raise HttpStepError(f"{what} could not be rendered: {exc}") from None

    def saved(self, response: HttpResponse) -> tuple[dict[str, Any], list[str]]:
        """The ``save`` values over the answer, and why any could not be read (its value is then null)."""
        scope = {"status": response.status, "body": response.body, "headers": dict(response.headers)}
        values: dict[str, Any] = {}
        problems: list[str] = []
        for key, expression in self.save:
            try:
                values[key] = expression.evaluate(scope)
            except ExpressionError as exc:
                values[key] = None
                problems.append(f"save {key}: {exc}")
        return values, problems


def outcome_of(failure_type: str) -> str | None:
    """The on_error outcome a typed failure of the http_request activity stands for, or None."""
    if not failure_type.startswith(FAILURE_PREFIX):
        return None
    outcome = failure_type[len(FAILURE_PREFIX) :]
    return outcome if outcome.isdigit() or outcome in NO_ANSWER else None


def error_key(on_error: Mapping[str, str], outcome: str) -> str | None:
    """The on_error key that takes ``outcome``: the status itself, then its class (``4xx``), or None."""
    if outcome in on_error:
        return outcome
    if outcome.isdigit() and f"{outcome[0]}xx" in on_error:
        return f"{outcome[0]}xx"
    return None


def scripted_answer(scripted: Mapping[str, Any]) -> HttpResponse | str:
    """A test case's (or a recorded) answer: the response, or the outcome it stands for when it is not 2xx."""
    if "error" in scripted:
        return str(scripted["error"])
    status = int(scripted.get("status", 200))
    if not 200 <= status < 300:
        return str(status)
    return HttpResponse(status, scripted.get("body"), dict(scripted.get("headers") or {}))


def recorded_body(body: Any, limit: int = 16 * 1024) -> dict[str, Any]:
    """The answer's body for its timeline line (what-if replays it), unless it is larger than ``limit``."""
    text = json.dumps(body, ensure_ascii=False, default=str)
    return {"body": body} if len(text) <= limit else {"body_omitted": len(text)}


def describe_saved(values: Mapping[str, Any], limit: int = 60) -> str:
    """``score=12, risky=false``: the saved values as a timeline line says them, each shortened."""
    parts = []
    for key, value in values.items():
        text = to_text(value)
        parts.append(f"{key}={text if len(text) <= limit else text[: limit - 1] + '…'}")
    return ", ".join(parts)


def _content_type(body: str) -> str:
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


_PLACEHOLDER = re.compile(r"\{[{%#]")


def _same_origin(rendered: str, written: str) -> bool:
    """Whether the rendered URL has the scheme and host:port written before the first placeholder."""
    try:
        mine, theirs = urlsplit(rendered), urlsplit(_PLACEHOLDER.split(written, 1)[0])
    except ValueError:
        return False
    return (mine.scheme.lower(), mine.netloc.lower()) == (theirs.scheme.lower(), theirs.netloc.lower())


def parse_http_call(raw: dict) -> HttpCallSpec:
    """The compiled call of an http step that passed validation."""
    retry = {**DEFAULT_RETRY, **(raw.get("retry") or {})}
    headers: list[tuple[str, Any]] = []
    secrets: list[SecretHeader] = []
    for name, value in (raw.get("headers") or {}).items():
        if isinstance(value, dict):
            secrets.append(secret_header(str(name), value))
        else:
            headers.append((str(name), compile_text(str(value))))
    url, path = raw.get("url", ""), raw.get("path", "")
    return HttpCallSpec(
        method=raw["method"],
        url=url,
        endpoint=raw.get("endpoint", ""),
        path=path,
        timeout_seconds=parse_duration(raw.get("timeout", DEFAULT_TIMEOUT)),
        max_attempts=int(retry["max_attempts"]),
        backoff_seconds=parse_duration(retry["backoff"]),
        max_backoff_seconds=parse_duration(retry["max_backoff"]),
        example=dict(raw.get("example_response") or DEFAULT_EXAMPLE),
        headers=tuple(headers),
        secrets=tuple(secrets),
        save=tuple((key, compile_expression(text)) for key, text in (raw.get("save") or {}).items()),
        _url=compile_text(url) if url else None,
        _path=compile_text(path) if path else None,
        _body=compile_text(raw["body"]) if "body" in raw else None,
    )


# ---- validation ---------------------------------------------------------------------------------------


def check_http(step: dict, path: str, serves: str) -> Iterator[DefinitionError]:
    """Semantic checks of an http step the schema cannot express, each at its path."""
    names = (*CONTEXT_NAMES, "return") if serves == "return" else CONTEXT_NAMES
    has_url, has_endpoint = "url" in step, "endpoint" in step
    if has_url == has_endpoint:
        yield DefinitionError(path, "say where the request goes: `url` or `endpoint`, one of them")
    if has_url:
        problem = url_problem(str(step["url"]))
        if problem:
            yield DefinitionError(join_path(path, "url"), problem)
    if "path" in step and not has_endpoint:
        yield DefinitionError(join_path(path, "path"), "`path` follows an `endpoint`; with `url` write the whole URL")
    if "body" in step and step["method"] in ("GET", "DELETE"):
        yield DefinitionError(join_path(path, "body"), f"a {step['method']} request has no body")
    texts: list[tuple[tuple[str, ...], Any]] = [(("url",), step.get("url")), (("path",), step.get("path"))]
    texts.append((("body",), step.get("body")))
    texts += [(("headers", name), value) for name, value in (step.get("headers") or {}).items()]
    for rel, text in texts:
        if isinstance(text, str):
            for problem in template_problems(text, names, html=False):
                yield DefinitionError(join_path(path, *rel), problem)
    yield from _check_headers(step.get("headers") or {}, join_path(path, "headers"))
    for key, text in (step.get("save") or {}).items():
        if key == "status":
            yield DefinitionError(join_path(path, "save", key), "'status' is always saved (the answer's status)")
        problem = compile_error(text)
        if problem:
            yield DefinitionError(join_path(path, "save", key), f"expression does not compile: {problem}")
    yield from _check_times(step, path)
    for key in step.get("on_error") or {}:
        if not ON_ERROR_KEY.match(str(key)):
            yield DefinitionError(
                join_path(path, "on_error", str(key)),
                f"{str(key)!r} is not an outcome of an http step: a status (404), a class (4xx, 5xx), "
                "timeout or unreachable",
            )


def url_problem(url: str) -> str | None:
    """Why an http step's ``url`` cannot be used, or None.

    Plain http is accepted only to this machine (localhost, 127.0.0.0/8, ::1): nothing then crosses a
    network. Validation is the same in every process and on every installation, so it does not depend
    on dev mode; a plain-http service inside a network is named as an endpoint in OMS_HTTP_ENDPOINTS.
    """
    literal = _PLACEHOLDER.split(url, 1)[0]
    try:
        parts = urlsplit(literal)
        host = (parts.hostname or "").lower()
    except ValueError as exc:
        return f"is not a URL: {exc}"
    if not host or (literal != url and "/" not in literal[len(parts.scheme) + 3 :]):
        return "placeholders may come only after the host, e.g. https://api.example.com/orders/{{ order.id }}"
    if parts.username is not None or parts.password is not None:
        return "a URL must not hold a user or password: send the credential in a header with secret_env"
    if parts.fragment:
        return "a URL sent to a server has no #fragment"
    if parts.scheme == "http" and not _loopback(host):
        return (
            "must be https: plain http is accepted only to this machine (localhost, 127.0.0.1); "
            "for a plain-http service in your network, name it as an endpoint in OMS_HTTP_ENDPOINTS"
        )
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_headers(headers: dict, path: str) -> Iterator[DefinitionError]:
    seen: set[str] = set()
    for name, value in headers.items():
        lower = str(name).lower()
        where = join_path(path, str(name))
        if lower in seen:
            yield DefinitionError(where, f"header {name!r} is given twice (names are not case-sensitive)")
        seen.add(lower)
        if lower in RESERVED_HEADERS:
            yield DefinitionError(where, f"header {name!r} is set by the client itself")
        elif isinstance(value, str) and _SECRET_HEADER.search(lower):
            yield DefinitionError(
                where,
                f"header {name!r} carries a credential: never write it here (definitions are readable by every "
                "user); name the variable that holds it: {secret_env: OMS_HTTP_SECRET_..., prefix: 'Bearer '}",
            )


def _check_times(step: dict, path: str) -> Iterator[DefinitionError]:
    yield from check_duration(
        step,
        "timeout",
        path,
        lambda seconds: 0 < seconds <= MAX_TIMEOUT_SECONDS,
        f"at most {MAX_TIMEOUT_SECONDS:g}s per attempt; for longer work let the other system "
        "call back and wait for its event with a wait step",
        unparsable=False,  # the flow's duration check says so
    )
    retry = {**DEFAULT_RETRY, **(step.get("retry") or {})}
    seconds: dict[str, float] = {}
    for key in ("backoff", "max_backoff"):
        try:
            seconds[key] = parse_duration(retry[key])
        except ValueError as exc:
            yield DefinitionError(join_path(path, "retry", key), str(exc))
    if len(seconds) == 2 and seconds["max_backoff"] < seconds["backoff"]:
        yield DefinitionError(join_path(path, "retry", "max_backoff"), "must not be shorter than `backoff`")
