"""Which events a channel's API key may send to its orders."""

from __future__ import annotations

from sqlmodel import Session

from services.errors import Forbidden
from services.orders.channels import live_channel

# Money comes from the payment side or an operator, never from a channel's integration.
NEVER_FROM_CHANNELS = frozenset({"payment_received"})


class EventForbidden(Forbidden):
    """A channel key sent an event type its channel definition does not allow."""


def check_key_event(session: Session, channel_name: str, event_type: str) -> None:
    """Refuse ``event_type`` from a key of ``channel_name`` unless the channel's ``events`` list it."""
    if event_type in NEVER_FROM_CHANNELS:
        raise EventForbidden(
            "event_not_from_channel",
            f"a channel key may not send {event_type}: it comes from the payment side or an operator",
            field="type",
        )
    channel = live_channel(session, channel_name)
    allowed = channel.events if channel is not None else ()
    if event_type not in allowed:
        raise EventForbidden(
            "event_not_allowed",
            f"channel {channel_name!r} may send {', '.join(allowed) or 'no events'}, not {event_type}"
            f" (the channel definition's `events` list them)",
            field="type",
        )
