"""What the YAML interpreter costs: ``OrderFlow`` against the same flow written by hand (bench/handwritten.py),
prepaid orders on one dev server and an in-process worker, alternating rounds (see bench/README.md).

    .venv/bin/python -m bench.flow_overhead --orders 200        # --postgres: a fresh PostgreSQL database
"""

from __future__ import annotations

import asyncio
import compileall
import json
import signal
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench import harness
from oms.temporal.dev_server import free_port
from oms.temporal.stack import EmbeddedStack

VARIANTS = {"A": "OrderFlow", "B": "HandwrittenOrder"}
SKUS = [("TSHIRT-BLK-M", 19.9), ("HOODIE-GRY-M", 49.0), ("SNEAKER-42", 89.0), ("MUG-LOGO", 9.5)]


def order_payload(external_id: str, n: int) -> dict:
    """A prepaid consumer order the shipped audit approves (its own street and IP: no velocity rule fires)."""
    return harness.prepaid_order(n, external_id, *SKUS[n % len(SKUS)], qty=1 + n % 3) | {"external_id": external_id}


def store_order(payload: dict):
    """What submit_order stores before it starts the workflow: the order row and the workflow input."""
    from oms.db import session_scope
    from services.orders.intake import prepare

    with session_scope() as session:
        prepared = prepare(session, payload, None)
        session.add(prepared.order)  # a fresh external id: never an existing order
    return prepared.order, prepared.workflow_input


async def run_one(client, variant: str, payload: dict) -> dict:
    import anyio
    from temporalio.common import WorkflowIDConflictPolicy

    from oms.settings import get_settings
    from services.orders.intake import submit_order, workflow_id_for
    from workflows.contracts import ExternalEvent, OrderResult

    started = time.perf_counter()
    if variant == "A":
        assert (await submit_order(client, payload)).created, payload["external_id"]
        handle = client.get_workflow_handle(workflow_id_for("web", payload["external_id"]), result_type=OrderResult)
    else:
        order, workflow_input = await anyio.to_thread.run_sync(store_order, payload)
        # A hand-written workflow has no definition to carry: the flow text stays out of its input.
        start = {"task_queue": get_settings().task_queue, "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING}
        bare_input = replace(workflow_input, flow_text="")
        handle = await client.start_workflow(
            VARIANTS["B"], bare_input, id=order.workflow_id, result_type=OrderResult, **start
        )
    intake = time.perf_counter() - started
    await handle.signal("event", ExternalEvent(type="delivered"))  # the wait step keeps early events
    result = await handle.result()
    latency = time.perf_counter() - started
    return {"order_id": result.order_id, "status": result.status, "latency": latency, "intake": intake}


async def run_batch(client, meter: harness.CpuMeter, variant: str, tag: str, count: int, concurrency: int) -> dict:
    """``count`` orders of one variant, ``concurrency`` at a time: orders/s, latency, CPU per order."""

    async def one(n: int) -> dict:
        try:
            return await run_one(client, variant, order_payload(f"{tag}-{n:05d}", next(SERIAL)))
        except Exception as exc:  # counted and reported, never hidden
            return {"status": f"{type(exc).__name__}: {exc}"}

    before = meter.read()
    outcomes = await harness.gather_limited(concurrency, map(one, range(count)))
    used = meter.used(before, meter.read())
    done = [o for o in outcomes if o["status"] == "completed"]
    failed = [o for o in outcomes if o["status"] != "completed"]
    cpu = {k: round(1000 * used[k] / max(1, len(done)), 1) for k in ("this process", "temporal")}
    batch = {"variant": variant, "orders per s": round(len(done) / used["wall"], 2), "failed": failed[:5]}
    batch |= {"latencies": [o["latency"] for o in done], "intake": [o["intake"] for o in done]}
    batch |= {"CPU per order (ms)": cpu, "other processes (cores)": round(used["others"] / used["wall"], 2)}
    batch["order ids"] = [o["order_id"] for o in done]
    others = batch["other processes (cores)"]
    print(f"{tag:<6} {batch['orders per s']:7.2f} orders/s, CPU/order {cpu}, other load {others}, failed {len(failed)}")
    return batch


SERIAL = iter(range(1, 1 << 30))


def side_effects(order_ids: list[str]) -> list[dict]:
    """What the activities wrote for each order, without what differs per order; one shape expected."""
    from sqlmodel import select

    from oms.db import session_scope
    from oms.models import Order, OrderEvent, Shipment, StockMovement

    shapes = set()
    with session_scope() as session:
        for order_id in order_ids:
            order = session.get(Order, order_id)
            events = session.exec(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.seq))
            moves = session.exec(select(StockMovement.operation).where(StockMovement.order_id == order_id)).all()
            shipments = len(session.exec(select(Shipment.id).where(Shipment.order_id == order_id)).all())
            shape = {"status": order.status, "audit": (order.audit or {}).get("action"), "shipments": shipments}
            shape |= {"timeline": [(e.seq, e.type, e.step) for e in events], "ledger": sorted(set(moves))}
            shapes.add(json.dumps(shape, sort_keys=True))
    return [json.loads(shape) for shape in sorted(shapes)]


async def benchmark(args, server_pid: int) -> tuple[list[dict], dict]:
    from concurrent.futures import ThreadPoolExecutor

    import anyio.to_thread
    from temporalio.client import Client
    from temporalio.plugin import SimplePlugin

    from bench.handwritten import HandwrittenOrderWorkflow
    from oms.settings import get_settings
    from oms.worker import build_worker

    settings = get_settings()
    # SIGTERM cancels the run as Ctrl-C does, so that the worker shuts down in order.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(40, args.concurrency)  # intake's threads
    plugin = SimplePlugin("oms-bench", workflows=[HandwrittenOrderWorkflow])  # B joins the product's worker
    client = await Client.connect(settings.temporal_address, plugins=[plugin])
    meter, rounds = harness.CpuMeter({"temporal": server_pid}), []
    with ThreadPoolExecutor(max_workers=settings.worker_threads) as executor:
        async with build_worker(client, executor):
            for variant in VARIANTS if args.warmup else ():
                await run_batch(client, meter, variant, f"warm{variant}", args.warmup, args.concurrency)
            for n in range(1, args.rounds + 1):
                for variant in list(VARIANTS)[:: -1 if args.schedule == "abba" and n % 2 == 0 else 1]:
                    rounds.append(
                        await run_batch(client, meter, variant, f"r{n}{variant}", args.orders, args.concurrency)
                    )
            last = {v: [r for r in rounds if r["variant"] == v][-1]["order ids"] for v in VARIANTS}
            shapes = {v: await asyncio.to_thread(side_effects, ids) for v, ids in last.items()}
    return rounds, shapes


def summary(args, rounds: list[dict], shapes: dict) -> tuple[dict, list]:
    figures = {}
    for v, workflow_type in VARIANTS.items():
        mine = [r for r in rounds if r["variant"] == v]
        latencies = [x for r in mine for x in r["latencies"]]
        cpu = {k: statistics.fmean(r["CPU per order (ms)"][k] for r in mine) for k in mine[0]["CPU per order (ms)"]}
        figures[f"{v} {workflow_type}"] = {
            "orders/s per round": [r["orders per s"] for r in mine],
            "mean": round(statistics.fmean(r["orders per s"] for r in mine), 2),
            "latency p50 ms": round(1000 * harness.percentile(latencies, 50), 1),
            "p99 ms": round(1000 * harness.percentile(latencies, 99), 1),
            "intake mean ms": round(1000 * statistics.fmean(x for r in mine for x in r["intake"]), 1),
            "CPU per order ms": {k: round(value, 1) for k, value in cpu.items()},
            "other processes (cores)": round(statistics.fmean(r["other processes (cores)"] for r in mine), 2),
            "failed": sum(len(r["failed"]) for r in mine),
        }
    a, b = (figures[f"{v} {t}"] for v, t in VARIANTS.items())
    ratio = round(a["mean"] / b["mean"], 3)
    by_round = [{r["variant"]: r["orders per s"] for r in rounds[i : i + 2]} for i in range(0, len(rounds), 2)]
    per_round = [round(x["A"] / x["B"], 3) for x in by_round]
    figures["ratio interpreter/handwritten"] = {"mean orders/s": ratio, "per round": per_round}
    identical = len(shapes["A"]) == 1 and shapes["A"] == shapes["B"]
    verdicts = [(f"ratio at least 0.95 ({ratio})", ratio >= 0.95), ("A and B wrote the same side effects", identical)]
    return figures, verdicts


def main() -> int:
    args = harness.arguments(
        __doc__, orders=200, concurrency=50, rounds=2, warmup=50, schedule=("abba", "abab"), postgres=False
    )
    compileall.compile_dir(str(harness.ROOT / "bench"), quiet=1)  # the sandbox re-imports B's module every run
    kind = "postgresql" if args.postgres else "sqlite"
    with (
        tempfile.TemporaryDirectory(prefix="oms-bench-") as folder,
        harness.temporary_database(kind) as url,
        EmbeddedStack(log_dir=Path(folder)) as stack,
    ):
        port = free_port()
        server = stack.start_temporal(Path(folder) / "temporal.db", port)
        harness.configure(url, Path(folder), temporal_address=f"127.0.0.1:{port}", task_queue=f"bench-{port}")
        from sqlmodel import select

        from oms.bootstrap import prepare
        from oms.db import session_scope
        from oms.models import Stock

        prepare(seed=True)
        with session_scope() as session:  # stock no run can exhaust
            for row in session.exec(select(Stock)).all():
                row.on_hand = 1_000_000_000
        rounds, shapes = asyncio.run(benchmark(args, server.process.pid))
    figures, verdicts = summary(args, rounds, shapes)
    title = f"flow_overhead: {args.orders} orders per round, {args.concurrency} at a time, {args.rounds} rounds"
    details = {"database": kind, "schedule": args.schedule, "warmup": args.warmup, "shapes": shapes}
    return harness.report(f"{title} per variant, {kind}", figures, verdicts, **details)


if __name__ == "__main__":
    harness.run(main)
