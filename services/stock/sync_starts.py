"""Each syncing channel's ``StockSync`` workflow: started when the web app starts and when a channel is
published (signal-with-start: a running one is woken to read its new settings, a missing one started).

A channel published without (an enabled) ``stock_sync:`` has its running workflow woken: it sees that on
its next plan and ends.
"""

from __future__ import annotations

import logging

import anyio
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from oms.db import get_read_engine, session_scope
from oms.settings import get_settings
from services.stock.channel_sync import forget_stale_channels, live_sync, syncing_channels, workflow_id
from workflows.contracts import StockSyncRun

log = logging.getLogger("oms.stock_sync")

WORKFLOW = "StockSync"


async def start_sync(client: Client, channel: str) -> str:
    """Start the channel's workflow, or wake the running one; its workflow id."""
    await client.start_workflow(
        WORKFLOW,
        StockSyncRun(channel=channel),
        id=workflow_id(channel),
        task_queue=get_settings().task_queue,
        start_signal="wake",
    )
    return workflow_id(channel)


def _syncing() -> list[str]:
    with session_scope() as session:
        channels = syncing_channels(session)
        forget_stale_channels(session, channels)
        return channels


def _syncs(channel: str) -> bool:
    with Session(get_read_engine()) as session:
        return live_sync(session, channel)[0] is not None


async def start_syncs_quietly(client: Client) -> None:
    """At start-up: every syncing channel's workflow runs. A failure is logged, and the app starts anyway."""
    try:
        channels = await anyio.to_thread.run_sync(_syncing)
        for channel in channels:
            await start_sync(client, channel)
        if channels:
            log.info("stock sync workflows: %s", ", ".join(channels))
    except Exception:
        log.exception("stock sync workflows could not be started; publishing a channel starts its own")


async def follow_publish(client: Client | None, kind: str, name: str) -> None:
    """After a channel is published or rolled back: its stock sync follows the new live version.

    Runs after the answer; a failure is logged (the next start-up starts it) and never undoes the publish.
    """
    if kind != "channel" or client is None:
        return
    try:
        if await anyio.to_thread.run_sync(_syncs, name):
            await start_sync(client, name)
            return
        try:
            await client.get_workflow_handle(workflow_id(name)).signal("wake")
        except RPCError as exc:  # none runs: nothing to stop
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
    except Exception:
        log.exception("the stock sync of channel %s could not follow its publish", name)
