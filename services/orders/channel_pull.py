"""Pull connectors: fetch a channel's orders from its platform's API and take them through the intake.

The ``ChannelPull`` workflow (workflows/channel_pull.py), started by a Temporal
schedule per channel with a ``pull:`` section, runs ``begin`` (the first
page's URL from the stored cursor), then ``take_page`` once per page, then
``finish`` (stores the cursor and the run's outcome in ``channel_pulls``). A
429 or 5xx answer, or a platform that cannot be reached, raises
``PullRetryable`` (a 429 with its Retry-After); Temporal's activity retry
policy tries again. A listed order that does not fit the mapping or the form
is rejected, naming the field, and logged; the rest of the page is taken.

Schedules are created, updated or removed by ``sync_schedules`` to match the
live channel definitions: when the web app starts (``oms up``, ``oms web``)
and by ``POST /api/channels/{name}/pull`` (sync and run now).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import anyio
import httpx
from sqlmodel import Session
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from engine.channel_pulls import Pull, PullShapeError
from engine.channels import Channel, MappingError
from engine.forms import FieldError
from oms.db import get_read_engine, session_scope
from oms.models import ChannelPullState, utcnow
from oms.settings import get_settings
from services import http_client
from services.definitions.live import live_definitions
from services.errors import Invalid, NotFound, Unavailable
from services.http_client import SecretNotSet
from services.orders.intake import IntakeRejected, submit_order
from services.outbound import DestinationRefused
from workflows.contracts import PulledPage, PullPage, PullPlan, PullRun, PullSummary

log = logging.getLogger(__name__)

WORKFLOW = "ChannelPull"
# Rejected listed orders kept with the channel's state (the log has every one).
KEEP_REJECTED = 50


class PullRetryable(Unavailable):
    """The platform answered 429 or 5xx, or could not be reached: trying again later can work."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__("pull_unavailable", message, retryable=True)
        self.retry_after = retry_after


class PullRefused(Invalid):
    """The platform refused the request (4xx but 429) or answered in another shape: a retry will not help."""

    def __init__(self, message: str):
        super().__init__("pull_refused", message)


def schedule_id(channel: str) -> str:
    return f"channel-pull-{channel}"


def _pull_channel(session: Session, name: str) -> Channel | None:
    row = live_definitions(session).get("channel", name)
    return row.model if row else None


def _channel(name: str) -> Channel | None:
    with Session(get_read_engine()) as session:
        return _pull_channel(session, name)


def begin(run: PullRun) -> PullPlan:
    """The first page's URL from the stored cursor; an empty URL when the channel no longer pulls."""
    channel = _channel(run.channel)
    if channel is None or channel.pull is None:
        return PullPlan()
    with Session(get_read_engine()) as session:
        state = session.get(ChannelPullState, run.channel)
        cursor = state.cursor if state else None
    pull = channel.pull
    return PullPlan(url=pull.first_url(cursor), cursor=cursor, min_gap_seconds=pull.min_gap_seconds)


@dataclass(frozen=True)
class Answer:
    body: Any
    headers: httpx.Headers


HEADERS = {"Accept": "application/json", "User-Agent": "oms-pull/1"}


async def fetch(channel: Channel, pull: Pull, url: str) -> Answer:
    """One page from the platform; raises PullRetryable (429, 5xx, unreachable) or PullRefused."""
    request = partial(
        http_client.send, pull.method, url, headers=HEADERS, secrets=[pull.auth] if pull.auth else [], timeout=30
    )
    try:
        answer = await anyio.to_thread.run_sync(request)
    except SecretNotSet as exc:
        raise PullRefused(f"channel {channel.name!r}: {exc} (pull.auth.secret_env)") from None
    except DestinationRefused as exc:
        raise PullRefused(f"channel {channel.name!r}: {exc}") from None
    except http_client.NoAnswer:
        raise PullRetryable(f"channel {channel.name!r}: the platform could not be reached") from None
    if answer.retryable:
        delay = answer.retry_after() if answer.status == 429 else None
        raise PullRetryable(f"channel {channel.name!r}: the platform {answer.said()}", delay)
    if not answer.ok:
        raise PullRefused(f"channel {channel.name!r}: the platform {answer.said()}")
    try:
        body = answer.json()
    except ValueError:
        raise PullRefused(f"channel {channel.name!r}: the platform's answer is not JSON") from None
    return Answer(body, answer.headers)


def _rejection(index: int, item: Any, errors: list[FieldError]) -> dict[str, Any]:
    external = item.get("id") if isinstance(item, dict) else None
    first = errors[0] if errors else FieldError("", "rejected")
    return {
        "index": index,
        "external_id": None if external is None else str(external),
        "field": first.field,
        "message": first.message,
        "errors": [{"field": e.field, "message": e.message} for e in errors],
    }


async def take_page(client: Client, inp: PullPage) -> PulledPage:
    """Fetch one page and take each listed order through the channel's mapping and the intake."""
    channel = await anyio.to_thread.run_sync(_channel, inp.channel)
    if channel is None or channel.pull is None:
        return PulledPage(cursor=inp.cursor)
    pull = channel.pull
    answer = await fetch(channel, pull, inp.url)
    try:
        items = pull.items_of(answer.body)
    except PullShapeError as exc:
        raise PullRefused(f"channel {channel.name!r}: {exc}") from None
    page = PulledPage(items=len(items), cursor=pull.cursor_after(inp.cursor, answer.body, items))
    for index, item in enumerate(items):
        try:
            order = channel.to_order(item)
            accepted = await submit_order(client, order, channel.flow)
        except MappingError as exc:
            page.rejected.append(_rejection(index, item, [FieldError(exc.field, exc.message)]))
        except IntakeRejected as exc:
            page.rejected.append(_rejection(index, item, exc.errors))
        else:
            if accepted.created:
                page.created += 1
            else:
                page.existing += 1
    for rejected in page.rejected:
        log.warning(
            "channel %s: pulled order %s (page %d, item %d) rejected: %s: %s",
            channel.name,
            rejected["external_id"],
            inp.page,
            rejected["index"],
            rejected["field"],
            rejected["message"],
        )
    following = pull.next_url(inp.url, inp.page, answer.headers, items)
    if following and not pull.same_origin(following):
        raise PullRefused(f"channel {channel.name!r}: the next page is on another host; refused")
    page.next_url = following or ""
    return page


def finish(summary: PullSummary) -> None:
    """Store the run's cursor and outcome: the next run starts from it."""
    with session_scope() as session:
        state = session.get(ChannelPullState, summary.channel) or ChannelPullState(channel=summary.channel)
        state.cursor = summary.cursor
        state.runs += 1
        state.last_run_at = utcnow()
        state.last_pages = summary.pages
        state.last_items = summary.items
        state.last_created = summary.created
        state.last_existing = summary.existing
        state.last_rejected = list(summary.rejected[:KEEP_REJECTED])
        state.updated_at = utcnow()
        session.add(state)


def pull_state(session: Session, name: str) -> dict[str, Any]:
    """What the API shows of a channel's pull connector: its definition's schedule, cursor, last run."""
    channel = _pull_channel(session, name)
    if channel is None:
        raise NotFound("channel_not_found", f"unknown channel {name!r}")
    state = session.get(ChannelPullState, name)
    return {
        "channel": name,
        "pulls": channel.pull is not None,
        "schedule_id": schedule_id(name) if channel.pull is not None else None,
        "interval_seconds": channel.pull.interval_seconds if channel.pull else None,
        "cursor": state.cursor if state else None,
        "runs": state.runs if state else 0,
        "last_run_at": state.last_run_at if state else None,
        "last_pages": state.last_pages if state else 0,
        "last_items": state.last_items if state else 0,
        "last_created": state.last_created if state else 0,
        "last_existing": state.last_existing if state else 0,
        "last_rejected": list(state.last_rejected) if state else [],
    }


def _schedule(channel: Channel, pull: Pull) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW,
            PullRun(channel=channel.name),
            id=schedule_id(channel.name),
            task_queue=get_settings().task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=pull.interval_seconds))]),
        # A run still paging when the next is due: the next is skipped, never two at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def sync_schedule(client: Client, channel: Channel) -> bool:
    """Create, update or remove the channel's schedule to match its definition; True if it has one."""
    handle = client.get_schedule_handle(schedule_id(channel.name))
    if channel.pull is None:
        try:
            await handle.delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        return False
    schedule = _schedule(channel, channel.pull)
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        try:
            await client.create_schedule(schedule_id(channel.name), schedule)
            return True
        except ScheduleAlreadyRunningError:  # created meanwhile (a publish and a "pull now" at once)
            pass

    def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await handle.update(updated)
    return True


def _live_channels() -> list[Channel]:
    with Session(get_read_engine()) as session:
        live = live_definitions(session)
        return [live.require("channel", name).model for name in live.names("channel")]


async def sync_schedules(client: Client) -> list[str]:
    """Bring every live channel's schedule in line with its definition; the channels that pull."""
    pulling = []
    for channel in await anyio.to_thread.run_sync(_live_channels):
        if await sync_schedule(client, channel):
            pulling.append(channel.name)
    if pulling:
        log.info("pull schedules: %s", ", ".join(pulling))
    return pulling


async def run_now(client: Client, name: str) -> str:
    """Sync the channel's schedule to its live definition and trigger a run; the schedule id."""
    channel = await anyio.to_thread.run_sync(_channel, name)
    if channel is None:
        raise NotFound("channel_not_found", f"unknown channel {name!r}")
    if not await sync_schedule(client, channel):
        raise Invalid("channel_pulls_nothing", f"channel {name!r} has no `pull:` section")
    await client.get_schedule_handle(schedule_id(name)).trigger()
    return schedule_id(name)


async def follow_publish(client: Client | None, kind: str, name: str) -> None:
    """After a channel is published or rolled back: its schedule follows the new live version.

    Runs after the answer; a failure is logged (the next start-up or ``POST /api/channels/{name}/pull``
    syncs it) and never undoes the publish.
    """
    if kind != "channel" or client is None:
        return
    try:
        channel = await anyio.to_thread.run_sync(_channel, name)
        if channel is not None:
            await sync_schedule(client, channel)
    except Exception:
        log.exception("the pull schedule of channel %s could not follow its publish", name)


async def sync_schedules_quietly(client: Client) -> None:
    """``sync_schedules`` at start-up: a failure is logged, and the app starts anyway."""
    try:
        await sync_schedules(client)
    except Exception:
        log.exception("pull schedules could not be synced; POST /api/channels/{name}/pull syncs one")
