"""Channel webhooks: the shared secret, the signature, the native payload."""

from __future__ import annotations

import hashlib
import hmac
import json
import os

from sqlmodel import Session

from engine.channels import Channel, MappingError
from engine.definitions import compile_text
from engine.forms import FieldError
from oms.settings import get_settings
from services.definitions.live import live_definitions
from services.orders.intake import IntakeRejected

SIGNATURE_HEADER = "X-OMS-Signature"


class SignatureRefused(Exception):
    """Missing or wrong signature: 401, nothing stored."""


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


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(channel: Channel, body: bytes, signature: str | None) -> None:
    secret = channel_secret(channel)
    if secret is None:
        raise SignatureRefused(f"channel {channel.name!r} takes no webhooks: no shared secret is configured")
    if not signature:
        raise SignatureRefused(f"missing {SIGNATURE_HEADER} header (sha256=<HMAC-SHA256 of the body>)")
    if not hmac.compare_digest(signature.strip(), sign(secret, body)):
        raise SignatureRefused(f"{SIGNATURE_HEADER} does not match the body")


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
