"""Stock sync to channels: what each syncing channel may sell, pushed to its platform in debounced batches.

Each channel whose live definition has an enabled ``stock_sync:`` section has a
``StockSync`` workflow (workflows/stock_sync.py, started by
services/stock/sync_starts.py) that loops over two activities:

- ``plan``: registers the channel for the marks every stock change writes
  (services/stock/sync_marks.py) and, when its settings are new, marks every
  SKU it lists; then, once the oldest mark is ``debounce`` old, the next batch
  of marked SKUs (every marked SKU goes along, up to ``batch_size``, so changes
  that came close together share one request), else how long to wait. A
  channel that no longer syncs is unregistered and its workflow ends.
- ``push``: reads the marks, then the stock (in that order: a change that
  commits in between is pushed again, never lost), computes each SKU's
  quantity (engine/stock_sync.py), builds the body, sends one request and
  stores per SKU the quantity pushed and when, or the failure. A 429 (with its
  Retry-After), a 5xx or an unreachable platform raises ``SyncRetryable``:
  Temporal's retry policy tries again, and the SKUs stay marked. A refusal
  (another 4xx, an address the outbound rules refuse, an answer reporting
  errors, an item that cannot be built) is stored and the marks are cleared:
  the next change of the SKU, or new settings, tries again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, null, update
from sqlmodel import Session, col, select

from engine.stock_sync import ItemError, StockSync, channel_available
from oms.db import get_read_engine, session_scope
from oms.models import Sku, StockSyncChannel, StockSyncItem, utcnow
from services import http_client
from services.definitions.live import live_definitions
from services.errors import Invalid, NotFound, Unavailable
from services.http_client import SecretNotSet
from services.outbound import DestinationRefused
from services.stock.reservation import snapshot
from services.stock.sync_marks import ITEMS, mark_all
from workflows.contracts import StockSyncBatch, StockSyncPlan, StockSyncPushed, StockSyncRun

log = logging.getLogger("oms.stock_sync")

TIMEOUT_SECONDS = 30
_CHUNK = 500  # SKUs per IN (...) list


class SyncRetryable(Unavailable):
    """The platform answered 429 or 5xx, or could not be reached: trying again later can work."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__("stock_sync_unavailable", message, retryable=True)
        self.retry_after = retry_after


class SyncRefused(Invalid):
    """The platform refused the batch, or it could not be sent as defined: a retry will not help."""

    def __init__(self, message: str, status: int = 0):
        super().__init__("stock_sync_refused", message)
        self.status = status


def workflow_id(channel: str) -> str:
    return f"stock-sync-{channel}"


def live_sync(session: Session, channel: str) -> tuple[StockSync | None, str]:
    """The channel's enabled stock sync (None when it has none) and its live definition's sha256."""
    row = live_definitions(session).get("channel", channel)
    if row is None:
        return None, ""
    sync = row.model.stock_sync
    return (sync if sync is not None and sync.enabled else None), row.sha256


def syncing_channels(session: Session) -> list[str]:
    """The live channels with an enabled ``stock_sync:`` section."""
    live = live_definitions(session)
    return [name for name in live.names("channel") if live_sync(session, name)[0] is not None]


def forget_stale_channels(session: Session, syncing: list[str]) -> None:
    """Stop marking stock for channels that no longer sync but whose workflow did not end by itself
    (terminated by hand): their registrations go."""
    session.execute(delete(StockSyncChannel).where(col(StockSyncChannel.channel).not_in(syncing)))


# ---- plan ------------------------------------------------------------------------------------


def plan(run: StockSyncRun) -> StockSyncPlan:
    """Register the channel (its settings new: every SKU marked), then the next batch or how long to wait."""
    with Session(get_read_engine()) as session:
        sync, sha256 = live_sync(session, run.channel)
        registered = session.get(StockSyncChannel, run.channel)
        current = registered is not None and registered.sha256 == sha256
        marked = _marked(session, run.channel) if sync is not None and current else []
    if sync is None:
        if registered is not None:
            with session_scope() as session:
                session.execute(delete(StockSyncChannel).where(col(StockSyncChannel.channel) == run.channel))
            log.info("channel %s no longer syncs its stock", run.channel)
        return StockSyncPlan(stop=True)
    if not current:
        marked = _register(run.channel, sync, sha256)
    unlisted = [sku for sku, _ in marked if not sync.lists(sku)]
    if unlisted:
        _forget(run.channel, unlisted)
    waiting = [(sku, since) for sku, since in marked if sync.lists(sku)]
    if not waiting:
        return StockSyncPlan(wait_seconds=sync.debounce_seconds)
    due_in = (waiting[0][1] + timedelta(seconds=sync.debounce_seconds) - utcnow()).total_seconds()
    if due_in > 0:
        return StockSyncPlan(wait_seconds=due_in)
    return StockSyncPlan(skus=[sku for sku, _ in waiting[: sync.batch_size]])


def _marked(session: Session, channel: str) -> list[tuple[str, datetime]]:
    """The channel's marked SKUs, the longest waiting first."""
    rows = session.exec(
        select(StockSyncItem.sku, StockSyncItem.dirty_since)
        .where(StockSyncItem.channel == channel, col(StockSyncItem.dirty_since).is_not(None))
        .order_by(col(StockSyncItem.dirty_since), col(StockSyncItem.sku))
    ).all()
    return [(sku, since) for sku, since in rows if since is not None]


def _register(channel: str, sync: StockSync, sha256: str) -> list[tuple[str, datetime]]:
    """Take marks for the channel from now on, and mark every SKU it lists: the platform learns them all."""
    with session_scope() as session:
        row = session.get(StockSyncChannel, channel) or StockSyncChannel(channel=channel, sha256=sha256)
        row.sha256, row.since = sha256, utcnow()
        session.add(row)
        session.flush()
        mark_all(session, channel, None if sync.listings is None else list(sync.listings))
        marked = _marked(session, channel)
    log.info("channel %s syncs its stock (definition %s): every SKU is pushed", channel, sha256[:12])
    return marked


def _forget(channel: str, skus: list[str]) -> None:
    """Drop the marks of SKUs the channel does not list (every stock change marks every SKU it changed)."""
    with session_scope() as session:
        for start in range(0, len(skus), _CHUNK):
            session.execute(
                delete(StockSyncItem).where(
                    col(StockSyncItem.channel) == channel, col(StockSyncItem.sku).in_(skus[start : start + _CHUNK])
                )
            )


# ---- push ------------------------------------------------------------------------------------


def push(batch: StockSyncBatch) -> StockSyncPushed:
    """Push the batch's quantities in one request; store per SKU what was pushed or why not.

    Raises SyncRetryable (429, 5xx, unreachable: the SKUs stay marked for the retry).
    """
    with Session(get_read_engine()) as session:
        sync, _ = live_sync(session, batch.channel)
        if sync is None:
            return StockSyncPushed()
        skus = [sku for sku in dict.fromkeys(batch.skus) if sync.lists(sku)]
        # The marks before the stock: a change committed between the two reads bumps `changes`
        # after the value read here, so the push below does not clear its mark.
        seen = dict(
            session.exec(
                select(StockSyncItem.sku, StockSyncItem.changes).where(
                    StockSyncItem.channel == batch.channel, col(StockSyncItem.sku).in_(skus)
                )
            ).all()
        )
        available = _available(session, batch.channel, sync, skus)
    items: list[dict[str, Any]] = []
    quantities: dict[str, int] = {}
    refused: dict[str, tuple[int, str]] = {}
    for sku in skus:
        quantity = sync.quantity(sku, available.get(sku, 0))
        try:
            items.append(sync.item_for(sku, available.get(sku, 0)))
        except ItemError as exc:
            refused[sku] = (quantity, f"the item could not be built: {exc}")
            continue
        quantities[sku] = quantity
    if refused:
        _record(batch.channel, refused, seen, settle=True)
    if not items:
        return StockSyncPushed(failed=len(refused))
    try:
        status = send(batch.channel, sync, sync.body(items))
    except SyncRetryable as exc:
        _record(batch.channel, _failed(quantities, exc.message + "; trying again"), seen, settle=False)
        raise
    except SyncRefused as exc:
        _record(batch.channel, _failed(quantities, exc.message), seen, settle=True)
        return StockSyncPushed(failed=len(refused) + len(quantities), status=exc.status)
    _record(batch.channel, {sku: (qty, None) for sku, qty in quantities.items()}, seen, settle=True)
    log.info("channel %s: pushed %d SKUs (%d refused)", batch.channel, len(quantities), len(refused))
    return StockSyncPushed(pushed=len(quantities), failed=len(refused), status=status)


def _failed(quantities: Mapping[str, int], message: str) -> dict[str, tuple[int, str | None]]:
    return {sku: (qty, message) for sku, qty in quantities.items()}


def _available(session: Session, channel: str, sync: StockSync, skus: list[str]) -> dict[str, int]:
    """What ``channel`` may sell of each SKU now: over its warehouses, less other channels' kept stock."""
    if not skus:
        return {}
    _, pieces, holds = snapshot(session, set(skus), channel)
    return channel_available(((p.warehouse, p.sku, p.available) for p in pieces), holds, sync.warehouses)


HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "oms-stock-sync/1"}


def send(channel: str, sync: StockSync, body: Any) -> int:
    """One request to the platform; its status. Raises SyncRetryable or SyncRefused."""
    try:
        answer = http_client.send(
            sync.method,
            sync.url,
            headers=HEADERS,
            secrets=[sync.auth] if sync.auth else [],
            content=json.dumps(body).encode(),
            timeout=TIMEOUT_SECONDS,
        )
    except SecretNotSet as exc:
        raise SyncRefused(f"{exc} (stock_sync.auth.secret_env of {channel})") from None
    except DestinationRefused as exc:
        raise SyncRefused(str(exc)) from None
    except http_client.NoAnswer as exc:
        raise SyncRetryable(f"the platform {exc}") from None
    status = answer.status
    if answer.retryable:
        raise SyncRetryable(f"the platform {answer.said()}", answer.retry_after() if status == 429 else None)
    if not answer.ok:
        raise SyncRefused(f"the platform {answer.said()}", status)
    if sync.errors_at or sync.retry_at:
        try:
            reply = answer.json()
        except ValueError:
            raise SyncRefused(f"the platform answered {status} but not in JSON", status) from None
        again = sync.failure_in(reply, sync.retry_at)
        if again:
            raise SyncRetryable(f"the platform answered {status} with {again}")
        failure = sync.failure_in(reply, sync.errors_at)
        if failure:
            raise SyncRefused(f"the platform answered {status} with {failure}", status)
    return status


def _record(
    channel: str, outcomes: Mapping[str, tuple[int, str | None]], seen: Mapping[str, int], settle: bool
) -> None:
    """Store each SKU's attempt: pushed (error None) or failed; ``settle`` clears marks nothing renewed."""
    now = utcnow()
    with session_scope() as session:
        for sku, (quantity, error) in sorted(outcomes.items()):
            values: dict[str, Any] = {"attempted_qty": quantity, "attempted_at": now}
            if error is None:
                values.update(pushed_qty=quantity, pushed_at=now, error=None, failures=0)
            else:
                values.update(error=error, failures=ITEMS.c.failures + 1)
            if settle and sku in seen:
                values["dirty_since"] = case((ITEMS.c.changes == seen[sku], null()), else_=ITEMS.c.dirty_since)
            session.execute(update(ITEMS).where(ITEMS.c.channel == channel, ITEMS.c.sku == sku).values(**values))


# ---- pushing again on request ----------------------------------------------------------------


def resync(session: Session, channel: str, user: str) -> int:
    """Mark every SKU the channel lists to be pushed again (after the platform was fixed), recording who
    asked; how many SKUs that is. The channel's workflow, once woken, pushes them after the debounce."""
    sync, _ = live_sync(session, channel)
    if sync is None:
        raise NotFound("channel_not_syncing", f"channel {channel!r} does not push its stock (no enabled stock_sync)")
    row = session.get(StockSyncChannel, channel)
    if row is not None:  # else its workflow has not registered it yet, and will push every SKU when it does
        row.resync_by, row.resync_at = user, utcnow()
        session.add(row)
        session.flush()
        mark_all(session, channel, None if sync.listings is None else list(sync.listings))
    log.info("channel %s: %s asked to push every SKU again", channel, user)
    if sync.listings is not None:
        return len(sync.listings)
    return int(session.exec(select(func.count()).select_from(Sku)).one())


# ---- what the stock page and the API show ---------------------------------------------------


def sync_view(session: Session, skus: Iterable[str] | None = None, channels: Iterable[str] = ()) -> dict[str, Any]:
    """The syncing channels (``channels``: only these, a channel-scoped caller's) and per SKU and channel
    the last quantity pushed, when, whether a change waits, and the last failure."""
    only = set(channels)
    names = [name for name in syncing_channels(session) if not only or name in only]
    query = select(StockSyncItem).where(col(StockSyncItem.channel).in_(names))
    if skus is not None:
        query = query.where(col(StockSyncItem.sku).in_(list(skus)))
    items: dict[str, dict[str, dict[str, Any]]] = {}
    failing: dict[str, int] = dict.fromkeys(names, 0)
    for row in session.exec(query.order_by(col(StockSyncItem.sku), col(StockSyncItem.channel))).all():
        items.setdefault(row.sku, {})[row.channel] = _item_view(row)
        failing[row.channel] += 1 if row.error else 0
    summaries = []
    registered = {
        row.channel: row
        for row in session.exec(select(StockSyncChannel).where(col(StockSyncChannel.channel).in_(names))).all()
    }
    for name in names:
        sync, _ = live_sync(session, name)
        assert sync is not None  # syncing_channels listed it
        since = registered.get(name)
        summaries.append(
            {
                "channel": name,
                "url": sync.url,
                "debounce_seconds": sync.debounce_seconds,
                "batch_size": sync.batch_size,
                "safety_stock": sync.safety_stock,
                "skus": None if sync.listings is None else sorted(sync.listings),
                "failing": failing[name],
                "since": since.since if since else None,
                "resync_by": since.resync_by if since else None,
                "resync_at": since.resync_at if since else None,
            }
        )
    return {"channels": summaries, "items": items}


def _item_view(row: StockSyncItem) -> dict[str, Any]:
    return {
        "pushed_qty": row.pushed_qty,
        "pushed_at": row.pushed_at,
        "waiting_since": row.dirty_since,
        "attempted_qty": row.attempted_qty,
        "attempted_at": row.attempted_at,
        "error": row.error,
        "failures": row.failures,
    }
