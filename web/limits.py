"""Request size limits: every body is capped, webhook bodies before their signature is checked."""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms.settings import get_settings


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the request body is larger than {limit} bytes")


class BodyLimit:
    """Refuse a body over ``OMS_MAX_REQUEST_BYTES``: at once by its Content-Length, else while it streams in."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = get_settings().max_request_bytes
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            detail = too_large(limit).detail
            body = f'{{"detail": "{detail}"}}'.encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit)  # FastAPI and Starlette answer an HTTPException from here with its status
            return message

        await self.app(scope, counted, send)


async def limited_body(request: Request, limit: int | None = None) -> bytes:
    """The raw body of a webhook, refused with 413 once it passes ``limit`` (default OMS_WEBHOOK_MAX_BYTES)."""
    limit = limit or get_settings().webhook_max_bytes
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
