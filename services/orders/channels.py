"""Channel webhooks: the shared secret, the signature, the native payload.

By default every signed webhook, in and out, carries two headers:

- ``X-OMS-Timestamp``: the Unix time (seconds) the sender signed at, and
- ``X-OMS-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + the raw body>``.

A channel whose platform signs its own way says how in its definition
(``webhook.signature``: header, algorithm, encoding, prefix, and whether a
timestamp is signed with the body; engine/channel_webhooks.py), and where a
delivery's event type is (``webhook.event_type``): a delivery whose type
carries no new order is acknowledged and nothing is stored.

A receiver refuses a signed timestamp further than the tolerance (the
definition's, else ``OMS_WEBHOOK_TOLERANCE_SECONDS``, 300) from its clock, so a
captured request cannot be replayed later; a replay within it finds the order
it made (intake is idempotent per channel and external id). The signature of
the body alone is not accepted where the scheme signs a timestamp: it would
make the timestamp meaningless.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session

from engine.channel_webhooks import MAX_TIMESTAMP_DIGITS, OMS_SIGNATURE, Signature
from engine.channels import Channel, MappingError
from engine.forms import FieldError
from oms.settings import get_settings
from services.definitions.live import live_definitions
from services.errors import Unauthenticated
from services.orders.intake import IntakeRejected

SIGNATURE_HEADER = OMS_SIGNATURE.header
TIMESTAMP_HEADER = "X-OMS-Timestamp"
SIGNATURE_FORMAT = OMS_SIGNATURE.describe()


class SignatureRefused(Unauthenticated):
    """Missing or wrong signature (or no secret to check it with): nothing stored."""


@dataclass(frozen=True)
class Delivery:
    """A verified webhook: the canonical order it carries, or why it carries none."""

    event_type: str | None
    order: dict | None

    @property
    def ignored(self) -> bool:
        return self.order is None


def live_channel(session: Session, name: str) -> Channel | None:
    row = live_definitions(session).get("channel", name)
    return row.model if row else None


def channel_secret(channel: Channel) -> str | None:
    """The shared secret from the environment; dev mode has a predictable one per channel."""
    if channel.secret_env and os.environ.get(channel.secret_env):
        return os.environ[channel.secret_env]
    if channel.secret_env and get_settings().dev_mode:
        return f"dev-secret-{channel.name}"
    return None


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>." + body>``."""
    return OMS_SIGNATURE.sign(secret, body, str(timestamp))


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign ``body`` now (or at ``timestamp``)."""
    return webhook_headers(OMS_SIGNATURE, secret, body, timestamp)


def webhook_headers(signature: Signature, secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers a sender following ``signature`` adds to ``body`` now (or at ``timestamp``)."""
    return signature.headers(secret, body, int(time.time()) if timestamp is None else timestamp)


def check_signature(secret: str, body: bytes, signature: str | None, timestamp: str | None) -> None:
    """Raise SignatureRefused unless ``signature`` signs ``body`` at a ``timestamp`` within the tolerance."""
    check_signed(OMS_SIGNATURE, secret, body, {SIGNATURE_HEADER: signature or "", TIMESTAMP_HEADER: timestamp or ""})


def check_signed(scheme: Signature, secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureRefused unless the headers sign ``body`` as ``scheme`` says (and recently, if it is timed).

    ``headers`` must look names up regardless of case, as a request's headers do.
    """
    signature = headers.get(scheme.header)
    if not signature:
        raise SignatureRefused(
            "signature_missing", f"missing {scheme.header} header ({scheme.describe()})", field=scheme.header
        )
    stamp: str | None = None
    if scheme.timestamp_header is not None:
        stamp = (headers.get(scheme.timestamp_header) or "").strip()
        if not stamp.isdigit() or len(stamp) > MAX_TIMESTAMP_DIGITS:
            raise SignatureRefused(
                "timestamp_missing",
                f"missing or malformed {scheme.timestamp_header} header (Unix seconds, signed with the body)",
                field=scheme.timestamp_header,
            )
    if not scheme.matches(secret, body, signature, stamp):
        raise SignatureRefused("signature_mismatch", f"{scheme.header} does not match the body", field=scheme.header)
    if stamp is not None:
        tolerance = scheme.tolerance_seconds or get_settings().webhook_tolerance_seconds
        if abs(time.time() - int(stamp)) > tolerance:
            raise SignatureRefused(
                "timestamp_stale",
                f"{scheme.timestamp_header} is more than {tolerance} seconds away from now: "
                "sign each request when sending it",
                field=scheme.timestamp_header,
            )


def verify(channel: Channel, body: bytes, headers: Mapping[str, str]) -> None:
    """Raise SignatureRefused unless the request is signed as the channel's webhooks are."""
    secret = channel_secret(channel)
    if secret is None:
        raise SignatureRefused(
            "no_webhook_secret", f"channel {channel.name!r} takes no webhooks: no shared secret is configured"
        )
    check_signed(channel.webhook.signature, secret, body, headers)


def native_order(channel: Channel, body: bytes) -> dict:
    """The canonical order from a native payload; raises IntakeRejected naming the field."""
    return _mapped(channel, _payload(body))


def native_delivery(channel: Channel, body: bytes, headers: Mapping[str, str]) -> Delivery:
    """What a verified webhook carries: an order, or nothing when its event type brings no new order.

    Raises IntakeRejected naming the field (the event type's header or field, or the order's).
    """
    payload = _payload(body)
    events = channel.webhook.event_type
    if events is None:
        return Delivery(None, _mapped(channel, payload))
    event_type = events.of(headers, payload)
    if event_type is None:
        where = events.header or events.field or ""
        raise IntakeRejected([FieldError(where, f"missing: the {events.where()} says what the delivery is")])
    if not channel.webhook.takes(event_type):
        return Delivery(event_type, None)
    return Delivery(event_type, _mapped(channel, payload))


def _payload(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise IntakeRejected([FieldError("", f"malformed JSON: {exc}")]) from exc


def _mapped(channel: Channel, payload: object) -> dict:
    try:
        return channel.to_order(payload)
    except MappingError as exc:
        raise IntakeRejected([FieldError(exc.field, exc.message)]) from exc
