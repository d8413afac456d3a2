"""The full standard lifecycle on the embedded default, next to the machine's ceiling.

Starts the embedded stack (Temporal dev server, `oms web`, `oms worker`,
SQLite), then for ``--orders`` prepaid web orders, ``--concurrency`` at a
time: intake (``POST /api/orders``), audit, reservation and shipment by the
shipped flow, then the carrier's tracking events ``out_for_delivery`` and
``delivered`` (``POST /api/orders/{id}/events``) as soon as the order is
shipped, until it is completed. It prints completed orders per second and
the p50 / p99 time from intake to shipment and to completion.

In the same run and on the same dev server it measures the ceiling: a bare
Temporal workflow that runs as many no-op activities (regular and local, in
the same numbers) as one order's history shows, from a worker in this
process, at the same concurrency.

    .venv/bin/python bench/lifecycle.py                       # 500 orders, 50 at a time
    .venv/bin/python bench/lifecycle.py --orders 200 --concurrency 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from temporalio import activity, workflow  # noqa: E402
from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from bench.demo_traffic import EmbeddedStack, login  # noqa: E402
from bench.flow_overhead import percentile  # noqa: E402

SKUS = [("MUG-LOGO", 9.5), ("TSHIRT-BLK-M", 19.9), ("BACKPACK-20L", 59.0), ("HEADPHONES-NC", 249.0)]


def payload(n: int, tag: str) -> dict:
    sku, price = SKUS[n % len(SKUS)]
    return {
        "channel": "web", "external_id": f"LC-{tag}-{n}",
        "customer": {"name": "Bench Buyer", "email": f"buyer{n}@example.com"},
        "shipping_address": {"street": f"Hauptstr. {n}", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "lines": [{"sku": sku, "qty": 1 + n % 2, "price": price}],
        "payment": {"method": "card", "status": "paid"},
        "client_ip": f"2001:db8::{n // 65536:x}:{n % 65536:x}",
    }


class ReadModel:
    """The stack's SQLite read model, read-only: status and timeline times per order."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _query(self, sql: str, args: tuple) -> list[tuple]:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30) as db:
            return db.execute(sql, args).fetchall()

    async def status(self, order_id: str) -> str | None:
        rows = await asyncio.to_thread(self._query, "SELECT status FROM orders WHERE id = ?", (order_id,))
        return rows[0][0] if rows else None

    async def first_at(self, order_id: str, event_type: str) -> datetime | None:
        rows = await asyncio.to_thread(
            self._query, "SELECT MIN(at) FROM order_events WHERE order_id = ? AND type = ?", (order_id, event_type))
        return datetime.fromisoformat(rows[0][0]) if rows and rows[0][0] else None


async def wait_status(model: ReadModel, order_id: str, wanted: set[str], timeout: float = 600) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = await model.status(order_id)
        if status in wanted:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"order {order_id} stuck in {status!r}")
        await asyncio.sleep(0.2)


async def one_order(client: httpx.AsyncClient, model: ReadModel, n: int, tag: str) -> dict:
    began = time.time()
    response = await client.post("/api/orders", json=payload(n, tag))
    response.raise_for_status()
    order_id = response.json()["id"]
    await wait_status(model, order_id, {"shipped"})
    for event in ("out_for_delivery", "delivered"):
        answer = await client.post(f"/api/orders/{order_id}/events", json={"type": event, "data": {}})
        answer.raise_for_status()
    await wait_status(model, order_id, {"completed"})
    ended = time.time()
    shipped = await model.first_at(order_id, "shipped")
    return {"id": order_id, "began": began, "ended": ended,
            "to_shipment_s": (shipped.timestamp() if shipped else ended) - began, "to_completion_s": ended - began}


async def run_orders(stack: EmbeddedStack, count: int, concurrency: int) -> tuple[list[dict], float]:
    model = ReadModel(stack.workdir / "oms.db")
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client:
        client.headers["Authorization"] = f"Bearer {await login(client, EmbeddedStack.PASSWORD)}"
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(n)
        results: list[dict] = []

        async def lane() -> None:
            while not queue.empty():
                results.append(await one_order(client, model, queue.get_nowait(), tag))

        began = time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(concurrency)))
        return results, time.perf_counter() - began


async def activity_counts(stack: EmbeddedStack, workflow_id: str) -> tuple[int, int]:
    """(regular activities, local activities) in one completed order's history."""
    client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    regular = sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    local = sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED)
    return regular, local


@activity.defn(name="bare_step")
async def bare_step(n: int) -> int:
    return n


@workflow.defn(name="BareLifecycle", sandboxed=False)
class BareLifecycle:
    @workflow.run
    async def run(self, counts: list[int]) -> int:
        regular, local = counts
        for n in range(regular):
            await workflow.execute_activity(bare_step, n, start_to_close_timeout=timedelta(seconds=30))
        for n in range(local):
            await workflow.execute_local_activity(bare_step, n, start_to_close_timeout=timedelta(seconds=30))
        return regular + local


async def run_bare(address: str, count: int, concurrency: int, counts: tuple[int, int]) -> float:
    client = await Client.connect(address)
    queue_name = f"bare-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue_name, workflows=[BareLifecycle], activities=[bare_step],
                      max_concurrent_activities=64):
        slots = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with slots:
                await client.execute_workflow(BareLifecycle.run, list(counts), id=f"{queue_name}-{n}",
                                              task_queue=queue_name)

        began = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(count)))
        return time.perf_counter() - began


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q * 100) * 1000, 1)


async def measure(stack: EmbeddedStack, args: argparse.Namespace) -> dict:
    results, seconds = await run_orders(stack, args.orders, args.concurrency)
    model = ReadModel(stack.workdir / "oms.db")
    workflow_id = (await asyncio.to_thread(model._query, "SELECT workflow_id FROM orders WHERE id = ?",
                                           (results[0]["id"],)))[0][0]
    regular, local = await activity_counts(stack, workflow_id)
    bare_seconds = await run_bare(stack.env["OMS_TEMPORAL_ADDRESS"], args.orders, args.concurrency, (regular, local))
    shipment = [r["to_shipment_s"] for r in results]
    completion = [r["to_completion_s"] for r in results]
    return {
        "orders": len(results), "concurrency": args.concurrency, "seconds": round(seconds, 1),
        "completed_per_s": round(len(results) / seconds, 2),
        "intake_to_shipment_ms": {"p50": _ms(shipment, 0.5), "p99": _ms(shipment, 0.99)},
        "intake_to_completion_ms": {"p50": _ms(completion, 0.5), "p99": _ms(completion, 0.99)},
        "activities_per_order": {"regular": regular, "local": local},
        "bare_workflows_per_s": round(args.orders / bare_seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()

    stack = EmbeddedStack()
    stack.start()
    try:
        report = asyncio.run(measure(stack, args))
    finally:
        stack.stop()
    print("-" * 100)
    print(f"lifecycle: {report['orders']} prepaid web orders, {report['concurrency']} at a time, embedded stack "
          f"(SQLite, Temporal dev server): intake, audit, reservation, shipment, out_for_delivery, delivered")
    print(f"completed orders/s          {report['completed_per_s']}  ({report['orders']} in {report['seconds']} s)")
    print(f"intake to shipment (ms)     p50 {report['intake_to_shipment_ms']['p50']}  "
          f"p99 {report['intake_to_shipment_ms']['p99']}")
    print(f"intake to completion (ms)   p50 {report['intake_to_completion_ms']['p50']}  "
          f"p99 {report['intake_to_completion_ms']['p99']}")
    counts = report["activities_per_order"]
    print(f"ceiling: bare workflow with {counts['regular']} activities and {counts['local']} local activities "
          f"(as one order's history): {report['bare_workflows_per_s']} workflows/s in the same run")
    out = ROOT / "bench" / "results" / "lifecycle.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
