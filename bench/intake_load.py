"""Intake under load on the embedded stack: orders posted at a fixed rate, latency, and nothing lost.

Open loop (latency from each order's scheduled send); afterwards every order sent is looked up in
Temporal and the read model. Targets: 100 orders/s for 60 s, p99 at most 50 ms (200 ms with the
worker running at 50/s), no errors; a burst of 30x the daily average accepted, nothing lost.

    .venv/bin/python -m bench.intake_load                  # 100/s for 60 s, worker running
    .venv/bin/python -m bench.intake_load --no-worker      # intake alone; workflows wait in Temporal's queue
    .venv/bin/python -m bench.intake_load --burst          # 3.5/s x 30 = 105/s for 20 s, then the time to audit all
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import harness
from bench.traffic import TrafficGenerator

TARGET_RATE, BURST_FACTOR, TARGET_P99_MS = 100.0, 30, {False: 50.0, True: 200.0}  # p99: intake alone, worker on


@dataclass
class Order:
    """One order, serialized before the clock starts, and what became of it (seconds after t0)."""

    order_id: str
    workflow_id: str
    body: bytes
    scheduled: float = 0.0
    started: float = float("nan")  # the generator got round to it (late only if it is overloaded itself)
    sent: float = float("nan")  # it had a connection and left
    done: float = float("nan")
    status: int | None = None
    error: str | None = None


def build_orders(args, count: int) -> list[Order]:
    from services.orders.intake import order_id_for, workflow_id_for

    generator, out = TrafficGenerator(args.seed, "ordinary", run_tag=uuid.uuid4().hex[:6] + "-"), []
    while len(out) < count:
        if (order := generator.order().payload)["channel"] == args.channel:
            key = (args.channel, str(order["external_id"]))
            out.append(Order(order_id_for(*key), workflow_id_for(*key), json.dumps(order).encode()))
    return out


class ConnectionSlots:
    """``connections`` HTTP connections over small httpx clients, lent out one request at a time.

    httpx's pool checks every connection it holds on each request and response, so one client with
    hundreds of connections made the generator the bottleneck under backlog; clients of at most 8
    connections keep that cost flat. Slots go out last-in first-out: a light load reuses warm ones.
    """

    def __init__(self, base_url: str, connections: int, timeout: float, headers: dict[str, str]) -> None:
        import httpx

        # Idle connections expire before uvicorn's 5 s keep-alive: reusing one the server is closing fails the
        # request with a ReadError that says nothing about intake.
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=4.0)
        headers = {**headers, "content-type": "application/json"}
        self.clients = [
            httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits, headers=headers)
            for _ in range(-(-connections // 8))
        ]
        self.free: asyncio.LifoQueue = asyncio.LifoQueue()
        for n in reversed(range(connections)):
            self.free.put_nowait(self.clients[n % len(self.clients)])

    async def post(self, order: Order, on_sent=lambda: None):
        client = await self.free.get()
        try:
            on_sent()
            return await client.post("/api/orders", content=order.body)
        finally:
            self.free.put_nowait(client)

    async def close(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True)


async def open_loop(slots: ConnectionSlots, orders: list[Order], rate: float) -> tuple[float, int]:
    """Send order i at t0 + i/rate without waiting for answers; returns t0 and the peak in flight."""
    t0, in_flight, peak, tasks = time.perf_counter() + 0.05, 0, 0, []

    async def send(order: Order) -> None:
        nonlocal in_flight, peak
        order.started, in_flight = time.perf_counter() - t0, in_flight + 1
        peak = max(peak, in_flight)
        try:
            response = await slots.post(order, lambda: setattr(order, "sent", time.perf_counter() - t0))
            order.status, order.error = response.status_code, None if response.is_success else response.text[:300]
        except Exception as exc:  # counted and reported by type, never hidden
            order.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        order.done, in_flight = time.perf_counter() - t0, in_flight - 1

    for i, order in enumerate(orders):
        order.scheduled = i / rate
        if (delay := t0 + order.scheduled - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(order)))
        if len(tasks) % max(1, int(rate * 10)) == 0:
            print(f"  {order.scheduled:4.0f}s: {len(tasks)} sent, {in_flight} in flight", flush=True)
    await asyncio.gather(*tasks)
    return t0, peak


async def workflow_states(address: str, orders: list[Order]) -> tuple[dict[str, str], dict]:
    """Each order's workflow status ("missing" when there is none) and the visibility counts."""
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    client, states = await Client.connect(address), {}

    async def describe(order: Order) -> None:
        try:
            states[order.order_id] = (await client.get_workflow_handle(order.workflow_id).describe()).status.name
        except RPCError as exc:
            states[order.order_id] = "missing" if exc.status == RPCStatusCode.NOT_FOUND else f"error: {exc}"

    await harness.gather_limited(32, map(describe, orders))
    query = "WorkflowType='OrderFlow'"
    counts = {"all": query, "running": f"{query} AND ExecutionStatus='Running'"}
    return states, {name: (await client.count_workflows(q)).count for name, q in counts.items()}


async def read_model(stack: harness.BenchStack, ids: list[str]) -> dict[str, dict]:
    """Per order in the stack's read model: status, confirmed workflow start, audit time."""

    def query() -> dict[str, dict]:
        found: dict[str, dict] = {}
        for start in range(0, len(ids), 500):
            chunk, marks = ids[start : start + 500], ",".join("?" * len(ids[start : start + 500]))
            sql = f"SELECT id, status, workflow_started FROM orders WHERE id IN ({marks})"
            found |= {i: {"status": s, "started": bool(w)} for i, s, w in stack.read(sql, chunk)}
            sql = f"SELECT order_id, MIN(at) FROM order_events WHERE type = 'audited' AND order_id IN ({marks})"
            for i, at in stack.read(sql + " GROUP BY order_id", chunk):  # SQLite gives text, PostgreSQL a datetime
                at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
                found[i]["audited"] = at.replace(tzinfo=UTC).timestamp()
        return found

    return await asyncio.to_thread(query)


async def wait_for(stack: harness.BenchStack, ids: list[str], key: str, patience: float) -> tuple[dict, float]:
    """Poll the read model until every order in ``ids`` has ``key`` (started, audited), at most ``patience`` s."""
    began, rows, pending = time.perf_counter(), {}, list(ids)
    while pending and time.perf_counter() - began < patience:
        stack.check()
        rows |= await read_model(stack, pending)
        if pending := [i for i in pending if not rows.get(i, {}).get(key)]:
            await asyncio.sleep(0.25)
    return rows, time.perf_counter() - began


def figures(args, orders: list[Order], peak: int, cpu: tuple[dict, dict], rows: dict, workflows: dict) -> dict:
    accepted, last = [o for o in orders if o.status == 201], max(o.done for o in orders)
    kind = {o.order_id: str(o.status) if o.status else (o.error or "").split(":")[0] for o in orders}
    failed = {o.order_id: kind[o.order_id] for o in orders if o.status != 201}
    errors, examples = Counter(failed.values()), {failed[o.order_id]: o.error for o in orders if o.order_id in failed}
    cores, used = cpu
    per_process = {k: v for k, v in used.items() if k not in ("machine", "others", "wall")}
    per_s = round(len(accepted) / args.duration, 2)
    offered = {"offered": len(orders), "accepted (201)": len(accepted), "per s": per_s}
    answered = {"last answer (s)": round(last, 2), "accepted per s until then": round(len(accepted) / last, 2)}
    lost = {"without a workflow": [o.order_id for o in accepted if workflows.get(o.order_id, "missing") == "missing"]}
    lost["without an order row"] = [o.order_id for o in accepted if o.order_id not in rows]
    return {
        "load": offered | answered | {"peak outstanding": peak, "errors": dict(errors) or "none"},
        "latency from the scheduled send (ms)": harness.spread([o.done - o.scheduled for o in accepted], 1000),
        "service time from the actual send (ms)": harness.spread([o.done - o.sent for o in accepted], 1000),
        "waiting for a connection (ms)": harness.spread([o.sent - o.started for o in orders], 1000),
        "generator lag, its own lateness (ms)": harness.spread([o.started - o.scheduled for o in orders], 1000),
        "CPU, first send to last answer (cores)": cores,
        "CPU per accepted order (ms)": {k: round(1000 * v / max(1, len(accepted)), 2) for k, v in per_process.items()},
        "in Temporal": Counter(workflows.get(o.order_id, "missing") for o in accepted),
        "in the read model": Counter(rows[o.order_id]["status"] for o in accepted if o.order_id in rows),
        "lost": {name: len(ids) for name, ids in lost.items()},
        "error examples": examples,
    }


async def measure(args, stack: harness.BenchStack) -> tuple[dict, list]:
    import httpx

    orders = build_orders(args, args.warmup + max(1, round(args.rate * args.duration)))
    warmup, orders = orders[: args.warmup], orders[args.warmup :]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=args.timeout) as client:
        slots = ConnectionSlots(stack.base_url, args.connections, args.timeout, await harness.login(client))
    try:
        if not args.worker:
            print("stopping the stack's worker: intake alone, the workflows wait in Temporal's queue", flush=True)
            stack.stop("worker")
        for k in range(0, len(warmup), 4):  # connections, caches, the first requests' imports
            await asyncio.gather(*(slots.post(o) for o in warmup[k : k + 4]), return_exceptions=True)
        meter = harness.CpuMeter({name: child.process.pid for name, child in stack.children.items()})
        print(f"load: {len(orders)} orders at {args.rate:g}/s for {args.duration:g}s ...", flush=True)
        before, wall_clock = meter.read(), time.time()
        t0, peak = await open_loop(slots, orders, args.rate)
        after = meter.read()
    finally:
        await slots.close()
    accepted = [o.order_id for o in orders if o.status == 201]
    _, started_after = await wait_for(stack, accepted, "started", args.audit_timeout)  # the outbox at work
    print("checking every order in Temporal and in the read model ...", flush=True)
    workflows, counts = await workflow_states(stack.temporal_address, orders)
    found = {"every workflow started after the last answer (s)": round(started_after, 2), "Temporal visibility": counts}
    if args.burst and args.worker:
        print(f"waiting (at most {args.audit_timeout:g}s) until every accepted order is audited ...", flush=True)
        rows, _ = await wait_for(stack, accepted, "audited", args.audit_timeout)
        audited = [rows[i]["audited"] for i in accepted if rows.get(i, {}).get("audited")]
        burst_start = wall_clock + (t0 - before["wall"])
        all_in = round(max(audited) - burst_start, 1) if len(audited) == len(accepted) else "not all"
        found["every burst order audited after the burst began (s)"] = all_in
    rows = await read_model(stack, [o.order_id for o in orders])
    cpu = (meter.cores(before, after), meter.used(before, after))
    found = figures(args, orders, peak, cpu, rows, workflows) | found
    return found, orders


def main() -> int:
    rates = {"rate": TARGET_RATE, "duration": 60.0, "channel": "web", "worker": True, "burst": False, "warmup": 20}
    other = {"daily_average": 3.5, "burst_seconds": 20.0, "audit_timeout": 600.0, "connections": 256, "timeout": 60.0}
    args = harness.arguments(__doc__, **rates, **other, seed=20261121, output="", postgres=False)
    if args.burst:
        args.rate, args.duration = args.daily_average * BURST_FACTOR, args.burst_seconds
    mode = "burst" if args.burst else "sustained" if args.worker else "no_worker"
    load_before = os.getloadavg()  # other jobs skew every figure: recorded with them
    database = harness.temporary_database("postgresql") if args.postgres else nullcontext()
    with database as url, harness.BenchStack(url) as stack:
        found, orders = asyncio.run(measure(args, stack))
    load, latency, lost = found["load"], found["latency from the scheduled send (ms)"], found["lost"]
    verdicts = [("nothing lost: every 201 has its order row and its workflow", not any(lost.values()))]
    if args.burst:
        verdicts += [(f"all {load['offered']} orders of the burst accepted", load["accepted (201)"] == load["offered"])]
    else:
        sustained = min(load["per s"], load["accepted per s until then"])
        sustained_ok = args.rate >= TARGET_RATE and sustained >= TARGET_RATE * 0.98
        verdicts += [(f"{TARGET_RATE:g} orders/s sustained", sustained_ok)]
        limit = TARGET_P99_MS[args.worker]
        verdicts += [(f"p99 at most {limit:g} ms", (latency["p99"] or 1e9) <= limit)]
        verdicts += [("no errors", load["errors"] == "none")]
    title = f"intake_load ({mode}): {args.rate:g} orders/s for {args.duration:g} s, channel {args.channel}"
    title += ", PostgreSQL" if args.postgres else ", SQLite"
    output = Path(args.output or harness.RESULTS / f"intake_load{'' if mode == 'sustained' else '_' + mode}.json")
    latencies = {o.order_id: [round(1000 * (o.done - o.scheduled), 2), o.status] for o in orders}
    return harness.report(title, found, verdicts, output=output, load_average_before=load_before, orders=latencies)


if __name__ == "__main__":
    harness.run(main)
