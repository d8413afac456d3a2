"""How a channel's webhooks are signed, and which of them carry a new order.

A platform signs its webhooks its own way; the channel definition says how
(``webhook:``), so connecting a shop is a definition, not code:

```yaml
webhook:
  signature:
    header: X-Shopify-Hmac-Sha256   # where the signature is
    algorithm: sha256               # HMAC-SHA256 (or sha1)
    encoding: base64                # of the digest (or hex)
    prefix: ""                      # before the digest, e.g. "sha256="
    signed: body                    # or timestamp_and_body, with `timestamp:` below
    # timestamp: {header: X-Shop-Timestamp, template: "{timestamp}.{body}", tolerance_seconds: 300}
  event_type: {header: X-Shopify-Topic, orders: [orders/create]}   # or {field: topic, ...}
  ping: {body_prefix: "webhook_id="}   # an unsigned "is this URL alive?" request to answer 200
```

Without ``webhook`` a channel signs as the product's own webhooks do
(``OMS_SIGNATURE``): ``X-OMS-Signature: sha256=<hex HMAC-SHA256 of
"<X-OMS-Timestamp>." + the body>``. Everything here is pure: the secret and
the clock come from the caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import DefinitionError, join_path

ALGORITHMS: dict[str, Callable[..., Any]] = {"sha256": hashlib.sha256, "sha1": hashlib.sha1}
ENCODINGS = ("hex", "base64")
BODY_PLACEHOLDER = "{body}"
TIMESTAMP_PLACEHOLDER = "{timestamp}"
DEFAULT_TEMPLATE = "{timestamp}.{body}"
# A timestamp is Unix seconds; more digits than this is no time we would accept.
MAX_TIMESTAMP_DIGITS = 12
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class Signature:
    """Where a webhook's HMAC is, how it is written, and what it signs."""

    header: str
    algorithm: str = "sha256"
    encoding: str = "hex"
    prefix: str = ""
    # Set: the timestamp in this header is signed with the body, as ``template`` says, and must be recent.
    timestamp_header: str | None = None
    template: str = DEFAULT_TEMPLATE
    # None: the product's setting (OMS_WEBHOOK_TOLERANCE_SECONDS) decides.
    tolerance_seconds: int | None = None

    @property
    def timestamped(self) -> bool:
        return self.timestamp_header is not None

    def signed_bytes(self, body: bytes, timestamp: str | None) -> bytes:
        """What the HMAC is computed over: the raw body, or the template with the timestamp and the body."""
        if not self.timestamped:
            return body
        before, _, after = self.template.partition(BODY_PLACEHOLDER)
        stamp = timestamp or ""
        return (
            before.replace(TIMESTAMP_PLACEHOLDER, stamp).encode()
            + body
            + after.replace(TIMESTAMP_PLACEHOLDER, stamp).encode()
        )

    def sign(self, secret: str, body: bytes, timestamp: str | None = None) -> str:
        """The header value a sender writes for ``body`` (at ``timestamp`` when the scheme has one)."""
        digest = hmac.new(secret.encode(), self.signed_bytes(body, timestamp), ALGORITHMS[self.algorithm]).digest()
        encoded = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return self.prefix + encoded

    def matches(self, secret: str, body: bytes, given: str, timestamp: str | None = None) -> bool:
        """Whether ``given`` is the signature of ``body``; compared in constant time (hex in either case)."""
        expected, given = self.sign(secret, body, timestamp), given.strip()
        if self.encoding == "hex":
            expected, given = expected.lower(), given.lower()
        return hmac.compare_digest(expected.encode(), given.encode())

    def headers(self, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        """The headers a sender adds to ``body``: the signature, and the timestamp when it is signed too."""
        if not self.timestamped:
            return {self.header: self.sign(secret, body)}
        stamp = str(timestamp)
        assert self.timestamp_header is not None
        return {self.timestamp_header: stamp, self.header: self.sign(secret, body, stamp)}

    def describe(self) -> str:
        """The scheme in words, for the message of a refused webhook."""
        encoding = "" if self.encoding == "hex" else f"{self.encoding} "
        return f"{self.prefix}<{encoding}HMAC-{self.algorithm.upper()} of {self._what()}>"

    def _what(self) -> str:
        if not self.timestamped:
            return "the body"
        stamp = f"<{self.timestamp_header}>"
        before, _, after = self.template.partition(BODY_PLACEHOLDER)
        parts = [f'"{before.replace(TIMESTAMP_PLACEHOLDER, stamp)}"'] if before else []
        parts.append("the body")
        parts += [f'"{after.replace(TIMESTAMP_PLACEHOLDER, stamp)}"'] if after else []
        return " + ".join(parts)


# The product's own scheme: every channel without `webhook.signature`, carriers, status pushes and notifications.
OMS_SIGNATURE = Signature("X-OMS-Signature", prefix="sha256=", timestamp_header="X-OMS-Timestamp")


@dataclass(frozen=True)
class EventTypes:
    """Where a delivery says what happened, and which of those events carry a new order."""

    header: str | None
    field: str | None
    orders: tuple[str, ...]

    def where(self) -> str:
        return f"header {self.header}" if self.header else f"payload field {self.field}"

    def of(self, headers: Mapping[str, str], payload: Any) -> str | None:
        """The delivery's event type; ``headers`` must look names up regardless of case (as HTTP does)."""
        if self.header:
            value = headers.get(self.header)
        else:
            value = payload
            for part in (self.field or "").split("."):
                value = value.get(part) if isinstance(value, dict) else None
        return None if value is None or isinstance(value, (dict, list)) else str(value).strip() or None


@dataclass(frozen=True)
class Webhook:
    """A channel's webhooks: their signature, their event types, and the unsigned ping to acknowledge."""

    signature: Signature = OMS_SIGNATURE
    event_type: EventTypes | None = None
    ping_body_prefix: str | None = None

    def takes(self, event_type: str | None) -> bool:
        """Whether a delivery of ``event_type`` carries a new order (every delivery, without event types)."""
        return self.event_type is None or event_type in self.event_type.orders

    def is_ping(self, body: bytes, headers: Mapping[str, str]) -> bool:
        """An unsigned request whose whole body is the ping prefix and a number (WooCommerce's ``webhook_id=7``)."""
        if self.ping_body_prefix is None or headers.get(self.signature.header):
            return False
        prefix = self.ping_body_prefix.encode()
        rest = body.strip()[len(prefix) :]
        return body.strip().startswith(prefix) and rest.isdigit() and len(rest) <= 20


DEFAULT_WEBHOOK = Webhook()


def parse_webhook(raw: Mapping[str, Any] | None) -> Webhook:
    if not raw:
        return DEFAULT_WEBHOOK
    signature = OMS_SIGNATURE
    if "signature" in raw:
        sig = raw["signature"]
        stamp = sig.get("timestamp") or {}
        timestamped = sig.get("signed", "body") == "timestamp_and_body"
        signature = Signature(
            header=sig["header"],
            algorithm=sig.get("algorithm", "sha256"),
            encoding=sig.get("encoding", "hex"),
            prefix=sig.get("prefix", ""),
            timestamp_header=stamp.get("header") if timestamped else None,
            template=stamp.get("template", DEFAULT_TEMPLATE),
            tolerance_seconds=stamp.get("tolerance_seconds"),
        )
    event_type = None
    if "event_type" in raw:
        events = raw["event_type"]
        event_type = EventTypes(events.get("header"), events.get("field"), tuple(map(str, events["orders"])))
    ping = (raw.get("ping") or {}).get("body_prefix")
    return Webhook(signature, event_type, ping)


def check_webhook(raw: Mapping[str, Any], path: str = "$.webhook") -> Iterator[DefinitionError]:
    """What the schema cannot say: a template with its placeholders, a timestamp that goes with `signed`."""
    events = raw.get("event_type")
    if events and ("header" in events) == ("field" in events):
        yield DefinitionError(
            join_path(path, "event_type"), "give `header` or `field` (where the event type is), one of them"
        )
    sig = raw.get("signature")
    if not sig:
        return
    at = join_path(path, "signature")
    timestamped = sig.get("signed", "body") == "timestamp_and_body"
    stamp = sig.get("timestamp")
    if timestamped and not stamp:
        yield DefinitionError(at, "signed: timestamp_and_body needs `timestamp` (its header, template and tolerance)")
    if stamp and not timestamped:
        yield DefinitionError(join_path(at, "timestamp"), "only with signed: timestamp_and_body")
    if not stamp:
        return
    if str(stamp.get("header", "")).lower() == str(sig["header"]).lower():
        yield DefinitionError(join_path(at, "timestamp", "header"), "must differ from the signature's header")
    template = stamp.get("template", DEFAULT_TEMPLATE)
    unknown = [p for p in _PLACEHOLDER.findall(template) if p not in (BODY_PLACEHOLDER, TIMESTAMP_PLACEHOLDER)]
    problem = None
    if template.count(BODY_PLACEHOLDER) != 1 or template.count(TIMESTAMP_PLACEHOLDER) != 1:
        problem = f"must hold {TIMESTAMP_PLACEHOLDER} and {BODY_PLACEHOLDER} once each, e.g. '{DEFAULT_TEMPLATE}'"
    elif unknown:
        problem = f"unknown placeholder {unknown[0]}; only {TIMESTAMP_PLACEHOLDER} and {BODY_PLACEHOLDER}"
    if problem:
        yield DefinitionError(join_path(at, "timestamp", "template"), problem)
