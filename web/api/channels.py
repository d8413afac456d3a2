from typing import Annotated

import anyio
from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from sqlmodel import Session

from oms.db import get_read_engine
from services.orders import channels
from services.orders.intake import submit_order
from web.api.schemas.channels import DeliveryIgnored
from web.api.schemas.orders import OrderAccepted
from web.deps import StarterDep, TemporalDep
from web.limits import limited_body

router = APIRouter(prefix="/api/channels", tags=["channels"])


def _channel(name: str):
    with Session(get_read_engine()) as session:
        return channels.live_channel(session, name)


def _ignored(code: int, event_type: str, reason: str) -> JSONResponse:
    return JSONResponse(DeliveryIgnored(ignored=True, event_type=event_type, reason=reason).model_dump(), code)


@router.post(
    "/{name}/orders",
    status_code=201,
    response_model=OrderAccepted,
    responses={
        200: {
            "description": "the order existed already; or the platform's unsigned ping, answered and not stored",
            "model": OrderAccepted | DeliveryIgnored,
        },
        202: {
            "description": "the delivery's event type carries no new order: nothing stored",
            "model": DeliveryIgnored,
        },
        401: {"description": "missing or wrong signature, or a timestamp outside the tolerance"},
        413: {"description": "the body is larger than OMS_WEBHOOK_MAX_BYTES"},
        422: {"description": "the payload does not fit the channel's mapping or form: each bad field named"},
    },
)
async def channel_order(
    name: str,
    request: Request,
    response: Response,
    client: TemporalDep,
    starter: StarterDep,
    # The product's own scheme, documented here; a channel's `webhook.signature` may name other headers.
    signature: Annotated[str | None, Header(alias=channels.SIGNATURE_HEADER)] = None,
    timestamp: Annotated[str | None, Header(alias=channels.TIMESTAMP_HEADER)] = None,
) -> dict | JSONResponse:
    """A channel's native payload, signed as its definition's `webhook.signature` says (by default HMAC-SHA256
    of the timestamp and the raw body); its `webhook.event_type` says which deliveries carry a new order."""
    # The size is checked before anything else: an unsigned caller can make us read only so much.
    body = await limited_body(request)
    channel = await anyio.to_thread.run_sync(_channel, name)
    if channel is None:
        raise HTTPException(404, f"unknown channel {name!r}")
    if channel.webhook.is_ping(body, request.headers):
        return _ignored(status.HTTP_200_OK, "ping", "an unsigned ping: the URL is alive, nothing is stored")
    channels.verify(channel, body, request.headers)
    delivery = channels.native_delivery(channel, body, request.headers)
    if delivery.order is None:
        reason = f"event type {delivery.event_type!r} carries no new order for channel {name!r}"
        return _ignored(status.HTTP_202_ACCEPTED, str(delivery.event_type), reason)
    accepted = await submit_order(client, delivery.order, channel.flow, starter)
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    return {"id": accepted.order_id, "status": accepted.status}
