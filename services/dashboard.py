"""The dashboard's figures: the day counters (``services.analytics``) summed over a range and filters.

Every figure obeys every filter: the date range, the channel and the
destination country (``orders`` and ``unsold`` are keyed by channel and
country, the other counters are kept per slice, see engine/analytics.py).
What cannot obey one is named in ``unfiltered``; what a scoped caller's
scope cannot limit is withheld and named in ``scope.withheld``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from engine.analytics import FUNNEL, STAGES, holt_forecast, percentile, slice_metrics
from engine.forms import FieldError
from oms.models import DailyMetric, Sku, Stock
from services.errors import Invalid
from services.money import currency_of

MAX_DAYS = 3 * 366
DEFAULT_DAYS = 30
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    channel: str | None = None
    country: str | None = None
    # A scoped caller's channels and warehouses: figures are limited to them; what cannot be is
    # withheld (see ``withheld``).
    channels: tuple[str, ...] = ()
    warehouses: tuple[str, ...] = ()


def choose(
    start: date | None, end: date | None, channel: str | None, country: str | None, today: date | None = None
) -> Filters:
    """The filters asked for, defaults filled in (the last 30 UTC days); every mistake named by its field."""
    end = end or today or datetime.now(UTC).date()
    start = start or end - timedelta(days=min(DEFAULT_DAYS - 1, (end - date.min).days))  # (no day before 1 AD)
    channel, country = (channel or "").strip() or None, (country or "").strip().upper() or None
    errors = []
    if start > end:
        errors.append(FieldError("to", f"To ({end}) is before From ({start})"))
    elif (end - start).days >= MAX_DAYS:
        errors.append(FieldError("from", f"The range from {start} to {end} is longer than {MAX_DAYS} days"))
    if channel is not None and not CHANNEL_NAME.match(channel):
        errors.append(FieldError("channel", f"{channel!r} is not a channel name"))
    if country is not None and not COUNTRY_CODE.match(country):
        errors.append(FieldError("country", f"{country!r} is not a country code (two letters, like FR)"))
    if errors:
        raise Invalid("bad_filter", "; ".join(e.message for e in errors), field=errors[0].field, details=errors)
    return Filters(start, end, channel, country)


# Warehouses key only the parcels: what a warehouse scope cannot limit is withheld, section by section
# and with the reason, rather than shown for every warehouse. (A channel scope limits every figure.)
WITHHELD_FOR_WAREHOUSES = {
    "sales": "sales are counted per channel and country, not per warehouse",
    "audit": "audit outcomes are counted per channel and country, not per warehouse",
    "funnel": "statuses reached are counted per channel and country, not per warehouse",
    "cycle_times": "cycle times are counted per channel and country, not per warehouse",
    "returns": "returns are counted per channel and country, not per warehouse",
    "stock": "units sold are counted per channel and country, not per warehouse",
    "forecast": "units sold are counted per channel and country, not per warehouse",
}
# Figures that cannot obey a filter, and why (shown beside them).
UNFILTERED = {
    "stock.on_hand": "on hand is today's stock over all warehouses, whatever the dates, channel and country "
    "(the units sold beside it obey every filter)",
}
EMPTY: dict[str, Any] = {
    "sales": {
        "totals": {"orders": 0, "units": 0, "revenue": 0.0, "unsold_orders": 0, "unsold_value": 0.0},
        "by_day": [],
        "by_channel": [],
        "by_country": [],
        "by_sku": [],
    },
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
    """The sections a scoped caller does not get, with why."""
    return dict(WITHHELD_FOR_WAREHOUSES) if filters.warehouses else {}


def _channels(filters: Filters) -> tuple[str, ...]:
    """The channels the figures are limited to: the filter's one, else the caller's (empty: all)."""
    return (filters.channel,) if filters.channel else filters.channels


def _where(metric: str, filters: Filters) -> tuple[ColumnElement[bool], ...]:
    """A sliced counter's rows for the filters: its slices (read through the index) in the range."""
    c = DailyMetric
    names = slice_metrics(metric, _channels(filters), filters.country)
    return col(c.metric).in_(names), col(c.day) >= filters.start, col(c.day) <= filters.end


def _keyed(metric: str, filters: Filters) -> tuple[ColumnElement[bool], ...]:
    """Rows of a counter keyed by channel (k1) and country (k2) for the filters."""
    c = DailyMetric
    where = [col(c.metric) == metric, col(c.day) >= filters.start, col(c.day) <= filters.end]
    if channels := _channels(filters):
        where.append(col(c.k1).in_(channels))
    if filters.country:
        where.append(col(c.k2) == filters.country)
    return tuple(where)


def sales(session: Session, filters: Filters) -> dict[str, Any]:
    """Orders sold, their revenue (order totals) and units, by day, channel, country and SKU.

    An order counts on its capture day unless it ended unsold (rejected, cancelled, out of stock):
    those are in ``totals.unsold_*`` only."""
    c = DailyMetric
    # The ignore: sqlmodel types select() for at most four columns.
    rows = session.exec(select(c.day, c.k1, c.k2, c.count, c.amount).where(*_keyed("orders", filters))).all()  # type: ignore[call-overload]
    by_day: dict[date, list] = defaultdict(lambda: [0, 0.0])
    by_channel: dict[str, list] = defaultdict(lambda: [0, 0.0])
    by_country: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for day, channel, country, n, amount in rows:
        for table, key in ((by_day, day), (by_channel, channel), (by_country, country)):
            table[key][0] += n
            table[key][1] += amount
    skus = session.exec(
        select(c.k1, func.sum(c.count), func.sum(c.amount))
        .where(*_where("sku", filters))
        .group_by(c.k1)
        .having(func.sum(c.count) != 0)
        .order_by(func.sum(c.amount).desc(), c.k1)
    ).all()
    unsold = session.exec(select(func.sum(c.count), func.sum(c.amount)).where(*_keyed("unsold", filters))).one()
    by_sku = [{"sku": s, "units": int(n), "revenue": round(a, 2)} for s, n, a in skus]
    days = [{"day": d.isoformat(), "orders": n, "revenue": round(a, 2)} for d, (n, a) in sorted(by_day.items()) if n]
    return {
        "totals": {
            "orders": sum(n for n, _ in by_day.values()),
            "units": sum(r["units"] for r in by_sku),
            "revenue": round(sum(a for _, a in by_day.values()), 2),
            "unsold_orders": int(unsold[0] or 0),
            "unsold_value": round(unsold[1] or 0, 2),
        },
        "by_day": days,
        "by_channel": _ranked(by_channel, "channel"),
        "by_country": _ranked(by_country, "country"),
        "by_sku": by_sku,
    }


def _ranked(table: dict[str, list], key: str) -> list[dict]:
    return [
        {key: k, "orders": n, "revenue": round(a, 2)}
        for k, (n, a) in sorted(table.items(), key=lambda kv: (-kv[1][1], kv[0]))
        if n
    ]


def audit_outcomes(session: Session, filters: Filters, top: int = 10) -> dict[str, Any]:
    """Auto-approval and hold rates of the orders captured in the range, and the rules that held most."""
    c = DailyMetric
    counted = session.exec(select(c.k1, func.sum(c.count)).where(*_where("audit", filters)).group_by(c.k1)).all()
    outcomes = {action: int(n) for action, n in counted if n}
    total = sum(outcomes.values())
    reasons = session.exec(
        select(c.k1, c.k2, func.sum(c.count))
        .where(*_where("hold_reason", filters))
        .group_by(c.k1, c.k2)
        .order_by(func.sum(c.count).desc(), c.k1)
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
    """How many orders reached each status in the range (``received``: captured)."""
    c = DailyMetric
    counts = dict(session.exec(select(c.k1, func.sum(c.count)).where(*_where("status", filters)).group_by(c.k1)).all())
    ordered = [s for s in FUNNEL if s in counts] + sorted(s for s in counts if s not in FUNNEL)
    return [{"status": s, "orders": int(counts[s])} for s in ordered]


def cycle_times(session: Session, filters: Filters) -> list[dict]:
    """p50 and p90 per fulfilment stage (hours, and seconds) over the stages completed in the range."""
    c = DailyMetric
    rows = session.exec(
        select(c.k1, c.k2, func.sum(c.count), func.sum(c.amount)).where(*_where("stage", filters)).group_by(c.k1, c.k2)
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
        mean = sums[label] / n if n else None
        result.append(
            {
                "stage": label,
                "orders": n,
                "p50_hours": None if p50 is None else round(p50 / 3600, 2),
                "p90_hours": None if p90 is None else round(p90 / 3600, 2),
                "mean_hours": None if mean is None else round(mean / 3600, 2),
                "p50_seconds": None if p50 is None else round(p50, 1),
                "p90_seconds": None if p90 is None else round(p90, 1),
                "mean_seconds": None if mean is None else round(mean, 1),
            }
        )
    return result


def returns(session: Session, filters: Filters, sold: dict[str, int]) -> dict[str, list[dict]]:
    """Returned units per SKU (with the return rate: returned / sold in the range) and per reason."""
    c = DailyMetric
    rows = session.exec(
        select(c.k1, c.k2, func.sum(c.count), func.sum(c.amount)).where(*_where("return", filters)).group_by(c.k1, c.k2)
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
    """Per warehouse: parcels shipped in the range and the share that left by the cut-off rule."""
    c = DailyMetric
    query = select(c.k1, c.k2, func.sum(c.count)).where(*_where("shipment", filters))
    if filters.warehouses:
        query = query.where(col(c.k1).in_(filters.warehouses))
    table: dict[str, dict[str, int]] = defaultdict(dict)
    for warehouse, verdict, n in session.exec(query.group_by(c.k1, c.k2)).all():
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
    """Per SKU: units sold in the range, stock on hand now, turnover (sold / on hand), slowest first."""
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
    rows = session.exec(
        select(col(c.k1), col(c.day), func.sum(c.count))
        .where(*_where("sku", filters), col(c.k1).in_(top))
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
    return {
        "filters": {
            "from": filters.start.isoformat(),
            "to": filters.end.isoformat(),
            "channel": filters.channel,
            "country": filters.country,
        },
        "currency": currency_of(None),
        **{name: EMPTY[name] if name in hidden else make() for name, make in sections.items()},
        "unfiltered": [{"figure": figure, "why": why} for figure, why in UNFILTERED.items()],
        "scope": {
            "channels": list(filters.channels),
            "warehouses": list(filters.warehouses),
            "withheld": [{"section": section, "why": why} for section, why in hidden.items()],
        },
    }


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
