"""Marks of changed stock for the channels it is pushed to (stock sync).

Every change of a balance (receipt, return, adjustment, count, transfer,
reservation, release, shipment, stock kept for a channel) calls
``mark_changed`` in the transaction of the change: one INSERT ... SELECT ...
ON CONFLICT marks each changed SKU for every syncing channel. The mark
commits or rolls back with the change itself, so no change is lost and none
is pushed that did not happen. Each channel's ``StockSync`` workflow reads
the marks (services/stock/channel_sync.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, literal, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from oms.models import Sku, StockSyncChannel, StockSyncItem, utcnow

ITEMS: Table = StockSyncItem.__table__  # type: ignore[attr-defined]


def mark_changed(session: Session, skus: Iterable[str]) -> None:
    """Mark ``skus`` changed for every channel whose stock is pushed, in the session's transaction."""
    wanted = sorted(set(skus))
    if wanted:
        _mark(session, col(Sku.sku).in_(wanted))


def mark_all(session: Session, channel: str, skus: Iterable[str] | None = None) -> None:
    """Mark every SKU (or ``skus``) changed for ``channel``: its first push, or one after new settings."""
    which = true() if skus is None else col(Sku.sku).in_(sorted(set(skus)))
    _mark(session, which, col(StockSyncChannel.channel) == channel)


def _mark(session: Session, *where: ColumnElement[bool]) -> None:
    now: datetime = utcnow()
    rows = (
        select(
            col(StockSyncChannel.channel),
            col(Sku.sku),
            literal(1),
            literal(now, ITEMS.c.dirty_since.type),
            literal(0),
        )
        .select_from(StockSyncChannel)
        .join(Sku, true())  # every syncing channel with every changed SKU
        .where(*where)
        # One lock order for every writer (PostgreSQL): no two transactions wait on each other's marks.
        .order_by(col(StockSyncChannel.channel), col(Sku.sku))
    )
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(ITEMS).from_select(["channel", "sku", "changes", "dirty_since", "failures"], rows)
    statement = statement.on_conflict_do_update(
        index_elements=["channel", "sku"],
        set_={
            "changes": ITEMS.c.changes + 1,
            # A SKU already waiting keeps the time of its first change: the debounce counts from there.
            "dirty_since": func.coalesce(ITEMS.c.dirty_since, statement.excluded.dirty_since),
        },
    )
    session.execute(statement)
