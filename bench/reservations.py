"""Reservations per second, with and without contention, on SQLite and PostgreSQL; oversell count.

Drives the reservation itself (``services.stock.reservation.reserve_order``: the
allocation definition's plan applied with conditional UPDATEs, one
transaction per order) from many threads at once, without Temporal, so the
figure is the stock ledger's own ceiling:

  contention     many orders on few SKUs (the same stock rows), enough stock for all
  sell-out       many orders on few SKUs whose stock runs out: a quarter get stock, the rest are refused
  no contention  orders spread over many SKUs with plenty of stock

After each scenario it counts oversold rows (reserved above on hand, or a
negative balance), checks that exactly the stock there was got reserved, and
rebuilds every balance from the ledger (``reconcile``). Oversold must be 0.

    .venv/bin/python bench/reservations.py                       # SQLite and PostgreSQL
    .venv/bin/python bench/reservations.py --db sqlite --orders 2000 --threads 16
    .venv/bin/python bench/reservations.py --help
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get("OMS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--orders", type=int, default=2000, help="orders per scenario")
    parser.add_argument("--threads", type=int, default=16, help="threads reserving at once")
    parser.add_argument("--hot-skus", type=int, default=2, help="SKUs under contention")
    parser.add_argument("--spread-skus", type=int, default=500, help="SKUs without contention")
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    return parser.parse_args()


# ---- one database, in this process -----------------------------------------------------


def _setup(prefix: str, skus: int, stock: int, warehouses: list[str]) -> list[str]:
    from oms.db import session_scope
    from oms.models import Sku, Stock, StockMovement

    names = [f"{prefix}-{i:04d}" for i in range(skus)]
    with session_scope() as session:
        session.add_all([Sku(sku=n, name=n, price=25.0, weight_kg=0.5) for n in names])
        session.flush()
        for name in names:
            for warehouse in warehouses:
                session.add(Stock(warehouse=warehouse, sku=name, on_hand=stock, reserved=0))
                session.add(StockMovement(operation="receipt", warehouse=warehouse, sku=name, qty=stock,
                                          reason="bench stock"))
    return names


def _orders(prefix: str, skus: list[str], count: int) -> list[str]:
    from oms.db import session_scope
    from oms.models import Order

    ids = []
    with session_scope() as session:
        for i in range(count):
            order_id = f"{prefix}-o{i:06d}"
            sku = skus[i % len(skus)]
            session.add(Order(
                id=order_id, channel="web", external_id=order_id, workflow_id=order_id, flow_name="order",
                flow_version=1, address_key=order_id, total=25.0,
                document={"lines": [{"sku": sku, "qty": 1, "price": 25.0}],
                          "shipping_address": {"country": "DE", "city": "Berlin", "postal_code": "10115"}},
            ))
            ids.append(order_id)
    return ids


def _reserve(order_id: str) -> bool:
    from oms.db import session_scope
    from oms.models import Order
    from services.stock.reservation import Short, reserve_order

    for _ in range(20):  # PostgreSQL may abort a deadlocked or serialisation-failed transaction; retry like Temporal
        try:
            with session_scope() as session:
                reserve_order(session, session.get(Order, order_id))
            return True
        except Short:
            return False
        except Exception as exc:  # noqa: BLE001 (reported, then retried)
            if "contention" not in str(exc) and "deadlock" not in str(exc).lower():
                raise
    raise RuntimeError(f"order {order_id} could not be reserved in 20 tries")


def _check(skus: list[str]) -> dict:
    from sqlmodel import Session, select

    from oms.db import get_engine
    from oms.models import Stock, StockMovement
    from services.stock.ledger import reconcile

    with Session(get_engine()) as session:
        rows = session.exec(select(Stock).where(Stock.sku.in_(skus))).all()
        oversold = sum(1 for r in rows if r.reserved > r.on_hand or r.reserved < 0)
        reserved = sum(r.reserved for r in rows)
        on_hand = sum(r.on_hand for r in rows)
        reserve_rows = len(session.exec(select(StockMovement.id).where(StockMovement.sku.in_(skus),
                                                                      StockMovement.operation == "reserve")).all())
        report = reconcile(session)
    return {"oversold_rows": oversold, "reserved": reserved, "on_hand": on_hand, "reserve_rows": reserve_rows,
            "ledger_differences": len(report["differences"])}


def _scenario(name: str, skus: list[str], orders: list[str], threads: int) -> dict:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(_reserve, orders))
    seconds = time.perf_counter() - started
    check = _check(skus)
    return {"scenario": name, "orders": len(orders), "skus": len(skus), "threads": threads, "seconds": round(seconds, 3),
            "attempts_per_s": round(len(orders) / seconds, 1), "reserved_orders": sum(outcomes),
            "reservations_per_s": round(sum(outcomes) / seconds, 1), "refused": len(orders) - sum(outcomes), **check}


def run_one(args: argparse.Namespace) -> list[dict]:
    from oms.bootstrap import prepare

    prepare(seed=True)  # tables, the shipped allocation definition, demo warehouses
    run = uuid.uuid4().hex[:6].upper()
    per_hot_sku = args.orders // args.hot_skus
    hot = _setup(f"HOT{run}", args.hot_skus, per_hot_sku + 1, ["BER"])
    scarce = _setup(f"OUT{run}", args.hot_skus, per_hot_sku // 4, ["BER"])
    spread = _setup(f"SPR{run}", args.spread_skus, 10 * args.orders // args.spread_skus + 10, ["BER", "LYS"])
    results = [
        _scenario("contention", hot, _orders(f"HOT{run}", hot, args.orders), args.threads),
        _scenario("sell-out", scarce, _orders(f"OUT{run}", scarce, args.orders), args.threads),
        _scenario("no contention", spread, _orders(f"SPR{run}", spread, args.orders), args.threads),
    ]
    results[0]["expected_reserved"] = args.orders
    results[1]["expected_reserved"] = args.hot_skus * (per_hot_sku // 4)
    results[2]["expected_reserved"] = args.orders
    return results


# ---- both databases, each in a child process (settings are read once per process) -------


def _child(db: str, args: argparse.Namespace, folder: Path) -> list[dict]:
    cleanup = None
    if db == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
    else:
        import psycopg

        name = f"oms_bench_res_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"

        def cleanup() -> None:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    env = {**os.environ, "OMS_DATABASE_URL": url, "OMS_DATA_DIR": str(folder), "OMS_DEV_MODE": "true",
           "OMS_LOG_LEVEL": "WARNING"}
    command = [sys.executable, __file__, "--db", db, "--database-url", url, "--orders", str(args.orders),
               "--threads", str(args.threads), "--hot-skus", str(args.hot_skus), "--spread-skus", str(args.spread_skus)]
    try:
        output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    finally:
        if cleanup:
            cleanup()
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    args = _arguments()
    if args.database_url:  # the child: one database, configured by the environment
        print(json.dumps([{**r, "database": args.db} for r in run_one(args)]))
        return
    databases = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    rows = []
    with tempfile.TemporaryDirectory(prefix="oms-bench-res-") as tmp:
        for db in databases:
            folder = Path(tmp) / db
            folder.mkdir()
            rows.extend(_child(db, args, folder))
    print(f"{'database':<11} {'scenario':<14} {'orders':>6} {'SKUs':>5} {'threads':>7} {'reserved':>8} "
          f"{'expected':>8} {'reserv./s':>9} {'attempts/s':>10} {'oversold':>8} {'ledger diff':>11}")
    for r in rows:
        print(f"{r['database']:<11} {r['scenario']:<14} {r['orders']:>6} {r['skus']:>5} {r['threads']:>7} "
              f"{r['reserved_orders']:>8} {r['expected_reserved']:>8} {r['reservations_per_s']:>9} "
              f"{r['attempts_per_s']:>10} {r['oversold_rows']:>8} {r['ledger_differences']:>11}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reservations.json").write_text(json.dumps(rows, indent=2))
    bad = [r for r in rows if r["oversold_rows"] or r["reserved_orders"] != r["expected_reserved"]
           or r["ledger_differences"]]
    if bad:
        print(f"FAILED: {len(bad)} scenario(s) oversold, reserved the wrong amount or disagree with the ledger")
        sys.exit(1)
    print("oversold: 0 in every scenario; reserved exactly the stock there was; ledger agrees")


if __name__ == "__main__":
    main()
