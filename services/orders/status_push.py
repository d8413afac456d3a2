"""Signed status webhooks to the channel an order came from."""

from __future__ import annotations

import json

import httpx
from sqlmodel import Session

from oms.db import get_read_engine
from oms.models import Order, utcnow
from services.errors import StepFailed
from services.orders.channels import (
    SIGNATURE_HEADER,
    channel_secret,
    live_channel,
    sign,
)
from workflows.contracts import StatusPush


def push_status(push: StatusPush) -> None:
    """POST the new status; any failure raises, and Temporal retries with backoff."""
    with Session(get_read_engine()) as session:
        order = session.get(Order, push.order_id)
        channel = live_channel(session, order.channel)
    if channel is None or not channel.callback_url:
        return
    secret = channel_secret(channel)
    if secret is None:
        raise StepFailed("no_secret", f'channel {channel.name!r} has no shared secret to sign with')
    body = json.dumps({
        "order_id": order.id, "channel": order.channel, "external_id": order.external_id,
        "status": push.status, "seq": push.seq, "sent_at": utcnow().isoformat(),
    }).encode()
    headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body),
               "Idempotency-Key": f"{order.id}-{push.seq}"}
    response = httpx.post(channel.callback_url, content=body, headers=headers, timeout=10)
    if response.status_code >= 300:
        raise RuntimeError(f"{channel.callback_url} answered {response.status_code}")
