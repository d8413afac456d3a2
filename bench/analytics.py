"""Dashboard query time at a million orders, on SQLite and PostgreSQL.

Writes ``--orders`` generated orders over a year and their day counters, as ``services.analytics.observe``
counts them (the functions of engine/analytics.py), then times ``services.dashboard.dashboard`` (every
section) for five ranges and filters, ``--repeats`` times each after a warm-up. Target: under 1 s at 1M orders.

    .venv/bin/python -m bench.analytics                                # 1,000,000 orders, SQLite and PostgreSQL
    .venv/bin/python -m bench.analytics --orders 100000 --db sqlite
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from bench import harness

CHANNELS = {"web": 0.55, "marketplace": 0.25, "store": 0.12, "phone": 0.08}
COUNTRIES = {"DE": 0.4, "FR": 0.2, "NL": 0.1, "BE": 0.06, "AT": 0.06, "GB": 0.08, "US": 0.1}
SKUS = [(f"SKU-{i:03d}", round(5 + (i * 7.3) % 300, 2)) for i in range(200)]
RULES = ["new_address_high_value", "ip_velocity", "undeliverable_address", "b2b_credit"]
END, DAYS = date(2026, 11, 20), 365
SCENARIOS = {
    "whole year": {"start": END - timedelta(days=DAYS - 1)},
    "last 30 days": {"start": END - timedelta(days=29)},
    "whole year, channel web": {"start": END - timedelta(days=DAYS - 1), "channel": "web"},
    "last 90 days, country FR": {"start": END - timedelta(days=89), "country": "FR"},
    "whole year, channel web, country FR": {"start": END - timedelta(days=DAYS - 1), "channel": "web", "country": "FR"},
}
COUNTER = ("day", "metric", "k1", "k2", "count", "amount")
ROW = dict(workflow_started=True, flow_name="order", flow_version=1, customer_type="consumer", tags=[], pins=[])


def generate(count: int, seed: int) -> tuple[list[dict], dict]:
    """(order rows, day counters) for ``count`` orders over a year."""
    from engine.analytics import capture_increments, sliced, status_increments, unsold_increments

    rng, counters = random.Random(seed), defaultdict(lambda: [0, 0.0])
    pick = lambda mix: rng.choices(list(mix), weights=list(mix.values()))[0]  # noqa: E731
    weights, orders = [1 + 0.5 * ((i * 37) % 11) / 10 for i in range(len(SKUS))], []

    def add(day: date, increments) -> None:
        for inc in increments:
            slot = counters[(day, inc.metric, inc.k1, inc.k2)]
            slot[0], slot[1] = slot[0] + inc.count, slot[1] + inc.amount

    start = datetime.combine(END - timedelta(days=DAYS - 1), datetime.min.time(), tzinfo=UTC)
    for i in range(count):
        created = start + timedelta(seconds=rng.random() * DAYS * 86400)
        channel, country = pick(CHANNELS), pick(COUNTRIES)
        drawn = (rng.choices(SKUS, weights=weights)[0] for _ in range(1 + int(rng.random() ** 3 * 4)))
        lines = [{"sku": sku, "qty": 1 + int(rng.random() ** 4 * 5), "price": price} for sku, price in drawn]
        total = round(sum(line["qty"] * line["price"] for line in lines), 2)
        document = {"channel": channel, "shipping_address": {"country": country}, "lines": lines, "total": total}
        roll = rng.random()
        action = "approve" if roll < 0.95 else "review" if roll < 0.99 else "reject"
        fired = [] if action == "approve" else [{"rule": rng.choice(RULES), "action": action}]
        add(created.date(), capture_increments(document, action, fired))
        milestones, at, status = {}, created, "rejected"
        if action != "reject":
            path = [("audited", 2)] + ([("on_hold", 5)] if action == "review" else [])
            path += [("reserved", 30 + (action == "review") * rng.expovariate(1 / 7200))]
            path += [("shipped", rng.expovariate(1 / 20000) + 3600), ("delivered", rng.expovariate(1e-5) + 43200)]
            for status, seconds in path:
                at = at + timedelta(seconds=seconds)
                if at.date() > END:
                    break
                milestones[status] = at.isoformat()
                add(at.date(), sliced(status_increments(status, at, created, milestones), channel, country))
        else:
            milestones[status] = at.isoformat()
            ended = sliced(status_increments(status, at, created, milestones), channel, country)
            add(created.date(), [*ended, *unsold_increments(document, channel, country)])
        keys = dict(id=f"ord_{i:012d}", external_id=f"B-{i}", workflow_id=f"order-{channel}-B-{i}", channel=channel)
        values = {"status": status, "milestones": milestones, "total": total, "document": document}
        times = {"address_key": f"{i % 50000:032d}", "created_at": created, "updated_at": at}
        orders.append(ROW | keys | values | times)
    return orders, counters


def load(url: str, orders: list[dict], counters: dict) -> dict[str, float]:
    from sqlalchemy import create_engine, insert, text
    from sqlmodel import Session, SQLModel

    from oms.models import DailyMetric, Order, Sku, Stock, Warehouse

    engine, began, timings = create_engine(url), time.perf_counter(), {}
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Warehouse(code="BER", name="Berlin", region="eu", country="DE"))
        session.add_all([Sku(sku=s, name=s, price=p) for s, p in SKUS])
        session.flush()
        session.add_all([Stock(warehouse="BER", sku=s, on_hand=100 + i * 3) for i, (s, _) in enumerate(SKUS)])
        session.commit()
    rows = [dict(zip(COUNTER, (*k, *v), strict=True)) for k, v in counters.items()]
    for name, table, batch in (("orders", Order.__table__, orders), ("counters", DailyMetric, rows)):
        with engine.begin() as connection:
            for start in range(0, len(batch), 20000):
                connection.execute(insert(table), batch[start : start + 20000])
            if table is DailyMetric and engine.dialect.name == "sqlite":
                connection.execute(text("ANALYZE"))
        if table is DailyMetric and engine.dialect.name == "postgresql":
            # The steady state autovacuum keeps: past days' pages all-visible, so the covering index
            # answers alone (a freshly loaded table would send every row read to the heap).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE daily_metrics"))
        timings[f"{name} loaded (s)"], began = round(time.perf_counter() - began, 1), time.perf_counter()
    engine.dispose()
    return timings | {"counter rows": len(rows)}


def time_dashboard(url: str, repeats: int) -> dict[str, dict]:
    from sqlalchemy import create_engine
    from sqlmodel import Session

    from services import dashboard

    engine, results = create_engine(url), {}
    with Session(engine) as session:
        for name, params in SCENARIOS.items():
            filters = dashboard.Filters(end=END, **params)
            dashboard.dashboard(session, filters)  # warm: connection, statement cache
            samples = []
            for _ in range(repeats):
                began = time.perf_counter()
                board = dashboard.dashboard(session, filters)
                samples.append(time.perf_counter() - began)
            in_range = sum(d["orders"] for d in board["sales"]["by_day"])
            median, slowest = round(statistics.median(samples) * 1000, 1), round(max(samples) * 1000, 1)
            results[name] = {"median ms": median, "max ms": slowest, "orders in range": in_range}
    engine.dispose()
    return results


def main() -> int:
    args = harness.arguments(__doc__, orders=1_000_000, db=("both", "sqlite", "postgresql"), repeats=5, seed=20261122)
    began = time.perf_counter()
    orders, counters = generate(args.orders, args.seed)
    print(f"generated {len(orders):,} orders over {DAYS} days in {time.perf_counter() - began:.0f}s", flush=True)
    figures, verdicts = {}, []
    for kind in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        with harness.temporary_database(kind) as url:
            figures[f"{kind} load"] = load(url, orders, counters)
            print(f"{kind}: loaded {figures[f'{kind} load']}", flush=True)
            figures[kind] = time_dashboard(url, args.repeats)
        verdicts += [(f"{kind}, {name}: under 1 s", f["max ms"] < 1000) for name, f in figures[kind].items()]
    return harness.report(f"analytics: the dashboard over {args.orders:,} orders", figures, verdicts)


if __name__ == "__main__":
    harness.run(main)
