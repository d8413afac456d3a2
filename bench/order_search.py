"""Order search at scale: p50/p95 of each kind of order-list query on SQLite and PostgreSQL.

Generates --orders orders (bulk inserts: orders, their search keys, one reservation each),
migrates to head, ANALYZEs, then runs each query type --repeat times through
services.orders.search (the code behind /orders and GET /api/orders).

    .venv/bin/python -m bench.order_search --orders 1000000
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text
from sqlmodel import Session

from bench.harness import app_database, arguments, report, run, spread

SKUS = [f"SKU-{i:04d}" for i in range(2000)]
FIRST = ["anna", "ben", "chloé", "david", "emma", "felix", "greta", "hugo", "ida", "jonas", "lena", "max"]
LAST = [f"{a}{b}" for a in ("berg", "stein", "feld", "mann", "hof") for b in ("er", "ling", "ner", "son", "ke", "")]
STATUSES = ["completed"] * 80 + ["awaiting_payment"] * 8 + ["shipped"] * 8 + ["on_hold"] * 2 + ["shipping_problem"]
CHANNELS, WAREHOUSES = ["web", "shop", "market", "phone"], ["BER", "MUC", "HAM"]
NOW = datetime.now(UTC)
ORDER_COLUMNS = ("id", "channel", "external_id", "workflow_id", "status", "phone", "tags", "total", "document")
CONSTANT = {"workflow_started": True, "flow_name": "order", "flow_version": 1, "milestones": {}, "pins": []}
MOVE = {"line_no": 1, "operation": "reserve", "qty": 1, "reason": "", "part": 0, "cycle": 0}


def person(i: int) -> tuple[str, str, str]:
    name = f"{FIRST[i % len(FIRST)]} {LAST[(i // 7) % len(LAST)]}{i % 9973}"
    return name, f"{name.replace(' ', '.')}@example.com", f"+49170{i:08d}"


def generate(session: Session, total: int, batch: int = 20_000) -> float:
    """Insert ``total`` orders with their keys and one reservation each; seconds taken."""
    from oms.models import Order, OrderKey, StockMovement, search_keys

    rng, started = random.Random(7), time.perf_counter()
    for low in range(0, total, batch):
        orders, keys, moves = [], [], []
        for i in range(low, min(total, low + batch)):
            name, email, phone = person(i)
            lines = [
                {"sku": rng.choice(SKUS), "qty": rng.randint(1, 3), "price": 9.5} for _ in range(rng.randint(1, 3))
            ]
            doc = {"customer": {"name": name.title(), "email": email, "phone": phone}, "lines": lines}
            oid, channel, tags = f"ord_{i:012x}", CHANNELS[i % 4], ["vip"] if i % 97 == 0 else []
            created = NOW - timedelta(seconds=(total - i) * 30)  # one order every 30 s: ~1 year at 1M
            total_ = round(sum(x["qty"] * x["price"] for x in lines), 2)
            values = (oid, channel, f"{channel[0].upper()}-{i}", oid, rng.choice(STATUSES), phone, tags, total_, doc)
            orders.append(
                dict(zip(ORDER_COLUMNS, values, strict=True)) | {"created_at": created, "updated_at": created}
            )
            orders[-1] |= {"customer_name": name, "email": email, "address_key": str(i)} | CONSTANT
            keys += [dict(kind=k, value=v, order_id=oid, created_at=created) for k, v in search_keys(doc, tags, name)]
            moves.append(
                {"order_id": oid, "warehouse": WAREHOUSES[i % 3], "sku": lines[0]["sku"], "at": created} | MOVE
            )
        session.execute(insert(Order), orders)
        session.execute(insert(OrderKey), keys)
        session.execute(insert(StockMovement), moves)
        session.commit()
        print(f"  {min(total, low + batch):>9,} orders", end="\r", flush=True)
    return time.perf_counter() - started


def cases(total: int, rng: random.Random) -> dict[str, dict[str, str]]:
    """One query of each type (a fresh random target per call)."""
    i = rng.randrange(total)
    name, email, phone = person(i)
    start = (NOW - timedelta(days=rng.randint(10, 300))).date()
    return {
        "external id": {"q": f"{CHANNELS[i % 4][0].upper()}-{i}"},
        "order id": {"q": f"ord_{i:012x}"},
        "name (one word)": {"q": name.split()[1]},
        "a first name (1 in 12 orders)": {"q": name.split()[0]},
        "name (two words)": {"q": name},
        "e-mail": {"q": email.upper()},
        "phone": {"q": phone[:3] + " " + phone[3:]},
        "status newest": {"status": "awaiting_payment"},
        "channel newest": {"channel": rng.choice(CHANNELS)},
        "warehouse newest": {"warehouse": rng.choice(WAREHOUSES)},
        "sku": {"sku": rng.choice(SKUS)},
        "tag": {"tag": "vip"},
        "date range (a week)": {"from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()},
        "saved: unpaid > 2 days": {"status": "awaiting_payment", "older_than_days": "2"},
        "saved: shipping problems": {"status": "shipping_problem,delivery_exception"},
        "sort by total": {"sort": "-total"},
        "sku + status + channel": {"sku": rng.choice(SKUS), "status": "completed", "channel": "web"},
        "unscoped, everything": {},
    }


def measure(kind: str, total: int, repeat: int) -> dict[str, dict]:
    from oms.auth import Principal
    from oms.db import get_engine
    from oms.migrate import upgrade
    from services.orders.search import parse_query, search

    upgrade()
    with Session(get_engine()) as session:
        seconds = generate(session, total)
        session.execute(text("ANALYZE"))
        session.commit()
    print(f"\n{kind}: {total:,} orders generated in {seconds:.0f} s")
    admin, scoped = Principal("admin", ("admin",)), Principal("ops", ("operator",), ("web",), ("BER",))
    times: dict[str, list[float]] = {}
    rng = random.Random(11)
    with Session(get_engine()) as session:
        for _ in range(repeat):
            for label, params in cases(total, rng).items():
                for who, caller in (
                    (("", admin), (" [scoped]", scoped)) if label.startswith("unscoped") else (("", admin),)
                ):
                    started = time.perf_counter()
                    found = search(session, caller, parse_query(params))
                    if found.next_cursor:  # and the second page, by its keyset
                        search(session, caller, parse_query({**params, "after": found.next_cursor}))
                    times.setdefault(label.replace("unscoped, ", "") + who, []).append(time.perf_counter() - started)
    return {label: spread(values, 1000) for label, values in times.items()} | {"_generated_s": {"s": round(seconds)}}


def main() -> int:
    args = arguments(__doc__, orders=1_000_000, repeat=20, databases="sqlite,postgresql", budget_ms=500.0)
    figures, verdicts = {}, []
    for kind in args.databases.split(","):
        with app_database(kind):
            result = measure(kind, args.orders, args.repeat)
        shown = {k: {"p50": v["p50"], "p95": v["p95"]} for k, v in result.items() if not k.startswith("_")}
        figures[f"{kind} (ms, first + second page)"] = shown
        worst = max(v["p95"] for v in shown.values())
        verdicts.append(
            (f"{kind}: every query type p95 under {args.budget_ms:.0f} ms (worst {worst} ms)", worst < args.budget_ms)
        )
    return report(f"order_search: {args.orders:,} orders", figures, verdicts, orders=args.orders)


if __name__ == "__main__":
    run(main)
