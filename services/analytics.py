"""The dashboard's read model: daily counters kept as orders move (the queries: ``services.dashboard``).

``observe`` runs inside the transaction that writes an order's timeline line
(activities/orders.py ``record``), so a counter moves exactly when the
timeline does and a retried activity never counts twice. ``rebuild``
recomputes every counter from the orders and their timelines (after an
import of old data, or to check the counters). Days are UTC days.

Every counter of an order goes to its channel and its destination country
at capture (an address changed later does not move the order to another
country's figures), so each figure obeys the dashboard's filters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, delete, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from engine.analytics import (
    UNSOLD,
    Increment,
    capture_increments,
    return_increments,
    segment_of,
    shipped_on_time,
    sliced,
    status_increments,
    unsold_increments,
)
from oms.models import DailyMetric, Order, OrderEvent, Return, ReturnLine, Shipment, Warehouse

# Milestone keys beside the statuses: the capture counters were added; the destination country
# they were added for; the sale was taken back (the order ended unsold).
CAPTURED = "_captured"
COUNTRY = "_country"
UNSOLD_MARK = "_unsold"
SHIPPED = "shipped"
READY = ("reserved", "paid")  # an order is ready to ship once it reached both (those it reaches)

# What the counters count, in a row of their own: counters kept by a release that counted otherwise
# are rebuilt from the timelines on start (``ensure_current``). 2: every counter per channel and country.
VERSION = 2
VERSION_KEY = {"metric": "_version", "day": date(2000, 1, 1), "k1": "", "k2": ""}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add(session: Session, items: Iterable[tuple[date, Increment]]) -> None:
    """Add to the counters: one upsert, rows in key order so concurrent writers lock alike."""
    merged: dict[tuple[date, str, str, str], list] = {}
    for day, inc in items:
        slot = merged.setdefault((day, inc.metric, inc.k1, inc.k2), [0, 0.0])
        slot[0] += inc.count
        slot[1] += inc.amount
    if not merged:
        return
    rows = [
        {"day": d, "metric": m, "k1": k1, "k2": k2, "count": c, "amount": a}
        for (d, m, k1, k2), (c, a) in sorted(merged.items())
    ]
    table: Table = DailyMetric.__table__  # type: ignore[attr-defined]  # SQLAlchemy sets it; SQLModel's types omit it
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "metric", "k1", "k2"],
        set_={"count": table.c.count + statement.excluded.count, "amount": table.c.amount + statement.excluded.amount},
    )
    session.execute(statement, rows)


def segment(order: Order, milestones: dict[str, str]) -> tuple[str, str]:
    """The channel and country the order's counters go to: the destination at capture once captured."""
    channel, country = segment_of(order.document)
    return channel or order.channel, milestones.get(COUNTRY, country)


def _ends_unsold(milestones: dict[str, str]) -> bool:
    """Captured, ended in an unsold status, and its sale not taken back yet."""
    return CAPTURED in milestones and UNSOLD_MARK not in milestones and any(s in milestones for s in UNSOLD)


def observe(session: Session, order: Order, event_type: str, status: str | None, data: dict[str, Any]) -> None:
    """Count what this timeline line means for the dashboard (in the caller's transaction)."""
    milestones = dict(order.milestones or {})
    now = datetime.now(UTC)
    captured = _utc(order.created_at)
    items: list[tuple[date, Increment]] = []
    if event_type == "audited" and CAPTURED not in milestones:
        fired = data.get("fired") or []
        items += [
            (captured.date(), inc) for inc in capture_increments(order.document, str(data.get("action", "")), fired)
        ]
        milestones[CAPTURED] = now.isoformat()
        milestones[COUNTRY] = segment_of(order.document)[1]
    channel, country = segment(order, milestones)
    if status and status not in milestones:
        milestones[status] = now.isoformat()
        reached = status_increments(status, now, captured, milestones)
        if status == SHIPPED:
            reached += _shipments_on_time(session, order, milestones, now)
        items += [(now.date(), inc) for inc in sliced(reached, channel, country)]
    if _ends_unsold(milestones):
        milestones[UNSOLD_MARK] = now.isoformat()
        items += [(captured.date(), inc) for inc in unsold_increments(order.document, channel, country)]
    if items:
        add(session, items)
        order.milestones = milestones
        session.add(order)


def observe_return(session: Session, order: Order, reason: str, lines: list[dict[str, Any]]) -> None:
    """Count a return request of ``order`` (in the caller's transaction, the one that stores it)."""
    channel, country = segment(order, order.milestones or {})
    today = datetime.now(UTC).date()
    add(session, [(today, inc) for inc in sliced(return_increments(lines, reason), channel, country)])


def recount(session: Session, batch: int = 5000) -> dict[tuple[date, str, str, str], list]:
    """Every counter computed afresh from the orders, their timelines and returns (reads only)."""
    totals: dict[tuple[date, str, str, str], list] = defaultdict(lambda: [0, 0.0])

    def count(day: date, inc: Increment) -> None:
        slot = totals[(day, inc.metric, inc.k1, inc.k2)]
        slot[0] += inc.count
        slot[1] += inc.amount

    last_id = ""
    while True:
        orders = session.exec(select(Order).where(Order.id > last_id).order_by(Order.id).limit(batch)).all()
        if not orders:
            break
        ids = [o.id for o in orders]
        events = defaultdict(list)
        for event in session.exec(
            select(OrderEvent)
            .where(col(OrderEvent.order_id).in_(ids))
            .order_by(col(OrderEvent.order_id), col(OrderEvent.seq))
        ).all():
            events[event.order_id].append(event)
        returned = defaultdict(list)
        for row in session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
                Return.order_id, Return.created_at, Return.reason, ReturnLine.sku, ReturnLine.qty, ReturnLine.price
            )
            .join(ReturnLine, col(ReturnLine.return_id) == Return.id)
            .where(col(Return.order_id).in_(ids))
        ).all():
            returned[row[0]].append(row[1:])
        for order in orders:
            for day, inc in _replay(session, order, events[order.id]):
                count(day, inc)
            channel, country = segment_of(_as_captured(order, events[order.id]))
            for created_at, reason, sku, qty, price in returned[order.id]:
                lines = [{"sku": sku, "qty": qty, "price": price}]
                for inc in sliced(return_increments(lines, reason), channel or order.channel, country):
                    count(_utc(created_at).date(), inc)
        last_id = orders[-1].id
    return dict(totals)


def _ready_to_ship(order: Order, milestones: dict[str, str]) -> datetime:
    """When the order could ship: reserved, and paid if it waited for the payment."""
    times = [datetime.fromisoformat(milestones[s]) for s in READY if s in milestones]
    return max(times) if times else _utc(order.created_at)


def _shipments_on_time(
    session: Session, order: Order, milestones: dict[str, str], shipped: datetime
) -> list[Increment]:
    """Per parcel: shipped on time against its warehouse's cut-off, or late."""
    ready = _ready_to_ship(order, milestones)
    parcels = session.exec(select(Shipment.warehouse).where(Shipment.order_id == order.id)).all()
    cutoffs = dict(session.exec(select(Warehouse.code, Warehouse.cutoff)).all())
    increments = []
    for warehouse in parcels:
        try:
            verdict = "on_time" if shipped_on_time(ready, shipped, cutoffs.get(warehouse) or "") else "late"
        except ValueError:  # a warehouse without a usable cut-off is not measured against one
            continue
        increments.append(Increment("shipment", warehouse, verdict))
    return increments


def current_version(session: Session) -> int | None:
    """The version of what the stored counters count (None: counted before versions, or nothing yet)."""
    found = session.exec(
        select(DailyMetric.count).where(
            DailyMetric.metric == VERSION_KEY["metric"],
            DailyMetric.day == VERSION_KEY["day"],
            DailyMetric.k1 == "",
            DailyMetric.k2 == "",
        )
    ).first()
    return None if found is None else int(found)


def ensure_current(session: Session) -> int | None:
    """Rebuild the counters if a release that counted otherwise kept them (returns the counters rebuilt)."""
    if current_version(session) == VERSION:
        return None
    return rebuild(session)


def rebuild(session: Session) -> int:
    """Replace every counter by its recount (after importing old data, or to repair); returns the counters.

    Safe while orders move: on PostgreSQL the counters are locked first, so a
    transaction counting an order waits and adds to the rebuilt counters (on
    SQLite the write transaction already excludes every other writer).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE daily_metrics IN EXCLUSIVE MODE"))
    totals = recount(session)
    session.execute(delete(DailyMetric))
    rows = [
        {"day": d, "metric": m, "k1": k1, "k2": k2, "count": c, "amount": a}
        for (d, m, k1, k2), (c, a) in sorted(totals.items())
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(DailyMetric), rows[start : start + 5000])
    session.execute(insert(DailyMetric), [{**VERSION_KEY, "count": VERSION, "amount": 0.0}])
    return len(rows)


def _as_captured(order: Order, events: list[OrderEvent]) -> dict[str, Any]:
    """The order's document as it was at capture: a later change of address gives back the address before it."""
    audited = next((i for i, e in enumerate(events) if e.type == "audited"), None)
    if audited is not None:
        for event in events[audited + 1 :]:
            if event.type == "address_changed" and isinstance(event.data.get("previous"), dict):
                return {**order.document, "shipping_address": event.data["previous"]}
    return order.document


def _replay(session: Session, order: Order, events: list[OrderEvent]) -> Iterator[tuple[date, Increment]]:
    """The counters ``observe`` added for this order, from its timeline (each line keeps the status it set)."""
    captured = _utc(order.created_at)
    document = _as_captured(order, events)
    channel, country = segment_of(document)
    channel = channel or order.channel
    milestones: dict[str, str] = {}
    for event in events:
        at = _utc(event.at)
        if event.type == "audited" and CAPTURED not in milestones:
            action, fired = str(event.data.get("action", "")), event.data.get("fired") or []
            for inc in capture_increments(document, action, fired):
                yield captured.date(), inc
            milestones[CAPTURED] = at.isoformat()
        status = event.status
        if status and status not in milestones:
            milestones[status] = at.isoformat()
            reached = status_increments(status, at, captured, milestones)
            if status == SHIPPED:
                reached += _shipments_on_time(session, order, milestones, at)
            for inc in sliced(reached, channel, country):
                yield at.date(), inc
        if _ends_unsold(milestones):
            milestones[UNSOLD_MARK] = at.isoformat()
            for inc in unsold_increments(document, channel, country):
                yield captured.date(), inc
