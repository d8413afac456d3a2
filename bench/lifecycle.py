"""The standard lifecycle end to end on the embedded stack, and the machine's ceiling beside it.

``--orders`` prepaid web orders, ``--concurrency`` at a time: intake, audit, reservation and
shipment by the shipped flow, then the carrier's ``out_for_delivery`` and ``delivered`` events,
until completed: orders per second, p50/p99 to shipment and to completion. Then, on the same dev
server, a bare workflow with as many no-op activities and local activities as one order's
history, from a worker in this process: the ceiling of this machine for that shape; the ratio (target 0.8).
The orders run in rounds A B B A: B is the floor, every `oms worker` replaced by bench/handwritten.py's (ratio
target 0.9; ``--no-floor``: A alone). CPU per order of each process in each. ``--workers 2``: a second `oms
worker`; ``--postgres``: the database on PostgreSQL ("others"); ``--waiting N``: the worker's memory with N orders
waiting for delivery.

    .venv/bin/python -m bench.lifecycle --orders 300 --concurrency 50   # --workers 2, --postgres, --waiting 1200"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import nullcontext
from datetime import timedelta

from temporalio import activity, workflow

from bench import harness

PATIENCE = 600  # seconds an order may take to reach the next status
SKUS = [("MUG-LOGO", 9.5), ("TSHIRT-BLK-M", 19.9), ("BACKPACK-20L", 59.0), ("HEADPHONES-NC", 249.0)]


def payload(n: int, tag: str) -> dict:
    return harness.prepaid_order(n, f"LC-{tag}", *SKUS[n % 4], qty=1 + n % 2)


AWAITED: dict[str, tuple[str, asyncio.Future]] = {}  # order id -> (status, reached): one poller for all


async def poll(stack: harness.BenchStack) -> None:
    """Read every awaited order's status in one query each 0.2 s (a poll per order cost 40 ms CPU an order)."""
    while True:
        if ids := list(AWAITED):
            sql = f"SELECT id, status FROM orders WHERE id IN ({', '.join('?' * len(ids))})"
            for order_id, status in await asyncio.to_thread(stack.read, sql, tuple(ids)):
                if order_id in AWAITED and AWAITED[order_id][0] == status:
                    AWAITED.pop(order_id)[1].set_result(None)
        await asyncio.sleep(0.2 if len(ids) > 4 else 0.02)


async def reached(stack: harness.BenchStack, order_id: str, status: str) -> None:
    AWAITED[order_id] = (status, asyncio.get_running_loop().create_future())
    await asyncio.wait_for(AWAITED[order_id][1], PATIENCE)


async def one_order(client, stack: harness.BenchStack, n: int, tag: str, deliver: bool = True) -> dict:
    """One order to shipment (read model polled: 20-200 ms late) and, if ``deliver``, through delivery to the end."""
    began = time.time()
    order_id = (await client.post("/api/orders", json=payload(n, tag))).raise_for_status().json()["id"]
    await reached(stack, order_id, "shipped")
    shipped = time.time()
    for event in ("out_for_delivery", "delivered") if deliver else ():
        (await client.post(f"/api/orders/{order_id}/events", json={"type": event, "data": {}})).raise_for_status()
    await reached(stack, order_id, "completed") if deliver else None
    return {"id": order_id, "to_shipment": shipped - began, "to_end": time.time() - began}


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

    tag, meter = uuid.uuid4().hex[:6], harness.CpuMeter({n: c.process.pid for n, c in stack.children.items()})
    results, used = {"order": [], "floor": []}, {"order": {}, "floor": {}}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client, asyncio.TaskGroup() as tasks:
        poller = tasks.create_task(poll(stack))
        op, _ = await harness.login(client, "operator"), client.headers.update(await harness.login(client))
        for sku, _ in SKUS:  # stock no run exhausts, where these orders are allocated
            (await client.put(f"/api/inventory/BER/{sku}", json={"on_hand": 10**9}, headers=op)).raise_for_status()
        # Rounds A B B A of half the orders each: A the product, B its floor (the hand-written workflow
        # in the interpreter's place, see bench/handwritten.py); a drift over the run favours neither.
        running = "order"
        for n, variant in enumerate(["order", "floor", "floor", "order"] if args.floor else ["order"]):
            if variant != running:  # every worker process swapped, then 10 orders unmeasured
                names, running = [name for name in stack.children if name.startswith("worker")], variant
                for name in names:
                    stack.stop(name)
                for name in names:  # `start` refuses a second "worker": renamed, as in main()
                    module = "bench.handwritten" if variant == "floor" else "oms.cli"
                    meter.pids[name] = stack.start("worker", module=module).process.pid
                    stack.children[name] = stack.children.pop("worker")
            if n in (0, 1, 3):  # every order of the run its own number: street, IP (velocity rules)
                warm_up = (one_order(client, stack, 10**6 * n + 900_000 + i, tag) for i in range(10))
                await harness.gather_limited(10, warm_up)
            count = args.orders // 2 if args.floor else args.orders
            before, orders = meter.read(), (one_order(client, stack, 10**6 * n + i, tag) for i in range(count))
            results[variant] += await harness.gather_limited(args.concurrency, orders)
            spent = meter.used(before, meter.read())
            used[variant] = {k: used[variant].get(k, 0) + v for k, v in spent.items()}
        held, worker = {}, stack.children["worker"].process.pid
        if args.waiting:  # orders left waiting for delivery: the worker's memory; the first and last delivered
            held["worker memory before (MiB)"] = harness.rss_mib(worker)
            more = (one_order(client, stack, n, tag + "h", deliver=False) for n in range(args.waiting))
            ids = [r["id"] for r in await harness.gather_limited(args.concurrency, more)]
            held[f"... with {args.waiting} waiting (MiB)"] = harness.rss_mib(worker)
            for name, order_id in (("first", ids[0]), ("last", ids[-1])):
                began = time.perf_counter()
                await client.post(f"/api/orders/{order_id}/events", json={"type": "delivered", "data": {}})
                await reached(stack, order_id, "completed")
                held[f"delivered to completed, the {name} of them (ms)"] = round(1000 * (time.perf_counter() - began))
        poller.cancel()
    temporal = await Client.connect(stack.temporal_address)
    # The ceiling: as many activities and local activities as one order's history, nothing else.
    sql = "SELECT workflow_id FROM orders WHERE id = ?"
    handle = temporal.get_workflow_handle(stack.read(sql, (results["order"][0]["id"],))[0][0])
    kinds = [e.event_type for e in (await handle.fetch_history()).events]
    counts = [kinds.count(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), kinds.count(E.EVENT_TYPE_MARKER_RECORDED)]
    queue = f"bare-{tag}"
    async with Worker(temporal, task_queue=queue, workflows=[BareLifecycle], activities=[bare_step]):
        before = meter.read()
        bare_run = lambda n: temporal.execute_workflow("BareLifecycle", counts, id=f"{queue}-{n}", task_queue=queue)  # noqa: E731
        await harness.gather_limited(args.concurrency, map(bare_run, range(args.orders)))
        bare = meter.used(before, meter.read())
    rate, ceiling = len(results["order"]) / used["order"]["wall"], args.orders / bare["wall"]
    ms = lambda spent, n: {k: round(1000 * s / n, 1) for k, s in spent.items()}  # noqa: E731
    figures = {
        "completed orders per second": round(rate, 2),
        "intake to shipment (ms)": harness.spread([r["to_shipment"] for r in results["order"]], 1000),
        "intake to completion (ms)": harness.spread([r["to_end"] for r in results["order"]], 1000),
        "bare workflow: activities, local activities": counts,
        "bare workflows per second (the ceiling)": round(ceiling, 2),
        "ratio to the ceiling": round(rate / ceiling, 3),
    }
    if args.floor:
        floor = len(results["floor"]) / used["floor"]["wall"]
        figures["floor: orders per second, the hand-written workflow"] = round(floor, 2)
        figures["ratio to the floor"] = round(rate / floor, 3)
    per_order = {v: ms(used[v], len(results[v])) for v in used if results[v]} | {"bare": ms(bare, args.orders)}
    return figures | {"CPU per order (ms; wall: ms per order)": per_order} | held


def main() -> int:
    args = harness.arguments(__doc__, orders=500, concurrency=50, workers=1, postgres=False, waiting=0, floor=True)
    with harness.temporary_database("postgresql") if args.postgres else nullcontext() as url:
        stack = harness.BenchStack(url)
        with stack:
            for n in range(2, args.workers + 1):
                stack.children[f"worker{n}"] = stack.children.pop("worker")  # `start` refuses a second "worker"
                stack.start("worker")
            figures = asyncio.run(measure(stack, args))
    db, workers = "PostgreSQL" if url else "SQLite", f"{args.workers} worker{'s' * (args.workers > 1)}"
    title = f"lifecycle: {args.orders} prepaid web orders, {args.concurrency} at a time, {db}, {workers}"
    verdicts = [("at least 0.8 of the ceiling", figures["ratio to the ceiling"] >= 0.8)]
    verdicts += [("at least 0.9 of the floor", figures["ratio to the floor"] >= 0.9)] if args.floor else []
    return harness.report(title, figures, verdicts)


if __name__ == "__main__":
    harness.run(main)
