"""The dashboard's read model: daily counters kept as orders move, and the queries over them.

``observe`` runs inside the transaction that writes an order's timeline line
(activities/orders.py ``record``), so a counter moves exactly when the
timeline does and a retried activity never counts twice. ``rebuild``
recomputes every counter from the orders and their timelines (after an
import of old data, or to check the counters). Days are UTC days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from engine.analytics import (
    STAGES,
    Increment,
    capture_increments,
    holt_forecast,
    percentile,
    return_increments,
    shipped_on_time,
    status_increments,
)
from oms.models import (
    DailyMetric,
    Order,
    OrderEvent,
    Return,
    ReturnLine,
    Shipment,
    Sku,
    Stock,
    Warehouse,
)

CAPTURED = "_captured"  # milestone key: the capture counters were added
SHIPPED = "shipped"
READY = ("reserved", "paid")  # an order is ready to ship once it reached both (those it reaches)


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


def observe(session: Session, order: Order, event_type: str, status: str | None, data: dict[str, Any]) -> None:
    """Count what this timeline line means for the dashboard (in the caller's transaction)."""
    milestones = dict(order.milestones or {})
    now = datetime.now(UTC)
    items: list[tuple[date, Increment]] = []
    if event_type == "audited" and CAPTURED not in milestones:
        captured = _utc(order.created_at).date()
        items += [
            (captured, inc)
            for inc in capture_increments(order.document, str(data.get("action", "")), data.get("fired") or [])
        ]
        items.append((captured, Increment("status", "received")))
        milestones[CAPTURED] = now.isoformat()
    if status and status not in milestones:
        milestones[status] = now.isoformat()
        items += [(now.date(), inc) for inc in status_increments(status, now, _utc(order.created_at), milestones)]
        if status == SHIPPED:
            items += [(now.date(), inc) for inc in _shipments_on_time(session, order, milestones, now)]
    if items:
        add(session, items)
        order.milestones = milestones
        session.add(order)


def recount(session: Session, batch: int = 5000) -> dict[tuple[date, str, str, str], list]:
    """Every counter computed afresh from the orders and their timelines (reads only)."""
    totals: dict[tuple[date, str, str, str], list] = defaultdict(lambda: [0, 0.0])
    last_id = ""
    while True:
        orders = session.exec(select(Order).where(Order.id > last_id).order_by(Order.id).limit(batch)).all()
        if not orders:
            break
        events = defaultdict(list)
        for event in session.exec(
            select(OrderEvent)
            .where(col(OrderEvent.order_id).in_([o.id for o in orders]))
            .order_by(col(OrderEvent.order_id), col(OrderEvent.seq))
        ).all():
            events[event.order_id].append(event)
        for order in orders:
            for day, inc in _replay(session, order, events[order.id]):
                slot = totals[(day, inc.metric, inc.k1, inc.k2)]
                slot[0] += inc.count
                slot[1] += inc.amount
        last_id = orders[-1].id
    returned = select(  # type: ignore[call-overload]  # sqlmodel types select() for at most four columns
        Return.created_at, Return.reason, ReturnLine.sku, ReturnLine.qty, ReturnLine.price
    ).join(ReturnLine, col(ReturnLine.return_id) == Return.id)
    for created_at, reason, sku, qty, price in session.exec(returned).all():
        for inc in return_increments([{"sku": sku, "qty": qty, "price": price}], reason):
            slot = totals[(_utc(created_at).date(), inc.metric, inc.k1, inc.k2)]
            slot[0] += inc.count
            slot[1] += inc.amount
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


def observe_return(session: Session, reason: str, lines: list[dict[str, Any]]) -> None:
    """Count a return request (in the caller's transaction, the one that stores it)."""
    add(session, [(datetime.now(UTC).date(), inc) for inc in return_increments(lines, reason)])


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
    return len(rows)


def _replay(session: Session, order: Order, events: list[OrderEvent]) -> Iterator[tuple[date, Increment]]:
    """The counters ``observe`` added for this order, from its timeline (each line keeps the status it set)."""
    created = _utc(order.created_at)
    milestones: dict[str, str] = {}
    for event in events:
        if event.type == "audited" and CAPTURED not in milestones:
            for inc in capture_increments(
                order.document, str(event.data.get("action", "")), event.data.get("fired") or []
            ):
                yield created.date(), inc
            yield created.date(), Increment("status", "received")
            milestones[CAPTURED] = _utc(event.at).isoformat()
        status = event.status
        if status and status not in milestones:
            at = _utc(event.at)
            milestones[status] = at.isoformat()
            for inc in status_increments(status, at, created, milestones):
                yield at.date(), inc
            if status == SHIPPED:
                for inc in _shipments_on_time(session, order, milestones, at):
                    yield at.date(), inc


# -- queries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    channel: str | None = None
    country: str | None = None
    # A scoped caller's channels and warehouses: figures keyed by them are limited to them, the others
    # are withheld (see ``withheld``).
    channels: tuple[str, ...] = ()
    warehouses: tuple[str, ...] = ()


# The day counters are keyed by channel (orders, SKU sales, audit outcomes) or by warehouse (on-time
# parcels), never both, and most by neither: what cannot be limited to a scoped caller's channels or
# warehouses is withheld, section by section and with the reason, rather than shown for everybody.
WITHHELD_FOR_CHANNELS = {
    "audit.top_reasons": "hold reasons are counted per rule over all channels",
    "funnel": "statuses reached are counted over all channels",
    "cycle_times": "cycle times are counted over all channels",
    "on_time": "parcels are counted per warehouse over all channels",
    "returns": "returns are counted per SKU and reason over all channels",
}
WITHHELD_FOR_WAREHOUSES = {
    "sales": "sales are counted per channel and country, not per warehouse",
    "audit": "audit outcomes are counted per channel, not per warehouse",
    "funnel": "statuses reached are counted over all warehouses",
    "cycle_times": "cycle times are counted over all warehouses",
    "returns": "returns are counted per SKU and reason over all warehouses",
    "stock": "units sold are counted over all warehouses",
    "forecast": "units sold are counted over all warehouses",
}
EMPTY: dict[str, Any] = {
    "sales": {"by_day": [], "by_channel": [], "by_country": [], "by_sku": []},
    "audit": {
        "audited": 0,
        "outcomes": {},
        "auto_approval_rate": None,
        "hold_rate": None,
        "reject_rate": None,
        "top_reasons": [],
    },
    "funnel": [],
    "cycle_times": [],
    "on_time": [],
    "returns": {"by_sku": [], "by_reason": [], "by_sku_and_reason": []},
    "stock": [],
    "forecast": [],
}


def withheld(filters: Filters) -> dict[str, str]:
    """The sections (``audit.top_reasons``: a part of one) a scoped caller does not get, with why."""
    reasons: dict[str, str] = {}
    if filters.warehouses:
        reasons.update(WITHHELD_FOR_WAREHOUSES)
    if filters.channels:
        for section, why in WITHHELD_FOR_CHANNELS.items():
            reasons.setdefault(section, why)
    if "audit" in reasons:
        reasons.pop("audit.top_reasons", None)
    return reasons


def _channels(filters: Filters) -> tuple[str, ...]:
    """The channels the figures are limited to: the filter's one, else the caller's (empty: all)."""
    return (filters.channel,) if filters.channel else filters.channels


def _counters(session: Session, metric: str, filters: Filters, by: tuple = ()) -> list[tuple]:
    c = DailyMetric
    # The ignore: sqlmodel types select() for up to four columns given one by one, not for *by.
    query = select(*by, func.sum(c.count), func.sum(c.amount)).where(  # type: ignore[call-overload]
        c.metric == metric, c.day >= filters.start, c.day <= filters.end
    )
    if by:
        query = query.group_by(*by)
    return session.exec(query).all()


def sales(session: Session, filters: Filters) -> dict[str, list[dict]]:
    """Orders and revenue by day, channel and destination country; units and revenue by SKU."""
    c = DailyMetric
    # The ignore: sqlmodel types select() for at most four columns.
    base = select(c.day, c.k1, c.k2, c.count, c.amount).where(  # type: ignore[call-overload]
        c.metric == "orders", c.day >= filters.start, c.day <= filters.end
    )
    if channels := _channels(filters):
        base = base.where(col(c.k1).in_(channels))
    if filters.country:
        base = base.where(c.k2 == filters.country)
    by_day: dict[date, list] = defaultdict(lambda: [0, 0.0])
    by_channel: dict[str, list] = defaultdict(lambda: [0, 0.0])
    by_country: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for day, channel, country, n, amount in session.exec(base).all():
        for table, key in ((by_day, day), (by_channel, channel), (by_country, country)):
            table[key][0] += n
            table[key][1] += amount
    days = [{"day": d.isoformat(), "orders": n, "revenue": round(a, 2)} for d, (n, a) in sorted(by_day.items())]
    metric, skus_query = _sku_metric(filters)
    skus = session.exec(
        select(c.k1, func.sum(c.count), func.sum(c.amount))
        .where(c.metric == metric, c.day >= filters.start, c.day <= filters.end, *skus_query)
        .group_by(c.k1)
        .order_by(func.sum(c.amount).desc())
    ).all()
    return {
        "by_day": days,
        "by_channel": _ranked(by_channel, "channel"),
        "by_country": _ranked(by_country, "country"),
        "by_sku": [{"sku": s, "units": int(n), "revenue": round(a, 2)} for s, n, a in skus],
    }


def _sku_metric(filters: Filters) -> tuple[str, tuple]:
    """SKU counters: per channel when limited to channels, else the smaller per-SKU table."""
    if channels := _channels(filters):
        return "sku_channel", (col(DailyMetric.k2).in_(channels),)
    return "sku", ()


def _ranked(table: dict[str, list], key: str) -> list[dict]:
    return [
        {key: k, "orders": n, "revenue": round(a, 2)} for k, (n, a) in sorted(table.items(), key=lambda kv: -kv[1][1])
    ]


def audit_outcomes(session: Session, filters: Filters, top: int = 10) -> dict[str, Any]:
    """Auto-approval and hold rates, and the rules that held orders most often."""
    c = DailyMetric
    query = select(c.k1, func.sum(c.count)).where(c.metric == "audit", c.day >= filters.start, c.day <= filters.end)
    if channels := _channels(filters):
        query = query.where(col(c.k2).in_(channels))
    outcomes = {action: int(n) for action, n in session.exec(query.group_by(c.k1)).all()}
    total = sum(outcomes.values())
    reasons = session.exec(
        select(c.k1, c.k2, func.sum(c.count))
        .where(c.metric == "hold_reason", c.day >= filters.start, c.day <= filters.end)
        .group_by(c.k1, c.k2)
        .order_by(func.sum(c.count).desc())
        .limit(top)
    ).all()
    return {
        "audited": total,
        "outcomes": outcomes,
        "auto_approval_rate": round(outcomes.get("approve", 0) / total, 4) if total else None,
        "hold_rate": round(outcomes.get("review", 0) / total, 4) if total else None,
        "reject_rate": round(outcomes.get("reject", 0) / total, 4) if total else None,
        "top_reasons": [{"rule": r, "action": a, "orders": int(n)} for r, a, n in reasons],
    }


def funnel(session: Session, filters: Filters) -> list[dict]:
    """How many orders reached each status in the period."""
    from engine.analytics import FUNNEL

    c = DailyMetric
    counts = dict(
        session.exec(
            select(c.k1, func.sum(c.count))
            .where(c.metric == "status", c.day >= filters.start, c.day <= filters.end)
            .group_by(c.k1)
        ).all()
    )
    ordered = [s for s in FUNNEL if s in counts] + sorted(s for s in counts if s not in FUNNEL)
    return [{"status": s, "orders": int(counts[s])} for s in ordered]


def cycle_times(session: Session, filters: Filters) -> list[dict]:
    """p50 and p90 per fulfilment stage, in hours, over the stages completed in the period."""
    c = DailyMetric
    rows = session.exec(
        select(c.k1, c.k2, func.sum(c.count), func.sum(c.amount))
        .where(c.metric == "stage", c.day >= filters.start, c.day <= filters.end)
        .group_by(c.k1, c.k2)
    ).all()
    histograms: dict[str, dict[int, int]] = defaultdict(dict)
    sums: dict[str, float] = defaultdict(float)
    for label, bucket, n, seconds in rows:
        histograms[label][int(bucket)] = int(n)
        sums[label] += seconds
    result = []
    for _, _, label in STAGES:
        histogram = histograms.get(label, {})
        n = sum(histogram.values())
        p50, p90 = percentile(histogram, 0.5), percentile(histogram, 0.9)
        result.append(
            {
                "stage": label,
                "orders": n,
                "p50_hours": None if p50 is None else round(p50 / 3600, 2),
                "p90_hours": None if p90 is None else round(p90 / 3600, 2),
                "mean_hours": round(sums[label] / n / 3600, 2) if n else None,
            }
        )
    return result


def returns(session: Session, filters: Filters, sold: dict[str, int]) -> dict[str, list[dict]]:
    """Returned units per SKU (with the return rate: returned / sold in the range) and per reason."""
    c = DailyMetric
    rows = session.exec(
        select(c.k1, c.k2, func.sum(c.count), func.sum(c.amount))
        .where(c.metric == "return", c.day >= filters.start, c.day <= filters.end)
        .group_by(c.k1, c.k2)
    ).all()
    by_sku: dict[str, list] = defaultdict(lambda: [0, 0.0])
    by_reason: dict[str, list] = defaultdict(lambda: [0, 0.0])
    pairs = []
    for sku, reason, n, value in rows:
        for table, key in ((by_sku, sku), (by_reason, reason)):
            table[key][0] += int(n)
            table[key][1] += value
        pairs.append({"sku": sku, "reason": reason, "units": int(n), "value": round(value, 2)})
    total = sum(n for n, _ in by_reason.values())
    return {
        "by_sku": sorted(
            (
                {
                    "sku": sku,
                    "units_returned": n,
                    "value": round(v, 2),
                    "units_sold": int(sold.get(sku, 0)),
                    "return_rate": round(n / sold[sku], 4) if sold.get(sku) else None,
                }
                for sku, (n, v) in by_sku.items()
            ),
            key=lambda r: (-r["units_returned"], r["sku"]),
        ),
        "by_reason": sorted(
            (
                {"reason": reason, "units": n, "value": round(v, 2), "share": round(n / total, 4) if total else None}
                for reason, (n, v) in by_reason.items()
            ),
            key=lambda r: (-r["units"], r["reason"]),
        ),
        "by_sku_and_reason": sorted(pairs, key=lambda r: (-r["units"], r["sku"], r["reason"])),
    }


def on_time_shipments(session: Session, filters: Filters) -> list[dict]:
    """Per warehouse: parcels shipped in the period and the share that left by the cut-off rule."""
    c = DailyMetric
    query = select(c.k1, c.k2, func.sum(c.count)).where(
        c.metric == "shipment", c.day >= filters.start, c.day <= filters.end
    )
    if filters.warehouses:
        query = query.where(col(c.k1).in_(filters.warehouses))
    rows = session.exec(query.group_by(c.k1, c.k2)).all()
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for warehouse, verdict, n in rows:
        table[warehouse][verdict] = int(n)
    result = []
    for warehouse in sorted(table):
        on_time, late = table[warehouse].get("on_time", 0), table[warehouse].get("late", 0)
        result.append(
            {
                "warehouse": warehouse,
                "parcels": on_time + late,
                "on_time": on_time,
                "on_time_rate": round(on_time / (on_time + late), 4) if on_time + late else None,
            }
        )
    return result


def stock_movers(session: Session, sold: dict[str, int]) -> list[dict]:
    """Per SKU: units sold in the period, stock on hand, turnover (sold / on hand), slowest first."""
    on_hand = dict(session.exec(select(Stock.sku, func.sum(Stock.on_hand)).group_by(Stock.sku)).all())
    names = dict(session.exec(select(Sku.sku, Sku.name)).all())
    rows = []
    for sku in sorted(set(on_hand) | set(sold)):
        units, stock = int(sold.get(sku) or 0), int(on_hand.get(sku) or 0)
        rows.append(
            {
                "sku": sku,
                "name": names.get(sku, ""),
                "units_sold": units,
                "on_hand": stock,
                "turnover": round(units / stock, 2) if stock else None,
            }
        )
    rows.sort(key=lambda r: (r["turnover"] if r["turnover"] is not None else float("inf"), r["sku"]))
    return rows


def forecast(session: Session, filters: Filters, top: list[str], weeks_ahead: int = 4) -> list[dict]:
    """Weekly units of the ``top`` SKUs and Holt's linear-trend forecast for the next weeks."""
    if not top:
        return []
    c = DailyMetric
    metric, extra = _sku_metric(filters)
    rows = session.exec(
        select(col(c.k1), col(c.day), func.sum(c.count))
        .where(c.metric == metric, col(c.k1).in_(top), c.day >= filters.start, c.day <= filters.end, *extra)
        .group_by(col(c.k1), col(c.day))
    ).all()
    weeks = max(1, ((filters.end - filters.start).days + 1) // 7)
    series: dict[str, list[float]] = {s: [0.0] * weeks for s in top}
    for sku, day, n in rows:
        series[sku][min(weeks - 1, (day - filters.start).days // 7)] += n
    return [
        {
            "sku": s,
            "weekly_units": [int(v) for v in series[s]],
            "forecast": [round(v, 1) for v in holt_forecast(series[s], weeks_ahead)],
        }
        for s in top
    ]


def dashboard(session: Session, filters: Filters) -> dict[str, Any]:
    """Every section of the dashboard page (each query reads the day counters of the range).

    For a scoped caller the figures are limited to its channels (and its warehouses' parcels);
    ``scope.withheld`` names the sections that cannot be, left empty, and why.
    """
    hidden = withheld(filters)
    sold = EMPTY["sales"] if "sales" in hidden else sales(session, filters)
    units = {r["sku"]: r["units"] for r in sold["by_sku"]}
    by_units = sorted(sold["by_sku"], key=lambda r: (-r["units"], r["sku"]))
    sections = {
        "sales": lambda: sold,
        "audit": lambda: audit_outcomes(session, filters),
        "funnel": lambda: funnel(session, filters),
        "cycle_times": lambda: cycle_times(session, filters),
        "on_time": lambda: on_time_shipments(session, filters),
        "returns": lambda: returns(session, filters, units),
        "stock": lambda: stock_movers(session, units),
        "forecast": lambda: forecast(session, filters, [r["sku"] for r in by_units[:5]]),
    }
    board: dict[str, Any] = {
        "filters": {
            "from": filters.start.isoformat(),
            "to": filters.end.isoformat(),
            "channel": filters.channel,
            "country": filters.country,
        },
        **{name: EMPTY[name] if name in hidden else make() for name, make in sections.items()},
        "scope": {
            "channels": list(filters.channels),
            "warehouses": list(filters.warehouses),
            "withheld": [{"section": section, "why": why} for section, why in hidden.items()],
        },
    }
    if "audit.top_reasons" in hidden:
        board["audit"] = {**board["audit"], "top_reasons": []}
    return board


def tables(board: dict[str, Any]) -> dict[str, list[dict]]:
    """Every table of the dashboard by name (each is also a CSV download)."""
    forecast_rows = [
        {
            "sku": f["sku"],
            "weekly_units": " ".join(map(str, f["weekly_units"])),
            "forecast_next_weeks": " ".join(map(str, f["forecast"])),
        }
        for f in board["forecast"]
    ]
    outcomes = [{"outcome": k, "orders": v} for k, v in sorted(board["audit"]["outcomes"].items())]
    return {
        "sales_by_day": board["sales"]["by_day"],
        "sales_by_channel": board["sales"]["by_channel"],
        "sales_by_country": board["sales"]["by_country"],
        "sales_by_sku": board["sales"]["by_sku"],
        "audit_outcomes": outcomes,
        "hold_reasons": board["audit"]["top_reasons"],
        "funnel": board["funnel"],
        "cycle_times": board["cycle_times"],
        "on_time_shipments": board["on_time"],
        "returns_by_sku": board["returns"]["by_sku"],
        "returns_by_reason": board["returns"]["by_reason"],
        "returns_by_sku_and_reason": board["returns"]["by_sku_and_reason"],
        "stock_movers": board["stock"],
        "forecast": forecast_rows,
    }
