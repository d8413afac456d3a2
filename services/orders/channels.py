"""Channel webhooks: the shared secret, the signature, the native payload.

Every signed webhook, in and out, carries two headers:

- ``X-OMS-Timestamp``: the Unix time (seconds) the sender signed at, and
- ``X-OMS-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + the raw body>``.

A receiver refuses a timestamp further than ``OMS_WEBHOOK_TOLERANCE_SECONDS``
(300) from its clock, so a captured request cannot be replayed later. The
signature of the body alone (before this release) is no longer accepted: it
would make the timestamp meaningless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

from sqlmodel import Session

from engine.channels import Channel, MappingError
from engine.forms import FieldError
from oms.settings import get_settings
from services.definitions.live import live_definitions
from services.errors import Unauthenticated
from services.orders.intake import IntakeRejected

SIGNATURE_HEADER = "X-OMS-Signature"
TIMESTAMP_HEADER = "X-OMS-Timestamp"
SIGNATURE_FORMAT = f'sha256=<HMAC-SHA256 of "<{TIMESTAMP_HEADER}>." + the body>'


class SignatureRefused(Unauthenticated):
    """Missing or wrong signature (or no secret to check it with): nothing stored."""


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
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers that sign ``body`` now (or at ``timestamp``)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, body, stamp)}


def check_signature(secret: str, body: bytes, signature: str | None, timestamp: str | None) -> None:
    """Raise SignatureRefused unless ``signature`` signs ``body`` at a ``timestamp`` within the tolerance."""
    if not signature:
        raise SignatureRefused(
            "signature_missing", f"missing {SIGNATURE_HEADER} header ({SIGNATURE_FORMAT})", field=SIGNATURE_HEADER
        )
    if not timestamp or not timestamp.strip().isdigit() or len(timestamp.strip()) > 12:
        raise SignatureRefused(
            "timestamp_missing",
            f"missing or malformed {TIMESTAMP_HEADER} header (Unix seconds, signed with the body)",
            field=TIMESTAMP_HEADER,
        )
    stamp = int(timestamp)
    if not hmac.compare_digest(signature.strip(), sign(secret, body, stamp)):
        raise SignatureRefused(
            "signature_mismatch", f"{SIGNATURE_HEADER} does not match the body", field=SIGNATURE_HEADER
        )
    tolerance = get_settings().webhook_tolerance_seconds
    if abs(time.time() - stamp) > tolerance:
        raise SignatureRefused(
            "timestamp_stale",
            f"{TIMESTAMP_HEADER} is more than {tolerance} seconds away from now: sign each request when sending it",
            field=TIMESTAMP_HEADER,
        )


def verify(channel: Channel, body: bytes, signature: str | None, timestamp: str | None) -> None:
    secret = channel_secret(channel)
    if secret is None:
        raise SignatureRefused(
            "no_webhook_secret", f"channel {channel.name!r} takes no webhooks: no shared secret is configured"
        )
    check_signature(secret, body, signature, timestamp)


def native_order(channel: Channel, body: bytes) -> dict:
    """The canonical order from a native payload; raises IntakeRejected naming the field."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise IntakeRejected([FieldError("", f"malformed JSON: {exc}")]) from exc
    try:
        return channel.to_order(payload)
    except MappingError as exc:
        raise IntakeRejected([FieldError(exc.field, exc.message)]) from exc
