"""Reservations per second, with and without contention, on SQLite and PostgreSQL; oversell count.

``services.stock.reservation.reserve_order`` from many threads, without Temporal, on a fresh database of each
kind: contention (few SKUs, stock for all), sell-out (stock for a quarter) and no contention (many SKUs); then
oversold rows, exactly the stock there was reserved, the ledger rebuilt: exit code 1 if any of that fails.

    .venv/bin/python -m bench.reservations                      # SQLite and PostgreSQL
    .venv/bin/python -m bench.reservations --db postgresql --orders 5000 --threads 32
"""

import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from bench import harness

ADDRESS = {"country": "DE", "city": "Berlin", "postal_code": "10115"}


def stocked(prefix: str, skus: int, on_hand: int, warehouses: list[str], orders: int) -> tuple[list[str], list[str]]:
    """``skus`` SKUs with ``on_hand`` units in each warehouse, and ``orders`` one-unit orders over them."""
    from oms.db import session_scope
    from oms.models import Order, Sku, Stock, StockMovement

    names, ids = [f"{prefix}-{i:04d}" for i in range(skus)], [f"{prefix}-o{i:06d}" for i in range(orders)]
    with session_scope() as session:
        session.add_all([Sku(sku=n, name=n, price=25.0, weight_kg=0.5) for n in names])
        session.flush()
        for name in names:
            for warehouse in warehouses:
                session.add(Stock(warehouse=warehouse, sku=name, on_hand=on_hand, reserved=0))
                session.add(StockMovement(operation="receipt", warehouse=warehouse, sku=name, qty=on_hand))
        for n, i in enumerate(ids):
            document = {"lines": [{"sku": names[n % skus], "qty": 1, "price": 25.0}], "shipping_address": ADDRESS}
            order = Order(id=i, channel="web", external_id=i, workflow_id=i, flow_name="order", flow_version=1)
            order.address_key, order.total, order.document = i, 25.0, document
            session.add(order)
    return names, ids


def reserve(order_id: str) -> bool:
    from oms.db import session_scope
    from oms.models import Order
    from services.stock.reservation import Short, reserve_order

    for _ in range(20):  # PostgreSQL may abort a deadlocked or serialisation-failed transaction: retry, as Temporal
        try:
            with session_scope() as session:
                reserve_order(session, session.get(Order, order_id))
            return True
        except Short:
            return False
        except Exception as exc:
            if "contention" not in str(exc) and "deadlock" not in str(exc).lower():
                raise
    raise RuntimeError(f"order {order_id} could not be reserved in 20 tries")


def scenario(skus: list[str], ids: list[str], threads: int, expected: int) -> dict:
    from sqlmodel import Session, select

    from oms.db import get_engine
    from oms.models import Stock
    from services.stock.ledger import reconcile

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        reserved = sum(pool.map(reserve, ids))
    seconds = time.perf_counter() - started
    with Session(get_engine()) as session:
        rows = session.exec(select(Stock).where(Stock.sku.in_(skus))).all()
        checks = {"ledger differences": len(reconcile(session)["differences"])}
    checks["oversold rows"] = sum(1 for r in rows if r.reserved > r.on_hand or r.reserved < 0)
    speed = {"per s": round(reserved / seconds, 1), "attempts per s": round(len(ids) / seconds, 1)}
    return {"reserved": reserved, "expected": expected, **speed, **checks}


def run_on(kind: str, orders: int, threads: int) -> dict[str, dict]:
    """The three scenarios on a fresh database of ``kind`` (in a process of its own: demo data seeds once)."""
    from oms.bootstrap import prepare

    with harness.app_database(kind):
        prepare(seed=True)  # tables, the shipped allocation definition, demo warehouses
        run, hot, spread = uuid.uuid4().hex[:6].upper(), 2, 500
        plenty = stocked(f"HOT{run}", hot, orders // hot + 1, ["BER"], orders), orders
        scarce = stocked(f"OUT{run}", hot, orders // hot // 4, ["BER"], orders), hot * (orders // hot // 4)
        many = stocked(f"SPR{run}", spread, 10 * orders // spread + 10, ["BER", "LYS"], orders), orders
        runs = {"contention": plenty, "sell-out": scarce, "no contention": many}  # (SKUs, orders), reservable
        return {f"{kind} {name}": scenario(*made, threads, expected) for name, (made, expected) in runs.items()}


def main() -> int:
    args = harness.arguments(__doc__, db=("both", "sqlite", "postgresql"), orders=2000, threads=16)
    results: dict[str, dict] = {}
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            results |= pool.submit(run_on, kind, args.orders, args.threads).result()
    wrong = [name for name, r in results.items() if r["oversold rows"] or r["ledger differences"]]
    wrong += [name for name, r in results.items() if r["reserved"] != r["expected"]]
    verdict = (f"never oversold; exactly the stock there was reserved; the ledger agrees (wrong: {wrong})", not wrong)
    title = f"reservations: {args.orders} one-unit orders per scenario, {args.threads} threads"
    return harness.report(title, {"scenarios": results}, [verdict])


if __name__ == "__main__":
    harness.run(main)
