"""What the dashboard counts, decided without I/O.

The read model keeps daily counters (``daily_metrics``: day, metric, two
keys, a count and an amount) that grow as orders move; the dashboard sums
them over a date range, so its queries cost the same at a thousand orders
as at a million. This module says which counters an order's capture and
each status it reaches add, and turns counted durations back into
percentiles.

Every figure obeys the dashboard's filters (channel, destination country):
``orders`` and ``unsold`` are keyed by both; every other counter is kept once
per slice of the order (all orders, its channel, its country, both), the
slice in the metric's name, so a filtered query reads only its own rows.

Durations are counted in geometric buckets (each 1.25 times the last, from
one second), so a percentile read from them is within 12.5 % of the exact
value: plenty for "approved to shipped, p90" and independent of volume.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

# Stages of fulfilment, as (from status, to status, label). "received" is the
# capture itself (the order's creation time).
STAGES: tuple[tuple[str, str, str], ...] = (
    ("received", "reserved", "capture to approved"),
    ("reserved", "shipped", "approved to shipped"),
    ("shipped", "delivered", "shipped to delivered"),
)
# Statuses counted in the funnel, in the order an order reaches them.
FUNNEL = ("received", "audited", "on_hold", "reserved", "paid", "shipped", "delivered", "completed")

# An order that ends in one of these was no sale: its revenue and units leave the sales figures
# (``out_of_stock`` is the flow's cancellation for want of stock).
UNSOLD = ("rejected", "cancelled", "out_of_stock")

BUCKET_BASE = 1.25


@dataclass(frozen=True)
class Increment:
    """Add ``count`` and ``amount`` to the counter (day, metric, k1, k2)."""

    metric: str
    k1: str = ""
    k2: str = ""
    count: int = 1
    amount: float = 0.0


def bucket_of(seconds: float) -> int:
    """The bucket of a duration: 0 for up to a second, then one per factor of 1.25."""
    if seconds <= 1:
        return 0
    return math.ceil(math.log(seconds, BUCKET_BASE))


def bucket_upper(bucket: int) -> float:
    return BUCKET_BASE**bucket


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-th quantile (0 < q < 1) of counted durations, interpolated inside its bucket."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if seen + count >= rank:
            low = 0.0 if bucket == 0 else bucket_upper(bucket - 1)
            high = bucket_upper(bucket)
            return low + (high - low) * ((rank - seen) / count)
        seen += count
    return bucket_upper(max(histogram))


def segment_of(order: Mapping[str, Any]) -> tuple[str, str]:
    """The order's channel and destination country: the filters every figure obeys."""
    return str(order.get("channel", "")), str((order.get("shipping_address") or {}).get("country", ""))


def slices(channel: str, country: str) -> tuple[str, ...]:
    """The slices an order's counters are added to: every order, its channel, its country, both."""
    return ("", f"c={channel}", f"n={country}", f"c={channel},n={country}")


def sliced(increments: Iterable[Increment], channel: str, country: str) -> list[Increment]:
    """Each counter once per slice of the order (``status`` in the slice ``c=web`` is ``status|c=web``).

    A filtered figure then reads its own slice through the counters' index, as cheaply as the
    unfiltered one reads the whole: the cost of a query never grows with the filters."""
    return [
        replace(inc, metric=f"{inc.metric}|{part}" if part else inc.metric)
        for inc in increments
        for part in slices(channel, country)
    ]


def slice_metrics(metric: str, channels: Sequence[str], country: str | None) -> list[str]:
    """The counters to read for the orders of any of ``channels`` (none: every channel) to ``country``."""
    if channels and country:
        return [f"{metric}|c={channel},n={country}" for channel in channels]
    if channels:
        return [f"{metric}|c={channel}" for channel in channels]
    if country:
        return [f"{metric}|n={country}"]
    return [metric]


def capture_increments(order: Mapping[str, Any], action: str, fired: Iterable[Mapping[str, Any]]) -> list[Increment]:
    """Counters of an order's capture and first audit: the sale, its lines by SKU, the audit's outcome.

    ``orders`` is keyed by channel and country itself; the others are counted once per slice."""
    channel, country = segment_of(order)
    counted = [Increment("status", "received")]
    for line in order.get("lines") or []:
        qty, sku = int(line.get("qty") or 0), str(line.get("sku", ""))
        counted.append(Increment("sku", sku, "", qty, qty * float(line.get("price") or 0)))
    counted.append(Increment("audit", action))
    if action != "approve":
        for rule in fired:
            if rule.get("action") == action:
                counted.append(Increment("hold_reason", str(rule.get("rule", "")), action))
    return [
        Increment("orders", channel, country, 1, float(order.get("total") or 0)),
        *sliced(counted, channel, country),
    ]


def unsold_increments(order: Mapping[str, Any], channel: str, country: str) -> list[Increment]:
    """Counters of an order that ended unsold (see ``UNSOLD``), added on its capture day: its sale taken
    back from ``orders`` and its SKUs, and counted under ``unsold`` instead."""
    total = float(order.get("total") or 0)
    lines = [
        Increment("sku", str(line.get("sku", "")), "", -qty, -qty * float(line.get("price") or 0))
        for line in order.get("lines") or []
        if (qty := int(line.get("qty") or 0))
    ]
    return [
        Increment("orders", channel, country, -1, -total),
        Increment("unsold", channel, country, 1, total),
        *sliced(lines, channel, country),
    ]


def return_increments(lines: Iterable[Mapping[str, Any]], reason: str) -> list[Increment]:
    """Counters of a return request: units and value per SKU and reason."""
    return [
        Increment("return", str(line["sku"]), reason, int(line["qty"]), int(line["qty"]) * float(line["price"]))
        for line in lines
    ]


def status_increments(
    status: str, at: datetime, created_at: datetime, milestones: Mapping[str, str]
) -> list[Increment]:
    """Counters for an order reaching ``status`` for the first time (milestones: status -> ISO time)."""
    increments = [Increment("status", status)]
    for start, end, label in STAGES:
        if end != status:
            continue
        began = created_at if start == "received" else _parse(milestones.get(start))
        if began is None:
            continue
        seconds = max(0.0, (at - began).total_seconds())
        increments.append(Increment("stage", label, str(bucket_of(seconds)), 1, seconds))
    return increments


def shipped_on_time(ready: datetime, shipped: datetime, cutoff: str) -> bool:
    """Ready to ship before the warehouse's cut-off (HH:MM, UTC): out the same day; after it: the next day."""
    hours, _, minutes = cutoff.partition(":")
    cut = ready.replace(hour=int(hours), minute=int(minutes or 0), second=0, microsecond=0)
    due_day = ready.date() if ready <= cut else ready.date() + timedelta(days=1)
    return shipped.date() <= due_day


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def holt_forecast(series: list[float], horizon: int, alpha: float = 0.5, beta: float = 0.3) -> list[float]:
    """Holt's linear trend method (double exponential smoothing): the next ``horizon`` values.

    Level and trend are smoothed with ``alpha`` and ``beta``; forecasts are
    never below zero (units sold).
    """
    if not series:
        return [0.0] * horizon
    if len(series) == 1:
        return [max(0.0, series[0])] * horizon
    level, trend = series[0], series[1] - series[0]
    for value in series[1:]:
        previous = level
        level = alpha * value + (1 - alpha) * (level + trend)
        trend = beta * (level - previous) + (1 - beta) * trend
    return [max(0.0, level + (step + 1) * trend) for step in range(horizon)]
