from typing import Annotated

import anyio
from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from sqlmodel import Session

from oms.db import get_read_engine
from services.orders import channels
from services.orders.intake import submit_order
from web.deps import StarterDep, TemporalDep

router = APIRouter(prefix="/api/channels", tags=["channels"])


def _channel(name: str):
    with Session(get_read_engine()) as session:
        return channels.live_channel(session, name)


@router.post("/{name}/orders", status_code=201, responses={
    200: {"description": "the order existed already"}, 401: {"description": "missing or wrong signature"}})
async def channel_order(
    name: str,
    request: Request,
    response: Response,
    client: TemporalDep,
    starter: StarterDep,
    signature: Annotated[str | None, Header(alias=channels.SIGNATURE_HEADER)] = None,
) -> dict:
    """A channel's native payload, signed with HMAC-SHA256 of the raw body."""
    channel = await anyio.to_thread.run_sync(_channel, name)
    if channel is None:
        raise HTTPException(404, f"unknown channel {name!r}")
    body = await request.body()
    try:
        channels.verify(channel, body, signature)
    except channels.SignatureRefused as exc:
        raise HTTPException(401, str(exc)) from exc
    order = channels.native_order(channel, body)
    accepted = await submit_order(client, order, channel.flow, starter)
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    return {"id": accepted.order_id, "status": accepted.status}
