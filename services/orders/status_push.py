"""Signed status webhooks to the channel an order came from."""

from __future__ import annotations

import json

from sqlmodel import Session

from oms.db import get_read_engine
from oms.models import Order, utcnow
from services import outbound
from services.definitions.pinned import pinned_model
from services.errors import StepFailed
from services.orders.channels import channel_secret, signed_headers
from services.rows import required
from workflows.contracts import StatusPush


def push_status(push: StatusPush) -> None:
    """POST the new status to the channel the order pinned (live for an order taken before pinning);
    any failure raises, and Temporal retries with backoff."""
    with Session(get_read_engine()) as session:
        order = required(session, Order, push.order_id)
        channel, _ = pinned_model(session, order.pins, "channel", order.channel)
    if channel is None or not channel.callback_url:
        return
    secret = channel_secret(channel)
    if secret is None:
        raise StepFailed("no_secret", f"channel {channel.name!r} has no shared secret to sign with")
    body = json.dumps(
        {
            "order_id": order.id,
            "channel": order.channel,
            "external_id": order.external_id,
            "status": push.status,
            "seq": push.seq,
            "sent_at": utcnow().isoformat(),
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        **signed_headers(secret, body),
        "Idempotency-Key": f"{order.id}-{push.seq}",
    }
    # A public address or one OMS_OUTBOUND_ALLOWLIST names; failures say what kind, not the raw error.
    outbound.post(channel.callback_url, body, headers)
