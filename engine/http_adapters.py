"""HTTP adapters configured as data: how a carrier's or payment provider's API is called and read.

A carrier (``carriers`` definition) or a payment provider (``payments``
definition) with ``adapter: {type: http, ...}`` names the provider's base URL,
how requests are authorised (a header whose value is read from an
``OMS_..._SECRET...`` environment variable), how bodies are encoded (``json``,
or ``form`` as Stripe reads them: ``metadata[order_id]=...``), and one section
per operation of its contract (engine/adapters.py):

```yaml
create:
  method: POST                      # default POST
  path: /transactions/              # after base_url; {placeholders} are fields of the request
  body:                             # literal values, or {path: ...} / {expr: ...} / {const: ...} leaves
    shipment: {address_to: {zip: {path: recipient.postal_code}}}
    label_file_type: PDF
  expect: {status: SUCCESS}         # answer fields that must have these values
  tracking_number: tracking_number  # result fields: where each is in the answer (a dotted path)
  label_url: label_url
```

This module is pure: it builds the request (URL, headers but the secret,
body) from the operation's context and reads the answer into the result
fields; services/adapter_calls.py does the HTTP. A request field without a
value raises ``MappingError`` and an answer that does not fit raises
``AnswerMismatch``, each naming the definition path of the mapping field
(``$.carriers[4].adapter.create.tracking_number``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from engine.adapters import PARCEL_STATES, ParcelRef, ParcelRequest, PaymentRequest
from engine.channels import Leaf, MappingError
from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path
from engine.expressions import compile_error, compile_expression, suggest, to_text
from engine.outbound_config import SecretHeader, check_duration, parse_auth
from engine.payloads import MISSING, dig

DEFAULT_TIMEOUT_SECONDS = 10.0
# One call must leave room in the activity's 30 s for the rest of the step.
MAX_TIMEOUT_SECONDS = 20.0
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_]\w*(\.\w+)*$")
_LEAF_SOURCES = ("path", "const", "expr")
_LEAF_KEYS = frozenset({*_LEAF_SOURCES, "default", "divide", "multiply", "table"})
# What a carrier's or provider's `adapter` is when it is a section rather than a built-in adapter's name.
HTTP = "http"


class AnswerMismatch(ValueError):
    """The provider's answer does not fit the operation's mapping; ``field`` is the mapping field's path."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class OperationSpec:
    """What an operation of a contract reads from its answer, and what its request may name."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    context: tuple[str, ...]
    statuses: bool = False  # a table from the provider's status to PARCEL_STATES


_CREATE_CONTEXT = tuple(ParcelRequest("", 0, "", "", 0.0, {}, {}).context())
_PARCEL_CONTEXT = tuple(ParcelRef("", "").context())
_PAYMENT_CONTEXT = tuple(PaymentRequest("", 0.0).context())

CARRIER_SPECS: Mapping[str, OperationSpec] = {
    "create": OperationSpec(("tracking_number",), ("label_url", "reference"), _CREATE_CONTEXT),
    "cancel": OperationSpec((), ("reference", "status"), _PARCEL_CONTEXT),
    "track": OperationSpec(("status",), ("description", "at"), _PARCEL_CONTEXT, statuses=True),
}
PAYMENT_SPECS: Mapping[str, OperationSpec] = {
    name: OperationSpec(("reference",), ("status",), _PAYMENT_CONTEXT) for name in ("capture", "refund", "void")
}


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]  # without the secret's header, which the caller adds
    body: bytes | None


@dataclass(frozen=True)
class HttpOperation:
    name: str
    method: str
    path: str
    body: Any  # a tree of dicts, lists, constants and Leaf values; None: no body
    expect: Mapping[str, Any]
    results: Mapping[str, str]  # result field -> dotted path in the answer
    required: tuple[str, ...]
    statuses: Mapping[str, str] | None
    where: str  # the section's path in its definition, e.g. $.carriers[4].adapter.create


@dataclass(frozen=True)
class HttpAdapter:
    base_url: str
    auth: SecretHeader | None
    encoding: str  # json | form
    timeout_seconds: float
    headers: Mapping[str, str]
    idempotency_header: str | None
    error_message: str | None  # where an error answer says what went wrong, e.g. error.message (Stripe)
    operations: Mapping[str, HttpOperation]
    where: str

    def has(self, operation: str) -> bool:
        return operation in self.operations

    def request(self, operation: str, context: Mapping[str, Any], idempotency_key: str = "") -> HttpRequest:
        """The request of ``operation`` for ``context``; raises MappingError naming the mapping field."""
        op = self.operations[operation]
        url = self.base_url.rstrip("/") + _fill(op.path, context, join_path(op.where, "path"))
        headers = {"Accept": "application/json", "User-Agent": "oms-adapter/1", **self.headers}
        if idempotency_key and self.idempotency_header and op.method != "GET":
            headers[self.idempotency_header] = idempotency_key
        body = None
        if op.body is not None:
            value = _build(op.body, dict(context), join_path(op.where, "body"))
            value = {} if value is MISSING else value
            if self.encoding == "form":
                body = urlencode(list(_form_pairs(value, ""))).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(value).encode()
                headers["Content-Type"] = "application/json"
        return HttpRequest(op.method, url, headers, body)

    def read(self, operation: str, answer: Any) -> dict[str, str]:
        """The result fields of ``operation`` from the provider's answer; raises AnswerMismatch."""
        op = self.operations[operation]
        if not isinstance(answer, dict):
            raise AnswerMismatch(op.where, f"the answer is {type(answer).__name__}, not a JSON object")
        for path, wanted in op.expect.items():
            got = dig(answer, path)
            if got is MISSING or got != wanted:
                shown = "missing" if got is MISSING else to_text(got)
                raise AnswerMismatch(
                    join_path(op.where, "expect", path),
                    f"the answer's {path} is {shown}, not {to_text(wanted)}" + self._said(answer),
                )
        results: dict[str, str] = {}
        for name, path in op.results.items():
            value = dig(answer, path)
            if value is MISSING or value is None or value == "":
                if name in op.required:
                    raise AnswerMismatch(
                        join_path(op.where, name), f"the answer has no {path!r}; keys are {_keys(answer)}"
                    )
                continue
            if isinstance(value, (dict, list)):
                raise AnswerMismatch(
                    join_path(op.where, name), f"the answer's {path!r} is a {type(value).__name__}, not a value"
                )
            results[name] = to_text(value)
        if op.statuses is not None and "status" in results:
            status = results["status"]
            if status not in op.statuses:
                raise AnswerMismatch(
                    join_path(op.where, "statuses"),
                    f"the carrier's status {status!r} is not in the table ({', '.join(op.statuses)})",
                )
            results["state"] = op.statuses[status]
        return results

    def error_text(self, answer: Any) -> str:
        """What an error answer says, from ``error_message`` (at most 200 characters), else ''."""
        if not self.error_message or not isinstance(answer, dict):
            return ""
        value = dig(answer, self.error_message)
        return value[:200] if isinstance(value, str) else ""

    def _said(self, answer: Any) -> str:
        text = self.error_text(answer)
        return f" ({text})" if text else ""


def _keys(answer: dict) -> str:
    names = sorted(map(str, answer))
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "") if names else "none"


def _fill(path: str, context: Mapping[str, Any], where: str) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1).strip()
        found = dig(dict(context), name)
        if found is MISSING or found is None or found == "" or isinstance(found, (dict, list)):
            raise MappingError(where, f"{{{name}}} has no value for this request")
        return quote(to_text(found), safe="")

    return _PLACEHOLDER.sub(value, path)


def _build(node: Any, context: dict[str, Any], where: str) -> Any:
    if isinstance(node, Leaf):
        return node.apply(context, where)
    if isinstance(node, dict):
        out = {}
        for key, child in node.items():
            value = _build(child, context, join_path(where, key))
            if value is not MISSING:
                out[key] = value
        return out
    if isinstance(node, list):
        return [v for i, child in enumerate(node) if (v := _build(child, context, join_path(where, i))) is not MISSING]
    return node


def _form_pairs(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    """Stripe's form encoding: nested objects as ``a[b]=``, lists as ``a[0]=``, booleans as true/false."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _form_pairs(child, f"{prefix}[{key}]" if prefix else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _form_pairs(child, f"{prefix}[{index}]")
    elif value is not None:
        yield prefix, to_text(value)


# ---- parsing ----------------------------------------------------------------------------


def _is_leaf(raw: Any) -> bool:
    return isinstance(raw, dict) and any(k in raw for k in _LEAF_SOURCES) and set(raw) <= _LEAF_KEYS


def _parse_body(raw: Any) -> Any:
    if _is_leaf(raw):
        table = {str(k): v for k, v in raw["table"].items()} if "table" in raw else None
        expr = compile_expression(raw["expr"]) if "expr" in raw else None
        return Leaf(
            raw.get("path"), raw.get("const"), raw.get("divide"), raw.get("multiply"), table, raw.get("default"), expr
        )
    if isinstance(raw, dict):
        return {str(k): _parse_body(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_parse_body(v) for v in raw]
    return raw


def parse_http_adapter(raw: dict, where: str, specs: Mapping[str, OperationSpec]) -> HttpAdapter:
    """The typed adapter of a definition's ``adapter: {type: http}`` section that passed validation."""
    operations = {}
    for name, spec in specs.items():
        section = raw.get(name)
        if section is None:
            continue
        fields = (*spec.required, *spec.optional)
        operations[name] = HttpOperation(
            name=name,
            method=section.get("method", "POST"),
            path=section["path"],
            body=_parse_body(section["body"]) if "body" in section else None,
            expect=dict(section.get("expect") or {}),
            results={f: str(section[f]) for f in fields if f in section},
            required=spec.required,
            statuses={str(k): v for k, v in section["statuses"].items()} if "statuses" in section else None,
            where=join_path(where, name),
        )
    return HttpAdapter(
        base_url=raw["base_url"],
        auth=parse_auth(raw.get("auth")),
        encoding=raw.get("encoding", "json"),
        timeout_seconds=parse_duration(raw["timeout"]) if "timeout" in raw else DEFAULT_TIMEOUT_SECONDS,
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        idempotency_header=raw.get("idempotency_header"),
        error_message=raw.get("error_message"),
        operations=operations,
        where=where,
    )


def parse_adapter(raw: str | dict, where: str, specs: Mapping[str, OperationSpec]) -> tuple[str, HttpAdapter | None]:
    """A carrier's or payment provider's ``adapter``: a built-in one's name, or ``http`` and its section."""
    if isinstance(raw, dict):
        return HTTP, parse_http_adapter(raw, where, specs)
    return raw, None


# ---- checks -----------------------------------------------------------------------------


def check_adapter(
    raw: str | dict, where: str, specs: Mapping[str, OperationSpec], needed: tuple[str, ...], built_in: tuple[str, ...]
) -> Iterator[DefinitionError]:
    """A built-in adapter's name, or an http section with the ``needed`` operations."""
    if isinstance(raw, dict):
        yield from check_http_adapter(raw, where, specs, needed)
    elif raw not in built_in:
        yield DefinitionError(
            where,
            f"unknown adapter {raw!r}{suggest(raw, built_in)}; adapters are {', '.join(built_in)}, or an http section",
        )


def check_http_adapter(
    raw: dict, where: str, specs: Mapping[str, OperationSpec], needed: tuple[str, ...]
) -> Iterator[DefinitionError]:
    """Semantic checks of an http adapter section the schema cannot express, each at its path."""
    for name in needed:
        if name not in raw:
            yield DefinitionError(where, f"an http adapter needs a `{name}` section")
    yield from check_duration(
        raw,
        "timeout",
        where,
        lambda seconds: 0 < seconds <= MAX_TIMEOUT_SECONDS,
        f"wait at most {MAX_TIMEOUT_SECONDS:g}s for an answer (e.g. '10s')",
    )
    base = urlsplit(str(raw.get("base_url", "")))
    if base.query or base.fragment:
        yield DefinitionError(join_path(where, "base_url"), "give the base URL without a query or fragment")
    if not base.hostname:
        yield DefinitionError(join_path(where, "base_url"), "the base URL names no host")
    for name, spec in specs.items():
        if name in raw:
            yield from _check_operation(raw[name], join_path(where, name), spec)


def _check_operation(raw: dict, where: str, spec: OperationSpec) -> Iterator[DefinitionError]:
    for name in _PLACEHOLDER.findall(raw["path"]):
        name = name.strip()
        if not _NAME.match(name):
            yield DefinitionError(join_path(where, "path"), f"{{{name}}} is not a field name")
        elif name.split(".")[0] not in spec.context:
            head = name.split(".")[0]
            yield DefinitionError(
                join_path(where, "path"),
                f"{{{name}}}: this request has no field {head!r}{suggest(head, spec.context)}; "
                f"fields are {', '.join(spec.context)}",
            )
    if raw.get("method", "POST") == "GET" and "body" in raw:
        yield DefinitionError(join_path(where, "body"), "a GET request sends no body")
    if "body" in raw:
        yield from _check_body(raw["body"], join_path(where, "body"), spec.context)
    if spec.statuses and "statuses" not in raw:
        yield DefinitionError(where, "say what the carrier's statuses mean: `statuses` (e.g. {TRANSIT: in_transit})")
    for status, state in (raw.get("statuses") or {}).items():
        if state not in PARCEL_STATES:
            yield DefinitionError(
                join_path(where, "statuses", str(status)),
                f"{state!r} is not one of {', '.join(PARCEL_STATES)}{suggest(str(state), PARCEL_STATES)}",
            )


def _check_body(raw: Any, where: str, context: tuple[str, ...]) -> Iterator[DefinitionError]:
    if isinstance(raw, list):
        for index, child in enumerate(raw):
            yield from _check_body(child, join_path(where, index), context)
        return
    if not isinstance(raw, dict):
        return
    if not _is_leaf(raw):
        for key, child in raw.items():
            yield from _check_body(child, join_path(where, str(key)), context)
        return
    given = [key for key in _LEAF_SOURCES if key in raw]
    if len(given) > 1:
        yield DefinitionError(where, "give one of `path`, `const` or `expr`, not " + " and ".join(given))
    if "path" in raw:
        head = str(raw["path"]).split(".")[0]
        if head not in context:
            yield DefinitionError(
                join_path(where, "path"),
                f"this request has no field {head!r}{suggest(head, context)}; fields are {', '.join(context)}",
            )
    for key in ("divide", "multiply"):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], (int, float)) or raw[key] == 0):
            yield DefinitionError(join_path(where, key), "must be a number other than zero")
    if "table" in raw and not isinstance(raw["table"], dict):
        yield DefinitionError(join_path(where, "table"), "must map values to values")
    if "expr" in raw and (problem := compile_error(str(raw["expr"]))):
        yield DefinitionError(join_path(where, "expr"), f"expression does not compile: {problem}")


__all__ = [
    "CARRIER_SPECS",
    "HTTP",
    "PAYMENT_SPECS",
    "AnswerMismatch",
    "HttpAdapter",
    "HttpRequest",
    "MappingError",
    "check_adapter",
    "check_http_adapter",
    "parse_adapter",
    "parse_http_adapter",
]
