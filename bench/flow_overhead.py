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
import logging
import os
import platform
import re
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
from oms.temporal.dev_server import free_port, start_dev_server  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "flow_overhead.json"
CHANNEL = "web"
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
    parser.add_argument("--warmup", type=int, default=None,
                        help="unmeasured orders per variant first (default: max(20, concurrency))")
    parser.add_argument("--schedule", choices=("abba", "abab"), default="abba",
                        help="round order: abba (default) alternates which variant goes first, so a drift over "
                             "the run (caches, pools warming up) favours neither; abab always runs A first")
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
    if args.warmup is None:
        args.warmup = max(20, args.concurrency)
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


# ---- fairness guard -------------------------------------------------------------

# The sandbox executes each workflow's module again for every workflow run; a
# module without valid cached bytecode is compiled from source each time (this
# happens under PYTHONDONTWRITEBYTECODE=1). Both variants must be in the same case.
WORKFLOW_MODULES = {"A": ["workflows/__init__.py", "workflows/order.py"], "B": ["bench/__init__.py", "bench/handwritten.py"]}


def bytecode_cached(relative: str) -> bool:
    """True when a .pyc matching the source's mtime and size is there (what importlib would use)."""
    import importlib.util

    source = ROOT / relative
    try:
        data = Path(importlib.util.cache_from_source(str(source))).read_bytes()[:16]
        st = source.stat()
    except OSError:
        return False
    if len(data) < 16 or int.from_bytes(data[4:8], "little") != 0:
        return False  # hash-based pycs: treat as not comparable
    return (int.from_bytes(data[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(data[12:16], "little") == st.st_size & 0xFFFFFFFF)


def bytecode_state() -> dict:
    state = {v: {m: bytecode_cached(m) for m in mods} for v, mods in WORKFLOW_MODULES.items()}
    state["same_for_both"] = set(state["A"].values()) == set(state["B"].values()) and len(set(state["A"].values())) == 1
    state["dont_write_bytecode"] = sys.dont_write_bytecode
    return state


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
    """What ``services.orders.intake.submit_order`` stores before it starts the workflow (fresh ids only)."""
    from oms.db import session_scope
    from oms.settings import get_settings
    from services.orders.intake import prepare

    with session_scope() as session:
        prepared = prepare(session, payload, None)
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
PHASE = {"variant": ""}  # which variant is running now (phases never overlap)


class DatabaseTimes:
    """Where database time goes: waiting to begin (SQLite's write lock), statements, whole transactions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.values: dict[tuple[str, str], list[float]] = defaultdict(list)

    def add(self, what: str, seconds: float) -> None:
        with self._lock:
            self.values[(PHASE["variant"], what)].append(seconds)

    def summary(self, variant: str) -> dict[str, dict]:
        with self._lock:
            items = [(what, v) for (var, what), v in self.values.items() if var == variant]
        return {
            what: {"count": len(v), "mean_ms": round(1000 * statistics.fmean(v), 2),
                   "p99_ms": round(1000 * percentile(v, 99), 2), "total_s": round(sum(v), 2)}
            for what, v in sorted(items)
        }

    def attach(self, engine) -> None:
        from sqlalchemy import event

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, parameters, context, executemany):
            conn.info.setdefault("bench_t0", []).append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, parameters, context, executemany):
            started = conn.info["bench_t0"].pop()
            verb = statement.lstrip().split(None, 1)[0].upper()
            self.add("BEGIN (wait for the lock)" if verb == "BEGIN" else f"{verb} statement", time.perf_counter() - started)

        # Registered after oms.db's own "begin" listener, so on SQLite this runs once the lock is held.
        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.info["bench_tx"] = time.perf_counter()

        def _end(conn):
            started = conn.info.pop("bench_tx", None)
            if started is not None:
                self.add("transaction (begin to commit)", time.perf_counter() - started)

        event.listen(engine, "commit", _end)
        event.listen(engine, "rollback", _end)


DB_TIMES = DatabaseTimes()


class CoreLogCounter(logging.Handler):
    """Counts the SDK core's warnings (e.g. TMPRL1104 workflow task over 5 s) per workflow type."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = defaultdict(int)

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        match = re.search(r"\[(TMPRL\d+)\]", text)
        fields = getattr(getattr(record, "temporal_log", None), "fields", None) or {}
        workflow_type = fields.get("workflow_type") or "?"
        self.counts[f"{match.group(1) if match else 'other'} {workflow_type}"] += 1


CORE_LOG = CoreLogCounter()


def temporal_runtime(log_file: Path):
    """A runtime whose core warnings go to a file and a counter, not over the report."""
    from temporalio.runtime import (
        LogForwardingConfig,
        LoggingConfig,
        Runtime,
        TelemetryConfig,
        TelemetryFilter,
    )

    logger = logging.getLogger("bench.temporal_core")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(log_file, mode="w", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(file_handler)
    logger.addHandler(CORE_LOG)
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logger),
    )))


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


class CpuClock:
    """CPU seconds used by this process (all threads) and by the Temporal server process."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def _server(self) -> float:
        try:
            fields = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self.ticks  # utime + stime
        except (OSError, TypeError, IndexError, ValueError):
            return float("nan")

    def _machine(self) -> float:
        """Busy CPU seconds of the whole machine (every core, every process)."""
        try:
            values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            return (sum(values[:8]) - values[3] - values[4]) / self.ticks  # minus idle and iowait
        except (OSError, ValueError, IndexError):
            return float("nan")

    def read(self) -> tuple[float, float, float]:
        return time.process_time(), self._server(), self._machine()


CPU: CpuClock | None = None


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

    from oms.settings import get_settings
    from services.orders.intake import submit_order, workflow_id_for
    from workflows.contracts import ExternalEvent, OrderResult

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
        "order_id": result.order_id,
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
    PHASE["variant"] = variant
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

    cpu_before = CPU.read() if CPU else (float("nan"),) * 3
    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(concurrency, count))))
    wall = time.perf_counter() - started
    cpu_after = CPU.read() if CPU else (float("nan"),) * 3
    used = [after - before for before, after in zip(cpu_before, cpu_after)]
    done = max(1, len(outcomes))
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
        # this process: intake + client + worker (workflows and activities); the server: Temporal
        "cpu_ms_per_order_python": round(1000 * used[0] / done, 1),
        "cpu_ms_per_order_temporal": round(1000 * used[1] / done, 1),
        # everything else on the machine (PostgreSQL, other people's jobs), in busy cores
        "other_load_cores": round((used[2] - used[0] - used[1]) / wall, 2) if wall else None,
        "latencies_s": latencies,
        "order_ids": [o["order_id"] for o in outcomes],
        "workflow_ids": [o["workflow_id"] for o in outcomes],
        "paths": sorted({" > ".join(o["path"]) for o in outcomes}),
    }


_COUNT = iter(range(1, 1 << 30))


def _counter() -> int:
    return next(_COUNT)


# ---- same side effects? ------------------------------------------------------------


def timeline_shape(order_id: str) -> dict:
    """What the activities wrote for one order, without values that differ per order."""
    from sqlmodel import select

    from oms.db import session_scope
    from oms.models import Order, OrderEvent, Shipment, StockMovement

    with session_scope() as session:
        order = session.get(Order, order_id)
        events = session.exec(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.seq)).all()
        moves = session.exec(select(StockMovement.operation).where(StockMovement.order_id == order_id)).all()
        shipments = session.exec(select(Shipment.id).where(Shipment.order_id == order_id)).all()
        return {
            "status": order.status,
            "audit": (order.audit or {}).get("action"),
            "timeline": [(e.seq, e.type, e.step) for e in events],
            "ledger": sorted(set(moves)),  # the number of lines differs per order, not per variant
            "shipments": len(shipments),
        }


def compare_side_effects(rounds: list[dict]) -> dict:
    """Every order of the last round of each variant: the timelines must have one shape, the same for A and B."""
    shapes = {}
    for variant in VARIANTS:
        last = [r for r in rounds if r["variant"] == variant][-1]
        seen = {json.dumps(timeline_shape(oid), sort_keys=True) for oid in last["order_ids"]}
        shapes[variant] = sorted(seen)
    identical = len(shapes["A"]) == 1 and shapes["A"] == shapes["B"]
    return {"identical": identical, "shapes": {v: [json.loads(x) for x in s] for v, s in shapes.items()}}


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
    # SIGTERM cancels the run like Ctrl-C does, so the worker shuts down in order.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    # Intake runs in anyio's thread pool; make sure it is not what limits the concurrency.
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(40, args.concurrency)

    # A client plugin adds the baseline workflow and the timing interceptor to the
    # worker that oms.worker.build_worker builds, without touching product code.
    plugin = SimplePlugin("oms-bench", workflows=[HandwrittenOrderWorkflow],
                          interceptors=[activity_timing_interceptor()])
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace, plugins=[plugin],
                                  runtime=temporal_runtime(args.output.with_name(args.output.stem + "_core.log")))
    from oms.db import get_engine

    DB_TIMES.attach(get_engine())
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
            DB_TIMES.reset()
            CORE_LOG.counts.clear()
            for n in range(1, args.rounds + 1):
                order = list(VARIANTS)
                if args.schedule == "abba" and n % 2 == 0:
                    order.reverse()
                for variant in order:
                    batch = await run_batch(client, variant, f"r{n}{variant}", args.orders, args.concurrency, progress)
                    batch["round"] = n
                    rounds.append(batch)
                    print(f"round {n}  {LABELS[variant]:<31} {batch['orders_per_s']:7.2f} orders/s  "
                          f"wall {batch['wall_s']:6.2f}s  p50 {batch['p50_ms']:7.1f} ms  p99 {batch['p99_ms']:7.1f} ms  "
                          f"CPU/order {batch['cpu_ms_per_order_python']:5.1f} ms python + "
                          f"{batch['cpu_ms_per_order_temporal']:5.1f} ms temporal  "
                          f"other load {batch['other_load_cores']:.2f} cores", flush=True)
                    _check(batch)
            activity_times = {v: TIMES.summary(VARIANTS[v]) for v in VARIANTS}
            db_times = {v: DB_TIMES.summary(v) for v in VARIANTS}
            core_warnings = dict(CORE_LOG.counts)
            side_effects = await asyncio.to_thread(compare_side_effects, rounds)
            histories = {}
            if args.history_sample:
                for variant in VARIANTS:
                    last = [r for r in rounds if r["variant"] == variant][-1]
                    histories[variant] = await history_stats(client, last["workflow_ids"][: args.history_sample])
    report = summarize(args, database_label, rounds, activity_times, histories, side_effects)
    for variant in VARIANTS:
        mine = report["variants"][variant]
        mine["database_time"] = db_times[variant]
        wall = sum(r["wall_s"] for r in rounds if r["variant"] == variant)
        held = db_times[variant].get("transaction (begin to commit)", {}).get("total_s", 0.0)
        # On SQLite every transaction holds the one write lock (BEGIN IMMEDIATE): this is how busy it was.
        mine["transactions_open_per_wall_second"] = round(held / wall, 3) if wall else None
    report["sdk_core_warnings_measured_rounds"] = core_warnings
    return report


def _check(batch: dict) -> None:
    if batch["errors"] or batch["not_completed"]:
        print(f"  !! {batch['tag']}: {len(batch['errors'])} errors, {len(batch['not_completed'])} not completed",
              file=sys.stderr)
        for line in batch["errors"][:5]:
            print(f"     {line}", file=sys.stderr)
        for item in batch["not_completed"][:5]:
            print(f"     {item}", file=sys.stderr)


def summarize(args, database_label: str, rounds: list[dict], activity_times: dict, histories: dict,
              side_effects: dict) -> dict:
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
            "orders_per_s_stdev": round(statistics.stdev(r["orders_per_s"] for r in mine), 2) if len(mine) > 1 else None,
            "intake_mean_ms": round(statistics.fmean(r["intake_mean_ms"] for r in mine), 1),
            "cpu_ms_per_order_python": round(statistics.fmean(r["cpu_ms_per_order_python"] for r in mine), 1),
            "cpu_ms_per_order_temporal": round(statistics.fmean(r["cpu_ms_per_order_temporal"] for r in mine), 1),
            "other_load_cores_mean": round(statistics.fmean(r["other_load_cores"] for r in mine), 2),
            "errors": sum(len(r["errors"]) for r in mine),
            "not_completed": sum(len(r["not_completed"]) for r in mine),
            "paths": sorted({p for r in mine for p in r["paths"]}),
            "activities": activity_times.get(variant, {}),
            "history": histories.get(variant),
        }
    ratio = variants["A"]["orders_per_s_mean"] / variants["B"]["orders_per_s_mean"]
    by_round = defaultdict(dict)
    for r in rounds:
        by_round[r["round"]][r["variant"]] = r["orders_per_s"]
    round_ratios = [round(v["A"] / v["B"], 3) for _, v in sorted(by_round.items())]
    return {
        "benchmark": "flow_overhead",
        "orders": args.orders,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "database": database_label,
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                 "load_average_at_end": os.getloadavg()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "variants": variants,
        "ratio_interpreter_to_handwritten": round(ratio, 3),
        "ratio_per_round": round_ratios,
        "target_ratio": 0.95,
        "schedule": args.schedule,
        "bytecode_cache": bytecode_state(),
        "side_effects": side_effects,
        "rounds_detail": [{k: v for k, v in r.items() if k not in ("latencies_s", "workflow_ids", "order_ids")}
                          for r in rounds],
    }


def print_report(report: dict) -> None:
    a, b = report["variants"]["A"], report["variants"]["B"]
    line = "-" * 78
    print()
    print(line)
    print(f"flow_overhead: {report['orders']} orders per round, concurrency {report['concurrency']}, "
          f"{report['rounds']} rounds per variant (interleaved {report['schedule'].upper()}), warm-up {report['warmup']}")
    print(f"database: {report['database']}")
    cache = report["bytecode_cache"]
    print(f"workflow modules from cached bytecode: A {'yes' if all(cache['A'].values()) else 'no'}, "
          f"B {'yes' if all(cache['B'].values()) else 'no'}"
          + ("" if cache["same_for_both"] else "   !! NOT THE SAME FOR BOTH: the comparison is unfair, see bytecode_cache in the JSON"))
    print(line)
    for v in (a, b):
        rounds = "  ".join(f"{x:7.2f}" for x in v["orders_per_s_rounds"])
        print(f"{v['label']:<31} orders/s per round: {rounds}   mean {v['orders_per_s_mean']:7.2f}")
    print()
    for v in (a, b):
        print(f"{v['label']:<31} latency p50 {v['p50_ms']:7.1f} ms   p99 {v['p99_ms']:7.1f} ms   "
              f"intake mean {v['intake_mean_ms']:6.1f} ms   failures {v['errors'] + v['not_completed']}")
    print()
    for v in (a, b):
        print(f"{v['label']:<31} CPU per order: {v['cpu_ms_per_order_python']:5.1f} ms this process "
              f"(intake, client, worker) + {v['cpu_ms_per_order_temporal']:5.1f} ms Temporal server;"
              f" rest of the machine busy {v['other_load_cores_mean']:.2f} cores"
              + (" (PostgreSQL and others)" if report["database"].startswith("PostgreSQL") else " (others)"))
    print()
    ratio = report["ratio_interpreter_to_handwritten"]
    verdict = "meets" if ratio >= report["target_ratio"] else "BELOW"
    print(f"ratio interpreter/handwritten (mean orders/s): {ratio:.3f}   ({verdict} the target {report['target_ratio']})"
          f"   per round: {', '.join(f'{x:.3f}' for x in report['ratio_per_round'])}")
    same = report["side_effects"]["identical"]
    print(f"side effects of every order (timeline seq/type/step, status, audit, ledger, shipment) identical in A and B: "
          f"{'yes' if same else 'NO, see the JSON'}")
    print(line)
    print("in-worker activity time, mean ms (executor thread)   [A interpreter | B handwritten]")
    names = sorted(set(a["activities"]) | set(b["activities"]))
    for name in names:
        xa, xb = a["activities"].get(name, {}), b["activities"].get(name, {})
        print(f"  {name:<18} {xa.get('thread_mean_ms', float('nan')):8.2f} | {xb.get('thread_mean_ms', float('nan')):8.2f}"
              f"   (p99 {xa.get('thread_p99_ms', float('nan')):7.2f} | {xb.get('thread_p99_ms', float('nan')):7.2f};"
              f" incl. executor queue {xa.get('worker_mean_ms') or float('nan'):7.2f} | {xb.get('worker_mean_ms') or float('nan'):7.2f})")
    da, db = a.get("database_time", {}), b.get("database_time", {})
    if da:
        print("database time seen by SQLAlchemy, mean ms (p99) per call   [A | B]")
        for what in sorted(set(da) | set(db)):
            xa, xb = da.get(what, {}), db.get(what, {})
            print(f"  {what:<32} {xa.get('mean_ms', float('nan')):8.2f} ({xa.get('p99_ms', float('nan')):8.2f}) | "
                  f"{xb.get('mean_ms', float('nan')):8.2f} ({xb.get('p99_ms', float('nan')):8.2f})   "
                  f"calls {xa.get('count', 0)} | {xb.get('count', 0)}")
        print(f"  {'transaction time / wall time':<32} {a.get('transactions_open_per_wall_second') or 0:8.3f}            | "
              f"{b.get('transactions_open_per_wall_second') or 0:8.3f}   "
              + ("(the share of time SQLite's one write lock was held)" if report["database"].startswith("SQLite")
                 else "(transactions open at once, on average)"))
    if report.get("sdk_core_warnings_measured_rounds"):
        print("SDK core warnings in the measured rounds: " + ", ".join(
            f"{k}: {v}" for k, v in sorted(report["sdk_core_warnings_measured_rounds"].items())))
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
    # Ctrl-C even when started in the background (where SIGINT arrives ignored), and
    # SIGTERM, take the same clean-up path; asyncio.run turns it into a cancellation.
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
        cache = bytecode_state()
        if not cache["same_for_both"]:
            print(f"warning: cached bytecode differs between the variants' workflow modules: {cache}", file=sys.stderr)
        port = free_port()
        print(f"starting the Temporal dev server on 127.0.0.1:{port} (data in {workdir})", flush=True)
        server = start_dev_server(workdir / "temporal.db", port, None, log_file=workdir / "temporal.log")
        global CPU
        CPU = CpuClock(server.pid)
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
    except (KeyboardInterrupt, asyncio.CancelledError):
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
