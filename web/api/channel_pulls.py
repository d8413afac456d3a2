"""Pull connectors: a channel's polling state, and "sync the schedule and run now".

Analysts (who publish channel definitions) and operators read the state,
including the listed orders the last run rejected, each naming the field;
analysts run a pull now, which also brings its schedule in line with the live
definition (the web app does that for every channel when it starts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlmodel import Session

from oms.db import get_read_engine
from services.orders import channel_pull
from web.deps import CurrentUser, TemporalDep, require

router = APIRouter(prefix="/api/channels", tags=["channels"])

Reader = Annotated[CurrentUser, Depends(require("analyst", "operator"))]
Analyst = Annotated[CurrentUser, Depends(require("analyst"))]


class PullState(BaseModel):
    channel: str
    pulls: bool
    schedule_id: str | None
    interval_seconds: float | None
    cursor: str | None
    runs: int
    last_run_at: datetime | None
    last_pages: int
    last_items: int
    last_created: int
    last_existing: int
    last_rejected: list[dict[str, Any]]


class PullTriggered(BaseModel):
    schedule_id: str


def _state(name: str) -> dict[str, Any]:
    with Session(get_read_engine()) as session:
        return channel_pull.pull_state(session, name)


@router.get("/{name}/pull", response_model=PullState)
async def pull_state(name: str, user: Reader) -> dict[str, Any]:
    """The channel's pull connector: its schedule, stored cursor and last run (with rejected items)."""
    return await anyio.to_thread.run_sync(_state, name)


@router.post("/{name}/pull", status_code=202, response_model=PullTriggered)
async def pull_now(name: str, user: Analyst, client: TemporalDep) -> dict[str, str]:
    """Bring the channel's schedule in line with its live definition and start a run now."""
    return {"schedule_id": await channel_pull.run_now(client, name)}
