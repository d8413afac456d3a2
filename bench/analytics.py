"""Dashboard query time at a million orders, on SQLite and PostgreSQL.

Generates ``--orders`` orders spread over a year (channels, countries, SKUs,
audit outcomes, fulfilment times drawn from a seeded generator), stores them
in the ``orders`` table and their dashboard counters in ``daily_metrics``,
exactly as ``services.analytics.observe`` would have counted them (the same pure
functions from ``engine/analytics.py``), then times the dashboard
(``services.analytics.dashboard``: every section the page shows) for several date
ranges and filters. Target: under a second at 1,000,000 orders.

    .venv/bin/python bench/analytics.py                      # SQLite and PostgreSQL, 1,000,000 orders
    .venv/bin/python bench/analytics.py --orders 100000 --db sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from engine.analytics import (  # noqa: E402
    Increment,  # noqa: E402
    capture_increments,
    status_increments,
)
from oms.models import DailyMetric, Order, Sku, Stock, Warehouse  # noqa: E402
from services import analytics  # noqa: E402

PG_ADMIN = os.environ.get("OMS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
CHANNELS = {"web": 0.55, "marketplace": 0.25, "store": 0.12, "phone": 0.08}
COUNTRIES = {"DE": 0.4, "FR": 0.2, "NL": 0.1, "BE": 0.06, "AT": 0.06, "GB": 0.08, "US": 0.1}
SKUS = [(f"SKU-{i:03d}", round(5 + (i * 7.3) % 300, 2)) for i in range(200)]
END = date(2026, 11, 20)
DAYS = 365


def _pick(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def generate(count: int, seed: int) -> tuple[list[dict], dict]:
    """(order rows, counters) for ``count`` orders over a year."""
    rng = random.Random(seed)
    weights = [1 + 0.5 * ((i * 37) % 11) / 10 for i in range(len(SKUS))]
    orders: list[dict] = []
    counters: dict[tuple, list] = defaultdict(lambda: [0, 0.0])

    def add(day: date, increments) -> None:
        for inc in increments:
            slot = counters[(day, inc.metric, inc.k1, inc.k2)]
            slot[0] += inc.count
            slot[1] += inc.amount

    start = datetime.combine(END - timedelta(days=DAYS - 1), datetime.min.time(), tzinfo=timezone.utc)
    for i in range(count):
        created = start + timedelta(seconds=rng.random() * DAYS * 86400)
        channel, country = _pick(rng, CHANNELS), _pick(rng, COUNTRIES)
        lines = []
        for _ in range(1 + int(rng.random() ** 3 * 4)):
            sku, price = rng.choices(SKUS, weights=weights)[0]
            lines.append({"sku": sku, "qty": 1 + int(rng.random() ** 4 * 5), "price": price})
        total = round(sum(l["qty"] * l["price"] for l in lines), 2)
        document = {"channel": channel, "shipping_address": {"country": country}, "lines": lines, "total": total}
        roll = rng.random()
        action = "approve" if roll < 0.95 else "review" if roll < 0.99 else "reject"
        fired = [] if action == "approve" else [{"rule": rng.choice(["new_address_high_value", "ip_velocity",
                                                                      "undeliverable_address", "b2b_credit"]),
                                                 "action": action}]
        add(created.date(), capture_increments(document, action, fired))
        add(created.date(), [Increment("status", "received")])
        milestones: dict[str, str] = {}
        at = created
        status = "rejected"
        if action != "reject":
            path = [("audited", 2)] + ([("on_hold", 5)] if action == "review" else []) + [
                ("reserved", 30 + (action == "review") * rng.expovariate(1 / 7200)),
                ("shipped", rng.expovariate(1 / 20000) + 3600),
                ("delivered", rng.expovariate(1 / 100000) + 43200),
            ]
            for status, seconds in path:
                at = at + timedelta(seconds=seconds)
                if at.date() > END:
                    break
                milestones[status] = at.isoformat()
                add(at.date(), status_increments(status, at, created, milestones))
        orders.append({
            "id": f"ord_{i:012d}", "channel": channel, "external_id": f"B-{i}", "workflow_id": f"order-{channel}-B-{i}",
            "workflow_started": True, "status": status, "flow_name": "order", "flow_version": 1,
            "customer_type": "consumer", "address_key": f"{i % 50000:032d}", "tags": [], "milestones": milestones,
            "total": total, "document": document, "created_at": created, "updated_at": at,
        })
    return orders, counters


def _pg_database() -> tuple[str, callable]:
    name = f"oms_bench_analytics_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", drop


def load(url: str, orders: list[dict], counters: dict) -> dict[str, float]:
    engine = create_engine(url)
    SQLModel.metadata.create_all(engine)
    timings = {}
    began = time.perf_counter()
    with Session(engine) as session:
        session.add_all([Warehouse(code="BER", name="Berlin", region="eu", country="DE")])
        session.add_all([Sku(sku=s, name=s, price=p) for s, p in SKUS])
        session.flush()
        session.add_all([Stock(warehouse="BER", sku=s, on_hand=100 + i * 3) for i, (s, _) in enumerate(SKUS)])
        session.commit()
    table = Order.__table__
    with engine.begin() as connection:
        for start in range(0, len(orders), 20000):
            connection.execute(insert(table), orders[start:start + 20000])
    timings["orders_loaded_s"] = round(time.perf_counter() - began, 1)
    began = time.perf_counter()
    rows = [{"day": d, "metric": m, "k1": k1, "k2": k2, "count": c, "amount": a}
            for (d, m, k1, k2), (c, a) in counters.items()]
    with engine.begin() as connection:
        for start in range(0, len(rows), 20000):
            connection.execute(insert(DailyMetric), rows[start:start + 20000])
        connection.execute(text("ANALYZE"))
    timings["counters_loaded_s"] = round(time.perf_counter() - began, 1)
    timings["counter_rows"] = len(rows)
    engine.dispose()
    return timings


SCENARIOS = {
    "whole year": dict(start=END - timedelta(days=DAYS - 1), end=END),
    "last 30 days": dict(start=END - timedelta(days=29), end=END),
    "whole year, channel web": dict(start=END - timedelta(days=DAYS - 1), end=END, channel="web"),
    "last 90 days, country FR": dict(start=END - timedelta(days=89), end=END, country="FR"),
}


def time_dashboard(url: str, repeats: int) -> dict[str, dict]:
    engine = create_engine(url)
    results = {}
    with Session(engine) as session:
        for name, params in SCENARIOS.items():
            filters = analytics.Filters(**params)
            analytics.dashboard(session, filters)  # warm: connection, statement cache
            samples = []
            for _ in range(repeats):
                began = time.perf_counter()
                board = analytics.dashboard(session, filters)
                samples.append(time.perf_counter() - began)
            results[name] = {"median_ms": round(statistics.median(samples) * 1000, 1),
                             "max_ms": round(max(samples) * 1000, 1),
                             "orders_in_range": sum(d["orders"] for d in board["sales"]["by_day"])}
    engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()

    began = time.perf_counter()
    orders, counters = generate(args.orders, args.seed)
    print(f"generated {len(orders):,} orders over {DAYS} days in {time.perf_counter() - began:.0f}s", flush=True)
    report = {"orders": len(orders), "days": DAYS, "databases": {}}
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        folder = tempfile.mkdtemp(prefix="oms-bench-analytics-")
        url, drop = (f"sqlite:///{folder}/bench.db", lambda: None) if kind == "sqlite" else _pg_database()
        try:
            loaded = load(url, orders, counters)
            print(f"{kind}: loaded {loaded}", flush=True)
            timed = time_dashboard(url, args.repeats)
        finally:
            drop()
            shutil.rmtree(folder, ignore_errors=True)
        report["databases"][kind] = {"load": loaded, "dashboard": timed}
        for name, figures in timed.items():
            verdict = "MET" if figures["max_ms"] < 1000 else "MISSED"
            print(f"  {kind:10s} {name:28s} median {figures['median_ms']:7.1f} ms  max {figures['max_ms']:7.1f} ms  "
                  f"({figures['orders_in_range']:,} orders in range)  {verdict} (< 1 s)")
    out = ROOT / "bench" / "results" / "analytics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
