"""The standard lifecycle end to end on the embedded stack, and the machine's ceiling beside it.

``--orders`` prepaid web orders, ``--concurrency`` at a time: intake, audit, reservation and
shipment by the shipped flow, then the carrier's ``out_for_delivery`` and ``delivered`` events,
until completed: orders per second, p50/p99 to shipment and to completion. Then, on the same dev
server, a bare workflow with as many no-op activities and local activities as one order's
history, from a worker in this process: the ceiling of this machine for that shape.

    .venv/bin/python -m bench.lifecycle                       # 500 orders, 50 at a time
    .venv/bin/python -m bench.lifecycle --orders 300 --concurrency 50
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow

from bench import harness

PATIENCE = 600  # seconds an order may take to reach the next status
SKUS = [("MUG-LOGO", 9.5), ("TSHIRT-BLK-M", 19.9), ("BACKPACK-20L", 59.0), ("HEADPHONES-NC", 249.0)]


def payload(n: int, tag: str) -> dict:
    """A prepaid web order; a street and an IP of its own keep the velocity rules out of it."""
    address = {"street": f"Hauptstr. {n}", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    customer = {"name": "Bench Buyer", "email": f"buyer{n}@example.com"}
    order = {"channel": "web", "external_id": f"LC-{tag}-{n}", "customer": customer, "shipping_address": address}
    lines = [{"sku": SKUS[n % 4][0], "qty": 1 + n % 2, "price": SKUS[n % 4][1]}]
    return order | {"lines": lines, "payment": {"method": "card", "status": "paid"}, "client_ip": f"2001:db8::{n:x}"}


async def reached(stack: harness.BenchStack, order_id: str, status: str) -> None:
    """Poll the read model (read-only SQLite) until the order has ``status``."""
    deadline, sql = time.monotonic() + PATIENCE, "SELECT status FROM orders WHERE id = ?"
    while (rows := await asyncio.to_thread(harness.read_only, stack.db_file, sql, (order_id,))) != [(status,)]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"order {order_id} stuck in {rows}")
        await asyncio.sleep(0.2)


async def one_order(client, stack: harness.BenchStack, n: int, tag: str) -> dict:
    began = time.time()
    order_id = (await client.post("/api/orders", json=payload(n, tag))).raise_for_status().json()["id"]
    await reached(stack, order_id, "shipped")
    for event in ("out_for_delivery", "delivered"):
        (await client.post(f"/api/orders/{order_id}/events", json={"type": event, "data": {}})).raise_for_status()
    await reached(stack, order_id, "completed")
    ended, sql = time.time(), "SELECT MIN(at) FROM order_events WHERE order_id = ? AND type = 'shipped'"
    shipped = datetime.fromisoformat(harness.read_only(stack.db_file, sql, (order_id,))[0][0])
    return {"id": order_id, "to_shipment": shipped.replace(tzinfo=UTC).timestamp() - began, "to_end": ended - began}


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


async def measure(stack: harness.BenchStack, args) -> dict:
    import httpx
    from temporalio.api.enums.v1 import EventType as E
    from temporalio.client import Client
    from temporalio.worker import Worker

    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client:
        client.headers.update(await harness.login(client))
        began = time.perf_counter()
        orders = (one_order(client, stack, n, tag) for n in range(args.orders))
        results = await harness.gather_limited(args.concurrency, orders)
        seconds = time.perf_counter() - began
    # The ceiling: as many activities and local activities as one order's history, nothing else.
    temporal = await Client.connect(stack.temporal_address)
    sql = "SELECT workflow_id FROM orders WHERE id = ?"
    handle = temporal.get_workflow_handle(harness.read_only(stack.db_file, sql, (results[0]["id"],))[0][0])
    kinds = [e.event_type for e in (await handle.fetch_history()).events]
    counts = [kinds.count(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), kinds.count(E.EVENT_TYPE_MARKER_RECORDED)]
    queue = f"bare-{tag}"
    async with Worker(temporal, task_queue=queue, workflows=[BareLifecycle], activities=[bare_step]):
        began = time.perf_counter()
        runs = (
            temporal.execute_workflow("BareLifecycle", counts, id=f"{queue}-{n}", task_queue=queue)
            for n in range(args.orders)
        )
        await harness.gather_limited(args.concurrency, runs)
        bare_seconds = time.perf_counter() - began
    return {
        "completed orders per second": round(len(results) / seconds, 2),
        "seconds": round(seconds, 1),
        "intake to shipment (ms)": harness.spread([r["to_shipment"] for r in results], 1000),
        "intake to completion (ms)": harness.spread([r["to_end"] for r in results], 1000),
        "bare workflow: activities, local activities": counts,
        "bare workflows per second (the ceiling)": round(args.orders / bare_seconds, 2),
    }


def main() -> int:
    args = harness.arguments(__doc__, orders=500, concurrency=50)
    with harness.BenchStack() as stack:
        figures = asyncio.run(measure(stack, args))
    title = f"lifecycle: {args.orders} prepaid web orders, {args.concurrency} at a time, embedded stack"
    return harness.report(title, figures)


if __name__ == "__main__":
    harness.run(main)
