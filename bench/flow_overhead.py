"""What the YAML interpreter costs: the shipped order flow vs the same flow written by hand.

One run starts its own Temporal dev server (temp SQLite, free port, headless),
a fresh application database (temp SQLite file, or a new PostgreSQL database
with --postgres), and one in-process worker that hosts both workflows:

  A  OrderFlow         workflows/order.py interpreting definitions/flows/order.yaml
  B  HandwrittenOrder  bench/handwritten.py, the prepaid happy path written by hand

Both get prepaid orders the audit approves, stored by the same intake code,
signalled ``delivered`` right after the start, and awaited to the end. After
an unmeasured warm-up the variants alternate A, B, A, B, ...; the report gives
orders/s per round and the mean, the ratio A/B, and per-order latency (start
of intake to workflow result).

    .venv/bin/python bench/flow_overhead.py --orders 200
    .venv/bin/python bench/flow_overhead.py --orders 200 --postgres
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Only modules that do not read the settings may be imported before the
# OMS_* environment is in place (see configure_environment).
from oms.temporal_server import free_port, start_dev_server  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "flow_overhead.json"
CHANNEL = "bench"
SKUS = [  # (sku, price): ordinary amounts, far below the audit's 5000 threshold
    ("TSHIRT-BLK-M", 19.9), ("TSHIRT-WHT-L", 19.9), ("HOODIE-GRY-M", 49.0), ("SNEAKER-42", 89.0),
    ("BACKPACK-20L", 59.0), ("MUG-LOGO", 9.5), ("MONITOR-27", 329.0), ("HEADPHONES-NC", 249.0),
]
COUNTRIES = [("DE", "Berlin", "10115"), ("FR", "Lyon", "69001"), ("US", "Newark", "07102")]
VARIANTS = {"A": "OrderFlow", "B": "HandwrittenOrder"}
LABELS = {"A": "interpreter (OrderFlow)", "B": "handwritten (HandwrittenOrder)"}


# ---- arguments and environment ------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per measured round and variant (default 200)")
    parser.add_argument("--concurrency", type=int, default=50, help="orders in flight at once (default 50)")
    parser.add_argument("--rounds", type=int, default=2, help="measured rounds per variant, interleaved A,B,A,B (default 2)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured orders per variant first (default 20)")
    parser.add_argument("--database-url", default=None,
                        help="application database (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--postgres", action="store_true",
                        help="create a fresh PostgreSQL database oms_bench_<pid> on --postgres-server, drop it afterwards")
    parser.add_argument("--postgres-server", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                        help="server URL (no database) for --postgres (default %(default)s)")
    parser.add_argument("--history-sample", type=int, default=50,
                        help="workflows per variant whose Temporal history is analysed (default 50; 0: none)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results (default %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    args = parser.parse_args(argv)
    if args.postgres and args.database_url:
        parser.error("--postgres creates its own database; give --postgres-server, not --database-url")
    if args.orders < 1 or args.concurrency < 1 or args.rounds < 1:
        parser.error("--orders, --concurrency and --rounds must be at least 1")
    return args


def create_postgres_database(server_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(_libpq_url(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server_url.rstrip('/')}/{name}"


def drop_postgres_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_libpq_url(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq_url(sqlalchemy_url: str, database: str) -> str:
    scheme, rest = sqlalchemy_url.split("://", 1)
    return f"postgresql://{rest.rstrip('/')}/{database}"


def configure_environment(database_url: str, data_dir: Path, temporal_port: int) -> None:
    """Point the settings at this run's server and database, before oms reads them."""
    os.environ.update({
        "OMS_DATABASE_URL": database_url,
        "OMS_DATA_DIR": str(data_dir),
        "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "OMS_TEMPORAL_NAMESPACE": "default",
        "OMS_TASK_QUEUE": f"oms-bench-{os.getpid()}",
        "OMS_DEV_MODE": "true",
    })
    from oms.settings import get_settings

    get_settings.cache_clear()


# ---- database set-up ----------------------------------------------------------


def prepare_database() -> dict:
    """Tables, shipped definitions, demo data; then stock no benchmark can exhaust."""
    from sqlmodel import select

    from oms.bootstrap import prepare
    from oms.db import session_scope
    from oms.models import Stock

    report = prepare(seed=True)
    with session_scope() as session:
        for row in session.exec(select(Stock)).all():
            row.on_hand = 1_000_000_000
            session.add(row)
    return report


def store_order(payload: dict) -> tuple[Any, Any]:
    """What ``oms.intake.submit_order`` stores before it starts the workflow (fresh ids only)."""
    from oms.db import session_scope
    from oms.intake import prepare
    from oms.settings import get_settings

    with session_scope() as session:
        prepared = prepare(session, payload, get_settings().default_flow)
        if prepared.order is None:
            raise RuntimeError(f"order {payload['external_id']} exists already")
        session.add(prepared.order)
    return prepared.order, prepared.workflow_input


def order_payload(external_id: str, n: int) -> dict:
    """A prepaid consumer order the shipped audit rules approve (no rule fires)."""
    country, city, postal = COUNTRIES[n % len(COUNTRIES)]
    first = SKUS[n % len(SKUS)]
    lines = [{"sku": first[0], "qty": 1 + n % 3, "price": first[1]}]
    if n % 2:
        second = SKUS[(n * 7 + 3) % len(SKUS)]
        lines.append({"sku": second[0], "qty": 1, "price": second[1]})
    return {
        "channel": CHANNEL,
        "external_id": external_id,
        "customer": {"name": f"Bench Customer {n}", "email": f"bench{n}@example.com"},
        "shipping_address": {"name": f"Bench Customer {n}", "street": f"Benchstrasse {n}", "city": city,
                             "postal_code": postal, "country": country},
        "lines": lines,
        "payment": {"method": "card", "status": "paid"},
        # unique per order: the ip_velocity rule (5 an hour) must not hold anything
        "client_ip": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
    }


# ---- instrumentation --------------------------------------------------------------


class ActivityTimes:
    """Per (workflow type, activity): time in the executor thread, and in the worker overall."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.thread: dict[tuple[str, str], list[float]] = defaultdict(list)
            self.worker: dict[tuple[str, str], list[float]] = defaultdict(list)

    def add(self, table: dict, key: tuple[str, str], seconds: float) -> None:
        with self._lock:
            table[key].append(seconds)

    def summary(self, workflow_type: str) -> dict[str, dict]:
        out = {}
        for (wf, name), values in sorted(self.thread.items()):
            if wf != workflow_type:
                continue
            outer = self.worker.get((wf, name), [])
            out[name] = {
                "count": len(values),
                "thread_mean_ms": round(1000 * statistics.fmean(values), 2),
                "thread_p99_ms": round(1000 * percentile(values, 99), 2),
                "worker_mean_ms": round(1000 * statistics.fmean(outer), 2) if outer else None,
            }
        return out


TIMES = ActivityTimes()


def activity_timing_interceptor():
    from temporalio import activity
    from temporalio.worker import ActivityInboundInterceptor, Interceptor

    class Inbound(ActivityInboundInterceptor):
        async def execute_activity(self, input):
            info = activity.info()
            key = (info.workflow_type or "", info.activity_type)

            @functools.wraps(input.fn)
            def timed(*args):
                started = time.perf_counter()
                try:
                    return input.fn(*args)
                finally:
                    TIMES.add(TIMES.thread, key, time.perf_counter() - started)

            started = time.perf_counter()
            try:
                return await self.next.execute_activity(replace(input, fn=timed))
            finally:
                TIMES.add(TIMES.worker, key, time.perf_counter() - started)

    class Timing(Interceptor):
        def intercept_activity(self, next):
            return Inbound(next)

    return Timing()


# ---- one measured batch ----------------------------------------------------------


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


async def run_one(client, variant: str, payload: dict) -> dict:
    import anyio
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

    from activities.contracts import ExternalEvent, OrderResult
    from oms.intake import submit_order, workflow_id_for
    from oms.settings import get_settings

    started = time.perf_counter()
    if variant == "A":
        accepted = await submit_order(client, payload)
        if not accepted.created:
            raise RuntimeError(f"order {payload['external_id']} was not created")
        handle = client.get_workflow_handle(workflow_id_for(payload["channel"], payload["external_id"]),
                                            result_type=OrderResult)
    else:
        order, workflow_input = await anyio.to_thread.run_sync(store_order, payload)
        # A hand-written workflow has no definition to carry: the flow text stays out of its input.
        workflow_input = replace(workflow_input, flow_text="")
        handle = await client.start_workflow(
            VARIANTS["B"], workflow_input, id=order.workflow_id, task_queue=get_settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, result_type=OrderResult,
        )
    started_workflow = time.perf_counter()
    # The wait step keeps events that arrive early, so the signal need not wait for "shipped".
    await handle.signal("event", ExternalEvent(type="delivered"))
    result = await handle.result()
    finished = time.perf_counter()
    return {
        "workflow_id": handle.id,
        "status": result.status,
        "path": result.path,
        "latency": finished - started,
        "intake": started_workflow - started,
    }


async def run_batch(client, variant: str, tag: str, count: int, concurrency: int, progress: bool) -> dict:
    from tqdm import tqdm

    payloads = [order_payload(f"{tag}-{i:05d}", _counter()) for i in range(count)]
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    outcomes: list[dict] = []
    errors: list[str] = []
    bar = tqdm(total=count, desc=f"{tag:<10} {LABELS[variant]}", unit="order", leave=False, disable=not progress)

    async def lane() -> None:
        while True:
            try:
                payload = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                outcomes.append(await run_one(client, variant, payload))
            except Exception as exc:  # counted and reported, never hidden
                errors.append(f"{payload['external_id']}: {type(exc).__name__}: {exc}")
            bar.update(1)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
    wall = time.perf_counter() - started
    bar.close()
    latencies = [o["latency"] for o in outcomes]
    not_completed = [o for o in outcomes if o["status"] != "completed"]
    return {
        "variant": variant,
        "tag": tag,
        "orders": count,
        "completed": len(outcomes) - len(not_completed),
        "not_completed": [{"workflow_id": o["workflow_id"], "status": o["status"], "path": o["path"]} for o in not_completed],
        "errors": errors,
        "wall_s": round(wall, 3),
        "orders_per_s": round(len(outcomes) / wall, 2) if wall else 0.0,
        "p50_ms": round(1000 * percentile(latencies, 50), 1),
        "p99_ms": round(1000 * percentile(latencies, 99), 1),
        "intake_mean_ms": round(1000 * statistics.fmean(o["intake"] for o in outcomes), 1) if outcomes else None,
        "latencies_s": latencies,
        "workflow_ids": [o["workflow_id"] for o in outcomes],
        "paths": sorted({" > ".join(o["path"]) for o in outcomes}),
    }


_COUNT = iter(range(1, 1 << 30))


def _counter() -> int:
    return next(_COUNT)


# ---- Temporal history analysis ----------------------------------------------------


async def history_stats(client, workflow_ids: list[str]) -> dict:
    """Workflow tasks, activities and history size, from the server's own timestamps."""
    from temporalio.api.enums.v1 import EventType as E

    def ms(a, b) -> float:
        return (b.ToDatetime() - a.ToDatetime()).total_seconds() * 1000

    per: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, list[int]] = defaultdict(list)
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events = history.events
        scheduled: dict[int, Any] = {}
        wft_scheduled = wft_started = None
        n_wft = 0
        wft_exec = []
        acts: dict[int, str] = {}
        markers = 0
        for ev in events:
            t = ev.event_type
            if t == E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                wft_scheduled = ev.event_time
            elif t == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                wft_started = ev.event_time
                if wft_scheduled is not None:
                    per["wft_schedule_to_start_ms"].append(ms(wft_scheduled, ev.event_time))
            elif t == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                n_wft += 1
                if wft_started is not None:
                    wft_exec.append(ms(wft_started, ev.event_time))
            elif t == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                acts[ev.event_id] = ev.activity_task_scheduled_event_attributes.activity_type.name
                scheduled[ev.event_id] = ev.event_time
            elif t == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                sid = ev.activity_task_started_event_attributes.scheduled_event_id
                per[f"activity {acts[sid]} schedule_to_start_ms"].append(ms(scheduled[sid], ev.event_time))
                scheduled[-sid] = ev.event_time
            elif t == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                sid = ev.activity_task_completed_event_attributes.scheduled_event_id
                per[f"activity {acts[sid]} start_to_close_ms"].append(ms(scheduled[-sid], ev.event_time))
            elif t == E.EVENT_TYPE_MARKER_RECORDED:
                markers += 1
        per["wft_start_to_complete_ms"].extend(wft_exec)
        per["first_to_last_event_ms"].append(ms(events[0].event_time, events[-1].event_time))
        counts["events"].append(len(events))
        counts["workflow_tasks"].append(n_wft)
        counts["local_activity_markers"].append(markers)
        counts["history_bytes"].append(sum(ev.ByteSize() for ev in events))
        counts["start_input_bytes"].append(
            sum(p.ByteSize() for p in events[0].workflow_execution_started_event_attributes.input.payloads)
        )
    return {
        "workflows": len(workflow_ids),
        "per_workflow_mean": {k: round(statistics.fmean(v), 1) for k, v in sorted(counts.items())},
        "timings_mean_ms": {k: round(statistics.fmean(v), 2) for k, v in sorted(per.items())},
        "timings_p99_ms": {k: round(percentile(v, 99), 2) for k, v in sorted(per.items())},
        "wft_time_per_workflow_ms": round(sum(per["wft_start_to_complete_ms"]) / max(1, len(workflow_ids)), 2),
    }


# ---- the run ----------------------------------------------------------------------


async def benchmark(args: argparse.Namespace, database_label: str) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    import anyio.to_thread
    from temporalio.client import Client
    from temporalio.plugin import SimplePlugin

    from bench.handwritten import HandwrittenOrderWorkflow
    from oms.settings import get_settings
    from oms.worker import build_worker

    settings = get_settings()
    # Intake runs in anyio's thread pool; make sure it is not what limits the concurrency.
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(40, args.concurrency)

    # A client plugin adds the baseline workflow and the timing interceptor to the
    # worker that oms.worker.build_worker builds, without touching product code.
    plugin = SimplePlugin("oms-bench", workflows=[HandwrittenOrderWorkflow],
                          interceptors=[activity_timing_interceptor()])
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace, plugins=[plugin])
    rounds: list[dict] = []
    with ThreadPoolExecutor(max_workers=settings.worker_threads) as executor:
        worker = build_worker(client, executor)
        async with worker:
            progress = not args.no_progress
            if args.warmup:
                for variant in VARIANTS:
                    batch = await run_batch(client, variant, f"warm{variant}", args.warmup, args.concurrency, progress)
                    print(f"warm-up  {LABELS[variant]:<31} {batch['orders_per_s']:7.2f} orders/s  (not counted)", flush=True)
                    _check(batch)
            TIMES.reset()
            for n in range(1, args.rounds + 1):
                for variant in VARIANTS:
                    batch = await run_batch(client, variant, f"r{n}{variant}", args.orders, args.concurrency, progress)
                    batch["round"] = n
                    rounds.append(batch)
                    print(f"round {n}  {LABELS[variant]:<31} {batch['orders_per_s']:7.2f} orders/s  "
                          f"wall {batch['wall_s']:6.2f}s  p50 {batch['p50_ms']:7.1f} ms  p99 {batch['p99_ms']:7.1f} ms",
                          flush=True)
                    _check(batch)
            activity_times = {v: TIMES.summary(VARIANTS[v]) for v in VARIANTS}
            histories = {}
            if args.history_sample:
                for variant in VARIANTS:
                    last = [r for r in rounds if r["variant"] == variant][-1]
                    histories[variant] = await history_stats(client, last["workflow_ids"][: args.history_sample])
    return summarize(args, database_label, rounds, activity_times, histories)


def _check(batch: dict) -> None:
    if batch["errors"] or batch["not_completed"]:
        print(f"  !! {batch['tag']}: {len(batch['errors'])} errors, {len(batch['not_completed'])} not completed",
              file=sys.stderr)
        for line in batch["errors"][:5]:
            print(f"     {line}", file=sys.stderr)
        for item in batch["not_completed"][:5]:
            print(f"     {item}", file=sys.stderr)


def summarize(args, database_label: str, rounds: list[dict], activity_times: dict, histories: dict) -> dict:
    variants = {}
    for variant, workflow_type in VARIANTS.items():
        mine = [r for r in rounds if r["variant"] == variant]
        latencies = [x for r in mine for x in r["latencies_s"]]
        variants[variant] = {
            "workflow_type": workflow_type,
            "label": LABELS[variant],
            "orders_per_s_rounds": [r["orders_per_s"] for r in mine],
            "orders_per_s_mean": round(statistics.fmean(r["orders_per_s"] for r in mine), 2),
            "orders_per_s_median": round(statistics.median(r["orders_per_s"] for r in mine), 2),
            "p50_ms": round(1000 * percentile(latencies, 50), 1),
            "p99_ms": round(1000 * percentile(latencies, 99), 1),
            "intake_mean_ms": round(statistics.fmean(r["intake_mean_ms"] for r in mine), 1),
            "errors": sum(len(r["errors"]) for r in mine),
            "not_completed": sum(len(r["not_completed"]) for r in mine),
            "paths": sorted({p for r in mine for p in r["paths"]}),
            "activities": activity_times.get(variant, {}),
            "history": histories.get(variant),
        }
    ratio = variants["A"]["orders_per_s_mean"] / variants["B"]["orders_per_s_mean"]
    return {
        "benchmark": "flow_overhead",
        "orders": args.orders,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "database": database_label,
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "variants": variants,
        "ratio_interpreter_to_handwritten": round(ratio, 3),
        "target_ratio": 0.95,
        "rounds_detail": [{k: v for k, v in r.items() if k not in ("latencies_s", "workflow_ids")} for r in rounds],
    }


def print_report(report: dict) -> None:
    a, b = report["variants"]["A"], report["variants"]["B"]
    line = "-" * 78
    print()
    print(line)
    print(f"flow_overhead: {report['orders']} orders per round, concurrency {report['concurrency']}, "
          f"{report['rounds']} rounds per variant (interleaved), warm-up {report['warmup']}")
    print(f"database: {report['database']}")
    print(line)
    for v in (a, b):
        rounds = "  ".join(f"{x:7.2f}" for x in v["orders_per_s_rounds"])
        print(f"{v['label']:<31} orders/s per round: {rounds}   mean {v['orders_per_s_mean']:7.2f}")
    print()
    for v in (a, b):
        print(f"{v['label']:<31} latency p50 {v['p50_ms']:7.1f} ms   p99 {v['p99_ms']:7.1f} ms   "
              f"intake mean {v['intake_mean_ms']:6.1f} ms   failures {v['errors'] + v['not_completed']}")
    print()
    ratio = report["ratio_interpreter_to_handwritten"]
    verdict = "meets" if ratio >= report["target_ratio"] else "BELOW"
    print(f"ratio interpreter/handwritten (mean orders/s): {ratio:.3f}   ({verdict} the target {report['target_ratio']})")
    print(line)
    print("in-worker activity time, mean ms (executor thread)   [A interpreter | B handwritten]")
    names = sorted(set(a["activities"]) | set(b["activities"]))
    for name in names:
        xa, xb = a["activities"].get(name, {}), b["activities"].get(name, {})
        print(f"  {name:<18} {xa.get('thread_mean_ms', float('nan')):8.2f} | {xb.get('thread_mean_ms', float('nan')):8.2f}"
              f"   (p99 {xa.get('thread_p99_ms', float('nan')):7.2f} | {xb.get('thread_p99_ms', float('nan')):7.2f};"
              f" incl. executor queue {xa.get('worker_mean_ms') or float('nan'):7.2f} | {xb.get('worker_mean_ms') or float('nan'):7.2f})")
    if a["history"] and b["history"]:
        ha, hb = a["history"], b["history"]
        print(f"Temporal history, mean per workflow over {ha['workflows']} | {hb['workflows']} workflows of the last round")
        for key in ha["per_workflow_mean"]:
            print(f"  {key:<40} {ha['per_workflow_mean'][key]:10.1f} | {hb['per_workflow_mean'].get(key, float('nan')):10.1f}")
        print(f"  {'workflow task time per workflow (ms)':<40} {ha['wft_time_per_workflow_ms']:10.2f} | {hb['wft_time_per_workflow_ms']:10.2f}")
        for key in ha["timings_mean_ms"]:
            print(f"  {key + ' (mean)':<60} {ha['timings_mean_ms'][key]:8.2f} | {hb['timings_mean_ms'].get(key, float('nan')):8.2f}")
    print(line)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM takes the same clean-up path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="oms-bench-"))
    server = None
    pg_name = None
    try:
        if args.postgres:
            pg_name = f"oms_bench_{os.getpid()}"
            database_url = create_postgres_database(args.postgres_server, pg_name)
            database_label = f"PostgreSQL {database_url}"
        elif args.database_url:
            database_url = args.database_url
            database_label = database_url
        else:
            database_url = f"sqlite:///{workdir / 'oms.db'}"
            database_label = f"SQLite {database_url}"
        port = free_port()
        print(f"starting the Temporal dev server on 127.0.0.1:{port} (data in {workdir})", flush=True)
        server = start_dev_server(workdir / "temporal.db", port, None, log_file=workdir / "temporal.log")
        configure_environment(database_url, workdir, port)
        started = time.perf_counter()
        prepared = prepare_database()
        print(f"database ready in {time.perf_counter() - started:.1f}s: published {', '.join(prepared['published']) or 'nothing new'}",
              flush=True)
        report = asyncio.run(benchmark(args, database_label))
        print_report(report)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.output}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        _cleanup(server, workdir, args, pg_name)


def _cleanup(server, workdir: Path, args: argparse.Namespace, pg_name: str | None) -> None:
    # Ctrl-C during clean-up must not leave the server behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if "oms.db" in sys.modules:
        try:
            from oms.db import get_engine

            get_engine().dispose()
        except Exception as exc:
            print(f"could not close the database pool: {exc}", file=sys.stderr)
    if server is not None and server.poll() is None:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except ProcessLookupError:
            pass
        except Exception:
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait(timeout=5)
    if pg_name:
        try:
            drop_postgres_database(args.postgres_server, pg_name)
        except Exception as exc:
            print(f"could not drop database {pg_name}: {exc}", file=sys.stderr)
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
