"""Stock sync to channels: what was pushed to each syncing channel, and "push every SKU again".

Every signed-in role reads, as it reads stock (a channel-scoped caller sees its
own channels); operators ask for every SKU to be pushed again once a platform
that refused them is fixed, and the request is recorded with their name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from oms.db import session_scope
from services import scopes
from services.stock import channel_sync
from services.stock.sync_starts import start_sync
from web.deps import CurrentUser, SessionDep, TemporalDep, UserDep, require

router = APIRouter(prefix="/api/inventory/sync", tags=["inventory"])

Operator = Annotated[CurrentUser, Depends(require("operator"))]


class SyncedItem(BaseModel):
    pushed_qty: int | None
    pushed_at: datetime | None
    waiting_since: datetime | None
    attempted_qty: int | None
    attempted_at: datetime | None
    error: str | None
    failures: int


class SyncingChannel(BaseModel):
    channel: str
    url: str
    debounce_seconds: float
    batch_size: int
    safety_stock: int
    skus: list[str] | None
    failing: int
    since: datetime | None
    resync_by: str | None
    resync_at: datetime | None


class SyncState(BaseModel):
    channels: list[SyncingChannel]
    items: dict[str, dict[str, SyncedItem]]  # SKU -> channel -> its last push


class Resync(BaseModel):
    channel: str
    skus: int
    workflow_id: str


@router.get("", response_model=SyncState)
def sync_state(session: SessionDep, user: UserDep, sku: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    """Per syncing channel and SKU: the quantity last pushed, when, whether a change waits, the last failure."""
    return channel_sync.sync_view(session, sku, user.channels)


@router.post("/{channel}", status_code=202, response_model=Resync)
async def push_again(channel: str, user: Operator, client: TemporalDep) -> dict[str, Any]:
    """Push every SKU the channel lists again (after the debounce), recording who asked."""
    scopes.check_channel(user, channel)

    def mark() -> int:
        with session_scope() as session:
            return channel_sync.resync(session, channel, user.username)

    count = await anyio.to_thread.run_sync(mark)
    return {"channel": channel, "skus": count, "workflow_id": await start_sync(client, channel)}
