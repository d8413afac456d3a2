"""Prometheus metrics of the web process, served at /metrics.

Counters and histograms are updated where things happen (intake); gauges
about the business (orders by status, open tasks by age) are read from the
read model when Prometheus scrapes, so every web process reports the same
figures and nothing has to be kept in step. Workers serve the Temporal SDK's
workflow and activity metrics on their own address (``OMS_WORKER_METRICS``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import Session, select

from oms.db import get_read_engine
from oms.models import Order, StockAlert, Task

log = logging.getLogger("oms.metrics")

REGISTRY = CollectorRegistry()

INTAKE_ORDERS = Counter(
    "oms_intake_orders",
    "Orders received by intake, by channel and outcome (created, existing, rejected, busy)",
    ["channel", "outcome"],
    registry=REGISTRY,
)
INTAKE_SECONDS = Histogram(
    "oms_intake_seconds",
    "Time intake takes to answer an order (validation, storing; not the workflow start)",
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# Open tasks are counted in these age bands (upper bounds in seconds).
TASK_AGE_BANDS = ((3600, "under_1h"), (4 * 3600, "1h_to_4h"), (24 * 3600, "4h_to_24h"), (float("inf"), "over_24h"))


class ReadModelCollector(Collector):
    """Gauges computed from the read model at scrape time."""

    def __init__(self, extra: list[Callable[[Session], Iterator[GaugeMetricFamily]]] | None = None) -> None:
        self.extra = extra or []

    def describe(self) -> list:
        return []  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with Session(get_read_engine()) as session:
                yield from _orders_by_status(session)
                yield from _open_tasks(session)
                yield from _stock_alerts(session)
                for more in self.extra:
                    yield from more(session)
        except Exception:  # a scrape must not fail because the database hiccuped
            log.exception("read-model metrics unavailable")


def _stock_alerts(session: Session) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily("oms_stock_alerts_open", "Open low-stock alerts by SKU", labels=["sku"])
    for sku, count in session.exec(
        select(StockAlert.sku, func.count()).where(StockAlert.status == "open").group_by(StockAlert.sku)
    ).all():
        family.add_metric([sku], count)
    yield family


def _orders_by_status(session: Session) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily("oms_orders", "Orders in the read model by status", labels=["status"])
    for status, count in session.exec(select(Order.status, func.count()).group_by(Order.status)).all():
        family.add_metric([status], count)
    yield family


def _open_tasks(session: Session) -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily("oms_open_tasks", "Open human tasks by role and age band", labels=["role", "age"])
    oldest = GaugeMetricFamily("oms_open_task_oldest_seconds", "Age of the oldest open task by role", labels=["role"])
    now = datetime.now(UTC)
    counts: dict[tuple[str, str], int] = {}
    ages: dict[str, float] = {}
    for role, created_at in session.exec(select(Task.role, Task.created_at).where(Task.status == "open")).all():
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        age = (now - created_at).total_seconds()
        band = next(name for limit, name in TASK_AGE_BANDS if age < limit)
        counts[(role, band)] = counts.get((role, band), 0) + 1
        ages[role] = max(ages.get(role, 0.0), age)
    for (role, band), count in sorted(counts.items()):
        family.add_metric([role, band], count)
    for role, age in sorted(ages.items()):
        oldest.add_metric([role], age)
    yield family
    yield oldest


_collector = ReadModelCollector()
REGISTRY.register(_collector)

WAITING_STARTS = Gauge(
    "oms_intake_waiting_workflow_start",
    "Accepted orders whose workflow start is not confirmed yet",
    registry=REGISTRY,
)


def add_read_model_gauges(source: Callable[[Session], Iterator[GaugeMetricFamily]]) -> None:
    """Another module's scrape-time gauges (stock alerts, ...)."""
    _collector.extra.append(source)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
