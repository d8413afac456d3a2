from typing import Annotated

import anyio
from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from sqlmodel import Session

from oms.db import get_read_engine
from services.orders import channels
from services.orders.intake import submit_order
from web.api.schemas.orders import OrderAccepted
from web.deps import StarterDep, TemporalDep
from web.limits import limited_body

router = APIRouter(prefix="/api/channels", tags=["channels"])


def _channel(name: str):
    with Session(get_read_engine()) as session:
        return channels.live_channel(session, name)


@router.post(
    "/{name}/orders",
    status_code=201,
    response_model=OrderAccepted,
    responses={
        200: {"description": "the order existed already", "model": OrderAccepted},
        401: {"description": "missing or wrong signature, or a timestamp outside the tolerance"},
        413: {"description": "the body is larger than OMS_WEBHOOK_MAX_BYTES"},
    },
)
async def channel_order(
    name: str,
    request: Request,
    response: Response,
    client: TemporalDep,
    starter: StarterDep,
    signature: Annotated[str | None, Header(alias=channels.SIGNATURE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=channels.TIMESTAMP_HEADER)] = None,
) -> dict:
    """A channel's native payload, signed with HMAC-SHA256 of the timestamp and the raw body."""
    # The size is checked before anything else: an unsigned caller can make us read only so much.
    body = await limited_body(request)
    channel = await anyio.to_thread.run_sync(_channel, name)
    if channel is None:
        raise HTTPException(404, f"unknown channel {name!r}")
    channels.verify(channel, body, signature, timestamp)
    order = channels.native_order(channel, body)
    accepted = await submit_order(client, order, channel.flow, starter)
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    return {"id": accepted.order_id, "status": accepted.status}
