"""Intake under load: orders posted at a fixed rate, accepted per second, latency, and nothing lost.

An open-loop load generator: order ``i`` is sent at ``t0 + i / rate`` whether
or not the earlier ones have been answered, and its latency is measured from
that scheduled time, so a server that falls behind shows it as queueing
instead of slowing the generator down (no coordinated omission). The service
time (from the moment the request actually left) is reported beside it.

Orders are unique ordinary orders from bench/traffic.py of one channel,
posted to ``POST /api/orders`` as the dev user ``channel``, or with
``--webhook`` as the channel's native payload (the inverse of its mapping),
HMAC-signed, to ``POST /api/channels/{channel}/orders``.

Afterwards every order sent is looked up in Temporal (describe by the
workflow id intake derives from channel and external id) and in the read
model: "nothing lost" means every 201 has its order row and its workflow.

Targets (from the issue): 100 orders/s sustained for 60 s with p99 at most
50 ms and no errors; a burst of 30 times the daily average rate accepted with
nothing lost.

    .venv/bin/python bench/intake_load.py                  # 100/s for 60 s, worker running
    .venv/bin/python bench/intake_load.py --no-worker      # intake alone, workflows wait in Temporal's queue
    .venv/bin/python bench/intake_load.py --burst          # 3.5/s x 30 = 105/s for 20 s, then time to audit all
    .venv/bin/python bench/intake_load.py --webhook --channel marketplace --rate 50
    .venv/bin/python bench/intake_load.py --url http://127.0.0.1:8000 --temporal-address 127.0.0.1:7233
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.demo_traffic import EmbeddedStack, login  # noqa: E402
from bench.flow_overhead import percentile  # noqa: E402
from bench.traffic import TrafficGenerator  # noqa: E402

RESULTS = ROOT / "bench" / "results"
CHANNELS_DIR = ROOT / "definitions" / "channels"
TARGET_RATE = 100.0
TARGET_P99_MS = 50.0
BURST_FACTOR = 30
WINDOW_S = 10  # latency trend: one line per window of this many seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="orders per second offered (default 100)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument("--channel", default="web", help="channel of every order (default web; the shipped ones: "
                                                         "web, marketplace, store, phone)")
    parser.add_argument("--webhook", action="store_true",
                        help="post the channel's signed native payload to /api/channels/{channel}/orders "
                             "instead of the canonical order to /api/orders")
    parser.add_argument("--worker", action=argparse.BooleanOptionalAction, default=True,
                        help="keep the stack's worker running during the load (default; it competes for the "
                             "cores as in production); --no-worker stops it first, so intake is measured alone "
                             "and the workflows wait in Temporal's queue")
    parser.add_argument("--burst", action="store_true",
                        help="burst mode: --daily-average x 30 orders/s for --burst-seconds (overrides --rate and "
                             "--duration), then the time until every burst order is audited")
    parser.add_argument("--daily-average", type=float, default=3.5,
                        help="daily average orders/s for --burst (default 3.5, about 300k orders a day)")
    parser.add_argument("--burst-seconds", type=float, default=20, help="length of the burst (default 20 s)")
    parser.add_argument("--audit-timeout", type=float, default=600,
                        help="--burst: longest wait for the audits after the burst (default 600 s)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="orders sent (4 in flight) before the measured load, left out of the figures "
                             "(default 20)")
    parser.add_argument("--connections", type=int, default=256,
                        help="most requests in flight, one HTTP connection each (default 256); later ones wait "
                             "for a free connection, their latency still counted from the scheduled time")
    parser.add_argument("--timeout", type=float, default=60, help="HTTP timeout per request (default 60 s)")
    parser.add_argument("--seed", type=int, default=20261121, help="traffic seed (default %(default)s)")
    parser.add_argument("--url", default=None, help="target a running stack instead of starting one")
    parser.add_argument("--password", default=os.environ.get("OMS_DEV_PASSWORD", "oms-dev"),
                        help="with --url: the dev password of the user `channel` (default $OMS_DEV_PASSWORD or oms-dev)")
    parser.add_argument("--temporal-address", default=os.environ.get("OMS_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
                        help="with --url: the stack's Temporal frontend (default $OMS_TEMPORAL_ADDRESS or 127.0.0.1:7233)")
    parser.add_argument("--namespace", default=os.environ.get("OMS_TEMPORAL_NAMESPACE", "default"),
                        help="with --url: Temporal namespace (default $OMS_TEMPORAL_NAMESPACE or default)")
    parser.add_argument("--secret", default=None,
                        help="--webhook: the channel's shared secret (default: $<secret_env> of the channel "
                             "definition, else the dev secret dev-secret-<channel>)")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON results (default bench/results/intake_load.json; intake_load_no_worker.json "
                             "with --no-worker, intake_load_burst.json with --burst)")
    args = parser.parse_args(argv)
    if args.burst:
        args.rate = args.daily_average * BURST_FACTOR
        args.duration = args.burst_seconds
    if args.rate <= 0 or args.duration <= 0:
        parser.error("the rate and the duration must be positive")
    if args.warmup < 0 or args.connections < 1:
        parser.error("--warmup must be at least 0 and --connections at least 1")
    if args.url and not args.worker:
        parser.error("--no-worker stops the embedded stack's worker; with --url, stop the target's workers yourself")
    if not (CHANNELS_DIR / f"{args.channel}.yaml").exists():
        known = ", ".join(sorted(p.stem for p in CHANNELS_DIR.glob("*.yaml")))
        parser.error(f"unknown channel {args.channel!r}; the shipped channels are {known}")
    if args.output is None:
        suffix = "_burst" if args.burst else ("_no_worker" if not args.worker else "")
        args.output = RESULTS / f"intake_load{suffix}.json"
    return args


# ---- the orders and how they are sent -------------------------------------------------------


@dataclass
class Outgoing:
    """One order, ready to send: the request body is serialized (and signed) before the clock starts."""

    channel: str
    external_id: str
    order_id: str
    workflow_id: str
    body: bytes
    headers: dict[str, str]


def load_channel(name: str):
    from engine.definitions import compile_text

    return compile_text((CHANNELS_DIR / f"{name}.yaml").read_text("utf-8"))


def _put(target: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _native_value(leaf, value: Any, field_name: str) -> Any:
    """The value a channel would send for ``value``: the mapping's conversions run backwards."""
    if leaf.table is not None:
        codes = [code for code, canonical in leaf.table.items() if canonical == value]
        if not codes:
            raise ValueError(f"{field_name}: {value!r} has no code in the channel's table")
        value = codes[0]
    if leaf.multiply is not None:
        value = value / leaf.multiply
    if leaf.divide is not None:
        value = value * leaf.divide
        if abs(value - round(value)) < 1e-6:
            value = int(round(value))  # cents are whole numbers
    return value


def _unmap(fields: dict, canonical: dict, native: dict, prefix: str = "") -> None:
    from engine.channels import Each

    for name, mapper in fields.items():
        if name not in canonical:
            continue
        value, field_name = canonical[name], f"{prefix}{name}"
        if isinstance(mapper, dict):
            _unmap(mapper, value, native, field_name + ".")
        elif isinstance(mapper, Each):
            items = []
            for i, row in enumerate(value):
                item: dict = {}
                _unmap(mapper.fields, row, item, f"{field_name}[{i}].")
                items.append(item)
            _put(native, mapper.path, items)
        elif mapper.path is not None:  # a constant is the channel's to add, not the sender's
            _put(native, mapper.path, _native_value(mapper, value, field_name))


def native_payload(channel, order: dict) -> dict:
    """What ``channel`` posts for the canonical ``order``: the inverse of its mapping.

    Fields the mapping does not carry (the marketplace has no region, the store
    no client IP) are lost on the way, as they would be from the real channel.
    """
    if channel.mapping is None:
        return {k: v for k, v in order.items() if k != "channel"}
    native: dict = {}
    _unmap(channel.mapping, order, native)
    return native


def _differences(expected: Any, got: Any, path: str = "") -> list[str]:
    """Paths where the order a native payload maps back to differs from the generated one."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got)):
            out += _differences(expected.get(key), got.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [d for i, (a, b) in enumerate(zip(expected, got)) for d in _differences(a, b, f"{path}[]")]
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)) and abs(expected - got) < 1e-6:
        return []
    return [] if expected == got else [path]


def channel_secret(channel, override: str | None) -> str | None:
    """As services.orders.channels.channel_secret on a dev-mode stack with this process's environment."""
    if override:
        return override
    if not channel.secret_env:
        return None
    return os.environ.get(channel.secret_env) or f"dev-secret-{channel.name}"


def build_orders(args: argparse.Namespace, count: int, run_tag: str) -> tuple[list[Outgoing], dict]:
    """``count`` unique ordinary orders of ``args.channel``, serialized; returns them and notes on the payloads."""
    from services.orders.channels import SIGNATURE_HEADER, sign
    from services.orders.intake import order_id_for, workflow_id_for

    generator = TrafficGenerator(args.seed, "ordinary", run_tag=run_tag)
    channel = load_channel(args.channel)
    secret = channel_secret(channel, args.secret) if args.webhook else None
    if args.webhook and secret is None:
        raise SystemExit(f"channel {args.channel!r} takes no webhooks: its definition names no secret_env")
    out: list[Outgoing] = []
    segments: Counter = Counter()
    lost_fields: Counter = Counter()
    drawn = 0
    while len(out) < count:
        item = generator.order()
        drawn += 1
        if item.payload["channel"] != args.channel:
            continue
        order = item.payload
        segments[item.pattern] += 1
        if args.webhook:
            native = native_payload(channel, order)
            back = channel.to_order(native)
            lost_fields.update(_differences(order, back))
            body = json.dumps(native, ensure_ascii=False).encode()
            headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(secret, body)}
        else:
            body = json.dumps(order, ensure_ascii=False).encode()
            headers = {"content-type": "application/json"}
        external_id = str(order["external_id"])
        out.append(Outgoing(args.channel, external_id, order_id_for(args.channel, external_id),
                            workflow_id_for(args.channel, external_id), body, headers))
    notes = {"segments": dict(segments.most_common()), "generated_to_pick_channel": drawn,
             "mean_body_bytes": round(sum(len(o.body) for o in out) / max(1, len(out)))}
    if args.webhook:
        notes["fields_the_mapping_drops"] = dict(lost_fields.most_common())
    return out, notes


# ---- the open-loop load ------------------------------------------------------------------------


@dataclass
class Outcome:
    scheduled: float  # seconds after t0
    started: float = float("nan")  # the generator got round to it (late only if the generator is overloaded)
    sent: float = float("nan")  # it had a connection and left
    done: float = float("nan")
    status: int | None = None
    error: str | None = None
    detail: str | None = None

    @property
    def latency_ms(self) -> float:
        return 1000 * (self.done - self.scheduled)

    @property
    def service_ms(self) -> float:
        return 1000 * (self.done - self.sent)

    @property
    def generator_lag_ms(self) -> float:
        return 1000 * (self.started - self.scheduled)

    @property
    def connection_wait_ms(self) -> float:
        return 1000 * (self.sent - self.started)


@dataclass
class LoadState:
    in_flight: int = 0
    peak_in_flight: int = 0
    progress: Counter = field(default_factory=Counter)


class ConnectionSlots:
    """``connections`` HTTP connections over small httpx clients, lent out one request at a time.

    httpx's pool checks every connection it holds on each request and response,
    so one client with hundreds of connections made the generator the
    bottleneck under backlog; clients of at most ``PER_CLIENT`` connections keep
    that cost flat. Slots are handed out last-in first-out, so a light load
    reuses a few warm connections instead of cycling through all of them.
    """

    PER_CLIENT = 8

    def __init__(self, base_url: str, connections: int, timeout: float, headers: dict[str, str]) -> None:
        import httpx

        count = -(-connections // self.PER_CLIENT)
        # Idle connections expire before uvicorn's 5 s keep-alive timeout: reusing one the server is closing
        # fails the request with a ReadError that says nothing about intake.
        limits = httpx.Limits(max_connections=self.PER_CLIENT, max_keepalive_connections=self.PER_CLIENT,
                              keepalive_expiry=4.0)
        self.clients = [httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits, headers=headers)
                        for _ in range(count)]
        self.free: asyncio.LifoQueue = asyncio.LifoQueue()
        for n in reversed(range(connections)):
            self.free.put_nowait(self.clients[n % count])

    async def post(self, path: str, order: Outgoing, on_sent=None):
        """POST ``order`` once a connection is free; ``on_sent`` is called when it has one."""
        client = await self.free.get()
        try:
            if on_sent is not None:
                on_sent()
            return await client.post(path, content=order.body, headers=order.headers)
        finally:
            self.free.put_nowait(client)

    async def __aenter__(self) -> "ConnectionSlots":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients), return_exceptions=True)


async def _send(slots: ConnectionSlots, path: str, order: Outgoing, outcome: Outcome, t0: float,
                state: LoadState) -> None:
    outcome.started = time.perf_counter() - t0
    state.in_flight += 1
    state.peak_in_flight = max(state.peak_in_flight, state.in_flight)

    def sent() -> None:
        outcome.sent = time.perf_counter() - t0

    try:
        response = await slots.post(path, order, sent)
        outcome.done = time.perf_counter() - t0
        outcome.status = response.status_code
        if response.status_code != 201:
            outcome.detail = response.text[:300]
    except Exception as exc:  # counted and reported by type, never hidden
        outcome.done = time.perf_counter() - t0
        outcome.error = type(exc).__name__
        outcome.detail = str(exc)[:300]
    finally:
        state.in_flight -= 1
        state.progress[outcome.status or outcome.error] += 1


async def open_loop(slots: ConnectionSlots, path: str, orders: list[Outgoing], rate: float,
                    state: LoadState) -> tuple[list[Outcome], float]:
    """Send order i at t0 + i/rate without waiting for answers; returns the outcomes and t0 (perf_counter).

    Beyond the slots' connections in flight the next orders wait for a free
    connection; their latency still runs from the scheduled time.
    """
    outcomes = [Outcome(scheduled=i / rate) for i in range(len(orders))]
    tasks = []
    t0 = time.perf_counter() + 0.05
    next_report = 10.0
    for order, outcome in zip(orders, outcomes):
        delay = t0 + outcome.scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_send(slots, path, order, outcome, t0, state)))
        if outcome.scheduled >= next_report:
            print(f"  {outcome.scheduled:4.0f}s: {len(tasks)} sent, {state.in_flight} in flight, "
                  f"answers {dict(state.progress)}", flush=True)
            next_report += 10
    await asyncio.gather(*tasks)
    return outcomes, t0


async def warm_up(slots: ConnectionSlots, path: str, orders: list[Outgoing]) -> Counter:
    """A few orders before the clock starts: connections, caches and the first requests' imports."""
    statuses: Counter = Counter()
    lanes = 4

    async def lane(k: int) -> None:
        for order in orders[k::lanes]:
            try:
                statuses[(await slots.post(path, order)).status_code] += 1
            except Exception as exc:
                statuses[type(exc).__name__] += 1

    await asyncio.gather(*(lane(k) for k in range(lanes)))
    return statuses


# ---- CPU of the processes that share the machine --------------------------------------------------


def _process_cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _machine_busy_s() -> float | None:
    try:
        values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _all_processes_cpu_s() -> dict[int, tuple[str, float]]:
    """Every process on the machine: pid -> (command, CPU seconds so far)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            cpu = _process_cpu_s(int(entry.name))
            if cpu is not None:
                try:
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                except OSError:
                    command = ""
                out[int(entry.name)] = (command[:120] or f"pid {entry.name}", cpu)
    return out


class CpuMeter:
    """CPU seconds per process of the stack, of this load generator, of the other processes and of the machine."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def read(self) -> dict[str, Any]:
        sample: dict[str, Any] = {name: _process_cpu_s(pid) for name, pid in self.pids.items()}
        sample["load generator"] = time.process_time()
        sample["machine"] = _machine_busy_s()
        sample["processes"] = _all_processes_cpu_s()
        return sample

    def share(self, before: dict, after: dict, seconds: float) -> dict[str, Any]:
        """Cores used over ``seconds`` (1.0 = one core busy the whole time), ours and the other jobs' apart."""
        out: dict[str, Any] = {}
        for name in before:
            if name == "processes":
                continue
            a, b = before[name], after.get(name)
            out[name] = None if a is None or b is None else round((b - a) / seconds, 3)
        ours = set(self.pids.values()) | {os.getpid()}
        others = {pid: (command, cpu - before["processes"].get(pid, (command, 0.0))[1])
                  for pid, (command, cpu) in after["processes"].items() if pid not in ours}
        out["other processes"] = round(sum(cpu for _, cpu in others.values()) / seconds, 3)
        known = [v for k, v in out.items() if k != "machine" and v is not None]
        if out.get("machine") is not None:
            # Kernel work outside any process (softirq) and processes that came and went within the window.
            out["unattributed (kernel; processes that came and went)"] = round(out["machine"] - sum(known), 3)
        busiest = sorted(others.values(), key=lambda item: -item[1])[:3]
        out["busiest other processes"] = [f"{command} ({cpu / seconds:.2f})" for command, cpu in busiest
                                          if cpu / seconds >= 0.02]
        return out


# ---- afterwards: Temporal and the read model -------------------------------------------------------


async def workflow_states(address: str, namespace: str, orders: list[Outgoing]) -> tuple[dict[str, str], dict]:
    """Each order's workflow status (describe by id; "missing" when there is none) and the visibility counts."""
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    client = await Client.connect(address, namespace=namespace)
    states: dict[str, str] = {}
    semaphore = asyncio.Semaphore(32)

    async def describe(order: Outgoing) -> None:
        async with semaphore:
            try:
                description = await client.get_workflow_handle(order.workflow_id).describe()
                states[order.order_id] = description.status.name if description.status else "UNKNOWN"
            except RPCError as exc:
                states[order.order_id] = "missing" if exc.status == RPCStatusCode.NOT_FOUND else f"error: {exc}"

    await asyncio.gather(*(describe(o) for o in orders))
    counts = {}
    for label, query in (("OrderFlow", "WorkflowType='OrderFlow'"),
                         ("OrderFlow running", "WorkflowType='OrderFlow' AND ExecutionStatus='Running'")):
        try:
            counts[label] = (await client.count_workflows(query)).count
        except Exception as exc:  # visibility is a convenience here; the describes above are the check
            counts[label] = f"{type(exc).__name__}: {exc}"
    return states, counts


def _utc(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class SqliteReadModel:
    """The embedded stack's read model, read-only from its SQLite file (cheap enough to poll during a run)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self, sql: str, ids: list[str]) -> list[tuple]:
        rows: list[tuple] = []
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30) as db:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                rows += db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk).fetchall()
        return rows

    async def look(self, ids: list[str]) -> dict[str, dict]:
        """Per order present in the read model: its status and, once audited, the time of the audit."""
        def query() -> dict[str, dict]:
            found = {i: {"status": s, "audited_at": None, "created_at": _utc(c)} for i, s, c in
                     self._rows("SELECT id, status, created_at FROM orders WHERE id IN ({marks})", ids)}
            for order_id, at in self._rows("SELECT order_id, MIN(at) FROM order_events WHERE type = 'audited' "
                                           "AND order_id IN ({marks}) GROUP BY order_id", ids):
                if order_id in found:
                    found[order_id]["audited_at"] = _utc(at)
            return found

        return await asyncio.to_thread(query)

    async def unstarted(self, ids: list[str]) -> int:
        """Accepted orders whose workflow start intake has not confirmed yet (oms/starter.py)."""
        rows = await asyncio.to_thread(
            self._rows, "SELECT id FROM orders WHERE workflow_started = 0 AND id IN ({marks})", ids)
        return len(rows)


async def wait_for_starts(read_model, ids: list[str], timeout: float) -> float | None:
    """Seconds until every accepted order's workflow start is confirmed (None: not within ``timeout``)."""
    began = time.perf_counter()
    while await read_model.unstarted(ids):
        if time.perf_counter() - began > timeout:
            return None
        await asyncio.sleep(0.25)
    return time.perf_counter() - began


class ApiReadModel:
    """A running stack's read model through GET /api/orders/{id} (loads the web app: used after the load only)."""

    def __init__(self, client) -> None:
        self.client = client

    async def look(self, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        semaphore = asyncio.Semaphore(8)

        async def one(order_id: str) -> None:
            async with semaphore:
                response = await self.client.get(f"/api/orders/{order_id}")
            if response.status_code == 200:
                order = response.json()
                audited = next((e["at"] for e in order.get("timeline", []) if e["type"] == "audited"), None)
                found[order_id] = {"status": order["status"], "created_at": _utc(order.get("created_at")),
                                   "audited_at": _utc(audited) if order.get("audit") is not None else None}

        await asyncio.gather(*(one(i) for i in ids))
        return found


async def wait_for_audits(read_model, ids: list[str], timeout: float, stack: EmbeddedStack | None) -> tuple[dict, float]:
    """Poll until every order in ``ids`` has its audit or ``timeout`` passes; returns the last look and the wait."""
    started = time.perf_counter()
    last_print = started
    rows = await read_model.look(ids)
    pending = [i for i in ids if rows.get(i, {}).get("audited_at") is None]
    while pending and time.perf_counter() - started < timeout:
        if stack is not None:
            check_stack(stack)
        await asyncio.sleep(1.0)
        rows.update(await read_model.look(pending))
        pending = [i for i in pending if rows.get(i, {}).get("audited_at") is None]
        if time.perf_counter() - last_print >= 10:
            print(f"  audited {len(ids) - len(pending)}/{len(ids)} after {time.perf_counter() - started:.0f}s",
                  flush=True)
            last_print = time.perf_counter()
    return rows, time.perf_counter() - started


# ---- the embedded stack's worker ------------------------------------------------------------------------


def stop_worker(stack: EmbeddedStack) -> None:
    """Stop the stack's `oms worker` (SIGTERM to its process group, as EmbeddedStack.stop does) and wait for it."""
    for name, process in stack.processes:
        if name == "worker" and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def check_stack(stack: EmbeddedStack, worker_stopped: bool = False) -> None:
    for name, process in stack.processes:
        if process.poll() is not None and not (worker_stopped and name == "worker"):
            raise RuntimeError(f"`{name}` exited with code {process.returncode}; see {stack.workdir / (name + '.log')}")


# ---- figures ----------------------------------------------------------------------------------------------


def _ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    return {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "p99": round(percentile(values, 99), 1), "max": round(max(values), 1),
            "mean": round(sum(values) / len(values), 1)}


def load_figures(outcomes: list[Outcome], rate: float, duration: float) -> dict:
    accepted = [o for o in outcomes if o.status == 201]
    errors = Counter(str(o.status) if o.status is not None else o.error for o in outcomes if o.status != 201)
    last_answer = max((o.done for o in outcomes), default=float("nan"))
    windows = []
    for start in range(0, max(1, int(-(-duration // WINDOW_S))) * WINDOW_S, WINDOW_S):
        part = [o for o in outcomes if start <= o.scheduled < start + WINDOW_S]
        if not part:
            continue
        ok = [o.latency_ms for o in part if o.status == 201]
        windows.append({"from_s": start, "offered": len(part), "accepted": len(ok), **_ms(ok)})
    examples: dict[str, str] = {}
    for o in outcomes:
        key = str(o.status) if o.status is not None else o.error
        if o.status != 201 and key not in examples:
            examples[key] = o.detail or ""
    return {
        "offered": len(outcomes),
        "offered_per_s": round(len(outcomes) / duration, 2),
        "accepted": len(accepted),
        "accepted_per_s": round(len(accepted) / duration, 2),
        "last_answer_s": round(last_answer, 2),
        "accepted_per_s_until_last_answer": round(len(accepted) / last_answer, 2) if accepted else 0.0,
        "duplicates_200": sum(1 for o in outcomes if o.status == 200),
        "errors": dict(errors.most_common()),
        "error_examples": examples,
        "latency_ms": _ms([o.latency_ms for o in accepted]),
        "service_ms": _ms([o.service_ms for o in accepted]),
        "generator_lag_ms": _ms([o.generator_lag_ms for o in outcomes]),
        "connection_wait_ms": _ms([o.connection_wait_ms for o in outcomes]),
        "windows": windows,
    }


def loss_figures(orders: list[Outgoing], outcomes: list[Outcome], workflows: dict[str, str],
                 rows: dict[str, dict]) -> dict:
    """Every order sent, by what the sender saw and what exists: "nothing lost" means every 201 is complete."""
    accepted = [o for o, r in zip(orders, outcomes) if r.status == 201]
    refused = [o for o, r in zip(orders, outcomes) if r.status not in (200, 201)]
    no_workflow = [o.order_id for o in accepted if workflows.get(o.order_id) in (None, "missing")]
    no_row = [o.order_id for o in accepted if o.order_id not in rows]
    stored_though_refused = [o.order_id for o in refused
                             if o.order_id in rows or workflows.get(o.order_id) not in (None, "missing")]
    return {
        "accepted": len(accepted),
        "accepted_with_workflow": len(accepted) - len(no_workflow),
        "accepted_in_read_model": len(accepted) - len(no_row),
        "accepted_without_workflow": no_workflow[:20],
        "accepted_without_workflow_count": len(no_workflow),
        "accepted_not_in_read_model": no_row[:20],
        "accepted_not_in_read_model_count": len(no_row),
        "refused": len(refused),
        "refused_but_stored_or_started": stored_though_refused[:20],
        "refused_but_stored_or_started_count": len(stored_though_refused),
        "workflow_status": dict(Counter(workflows.get(o.order_id, "missing") for o in accepted).most_common()),
        "read_model_status": dict(Counter(rows[o.order_id]["status"] for o in accepted if o.order_id in rows)
                                  .most_common()),
        "audited": sum(1 for o in accepted if rows.get(o.order_id, {}).get("audited_at") is not None),
    }


def verdicts(report: dict) -> list[tuple[str, bool]]:
    load, loss = report["load"], report["loss"]
    lost = loss["accepted_without_workflow_count"] + loss["accepted_not_in_read_model_count"]
    if report["mode"] == "burst":
        return [
            (f"burst of {report['rate']:g}/s ({BURST_FACTOR} x {report['daily_average']:g}/s) for "
             f"{report['duration']:g}s: all {load['offered']} accepted", load["accepted"] == load["offered"]),
            ("nothing lost: every 201 has its order row and its workflow", lost == 0),
        ]
    return [
        # Sustained: every order accepted, and answered while the load lasted (not worked off afterwards).
        (f"{TARGET_RATE:g} orders/s sustained " + (f"(not tested: offered {report['rate']:g}/s) " if report["rate"] < TARGET_RATE
                                                    else "") +
         f"(accepted {load['accepted_per_s']}/s over the {report['duration']:g}s, "
         f"{load['accepted_per_s_until_last_answer']}/s until the last answer at {load['last_answer_s']}s)",
         report["rate"] >= TARGET_RATE and min(load["accepted_per_s"], load["accepted_per_s_until_last_answer"])
         >= TARGET_RATE * 0.98),
        (f"p99 at most {TARGET_P99_MS:g} ms (p99 {load['latency_ms']['p99']} ms)",
         load["latency_ms"]["p99"] is not None and load["latency_ms"]["p99"] <= TARGET_P99_MS),
        (f"no errors ({sum(load['errors'].values())})", not load["errors"]),
        ("nothing lost: every 201 has its order row and its workflow", lost == 0),
    ]


def print_report(r: dict) -> None:
    line = "-" * 100
    load, loss = r["load"], r["loss"]
    print()
    print(line)
    how = (f"webhook POST /api/channels/{r['channel']}/orders (signed native payload)" if r["webhook"]
           else f"POST /api/orders as `channel`, channel {r['channel']}")
    print(f"intake_load ({r['mode']}): {how} -> {r['target']}")
    print(f"machine: {r['host']['cpus']} CPUs, load average before the run {r['host']['load_average_before'][0]:.2f}, "
          f"after {r['host']['load_average_at_end'][0]:.2f}")
    print(f"worker during the load: {r['worker']}; offered {load['offered']} orders at {r['rate']:g}/s for "
          f"{r['duration']:g}s, open loop; warm-up {r['warmup']}")
    print(line)
    print(f"offered rate        {load['offered_per_s']:8.2f} /s")
    print(f"accepted (201)      {load['accepted']:8d}     = {load['accepted_per_s']:.2f}/s over {r['duration']:g}s "
          f"(last answer at {load['last_answer_s']}s: {load['accepted_per_s_until_last_answer']}/s)")
    lat, svc, lag, wait = load["latency_ms"], load["service_ms"], load["generator_lag_ms"], load["connection_wait_ms"]
    print(f"latency (ms, from the scheduled send)  p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  "
          f"max {lat['max']}  mean {lat['mean']}")
    print(f"service time (ms, from the actual send) p50 {svc['p50']}  p95 {svc['p95']}  p99 {svc['p99']}  "
          f"max {svc['max']}")
    print(f"waiting for one of {r['connections']} connections (ms)   p50 {wait['p50']}  p99 {wait['p99']}  "
          f"max {wait['max']}; peak outstanding (sent or waiting) {r['peak_in_flight']}")
    print(f"generator lag (ms; its own lateness)   p50 {lag['p50']}  p99 {lag['p99']}  max {lag['max']}"
          + ("   <- the generator fell behind: figures include its own delay" if (lag["p99"] or 0) > 10 else ""))
    print(f"errors              {load['errors'] or 'none'}" + (f"; duplicates (200): {load['duplicates_200']}"
                                                              if load["duplicates_200"] else ""))
    for key, text in load["error_examples"].items():
        print(f"   e.g. {key}: {text[:200]}")
    print("latency per window (accepted, ms):")
    for w in load["windows"]:
        print(f"   {w['from_s']:>4}-{w['from_s'] + WINDOW_S}s  {w['accepted']:>5}/{w['offered']:<5} "
              f"p50 {w['p50']}  p99 {w['p99']}  max {w['max']}")
    cpu = r.get("cpu_cores_during_load") or {}
    if cpu:
        print("CPU from first send to last answer (cores; 2 = both busy): " + ", ".join(
            f"{k} {v}" for k, v in cpu.items() if isinstance(v, float)))
        if cpu.get("busiest other processes"):
            print("   busiest other processes: " + "; ".join(cpu["busiest other processes"]))
        per_order = r.get("cpu_ms_per_accepted_order") or {}
        print("CPU per accepted order (ms): " + ", ".join(f"{k} {v}" for k, v in per_order.items() if v is not None))
    print(line)
    print(f"afterwards ({r['checked_after_s']}s after the last answer): of {loss['accepted']} accepted, "
          f"{loss['accepted_with_workflow']} have a workflow, {loss['accepted_in_read_model']} are in the read model")
    started_after = r.get("all_workflows_started_after_last_answer_s")
    if started_after is not None:
        print(f"   intake answers once the order is stored; every accepted order's workflow had started "
              f"{started_after}s after the last answer")
    print(f"   workflow status: {loss['workflow_status']}; Temporal visibility counts: {r['temporal_counts']}")
    print(f"   read model status: {loss['read_model_status']}; audited: {loss['audited']}"
          + (f" (at the end of the load: {r['audited_when_load_ended']})" if r.get("audited_when_load_ended")
             is not None else ""))
    print(f"   lost: {loss['accepted_without_workflow_count']} accepted without a workflow, "
          f"{loss['accepted_not_in_read_model_count']} accepted without an order row; refused {loss['refused']} "
          f"(of which stored or started anyway: {loss['refused_but_stored_or_started_count']})")
    if r.get("audit_wait"):
        a = r["audit_wait"]
        if a.get("skipped"):
            print(f"   audit wait: {a['skipped']}")
        else:
            print(f"   audited {a['audited']}/{a['accepted']} within {a['waited_s']}s of waiting; every burst order "
                  f"audited {a['all_audited_after_burst_start_s']}s after the burst began "
                  f"({a['all_audited_after_burst_end_s']}s after its last order was sent); audit rate "
                  f"{a['audits_per_s']}/s")
    print(line)
    for text, ok in r["verdicts"]:
        print(f"{'MET   ' if ok else 'MISSED'}  {text}")
    print(line)


# ---- the run -------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, stack: EmbeddedStack | None) -> dict:
    import httpx

    base_url = stack.base_url if stack else args.url.rstrip("/")
    password = EmbeddedStack.PASSWORD if stack else args.password
    temporal_address = stack.env["OMS_TEMPORAL_ADDRESS"] if stack else args.temporal_address
    namespace = "default" if stack else args.namespace
    count = max(1, round(args.rate * args.duration))
    run_tag = uuid.uuid4().hex[:6] + "-"
    orders, notes = build_orders(args, args.warmup + count, run_tag)
    warmup_orders, orders = orders[:args.warmup], orders[args.warmup:]
    path = f"/api/channels/{args.channel}/orders" if args.webhook else "/api/orders"

    async with httpx.AsyncClient(base_url=base_url, timeout=args.timeout) as client:
        token = await login(client, password)  # also for the read model through the API
        client.headers["Authorization"] = f"Bearer {token}"
        async with ConnectionSlots(base_url, args.connections, args.timeout,
                                   {"Authorization": f"Bearer {token}"}) as slots:
            read_model = SqliteReadModel(stack.workdir / "oms.db") if stack else ApiReadModel(client)
            if stack and not args.worker:
                print("stopping the stack's worker: intake alone, workflows wait in Temporal's queue", flush=True)
                stop_worker(stack)
            warm = await warm_up(slots, path, warmup_orders)
            print(f"warm-up: {dict(warm)}", flush=True)
            if stack:
                check_stack(stack, worker_stopped=not args.worker)

            pids = {name: p.pid for name, p in stack.processes if p.poll() is None} if stack else {}
            meter = CpuMeter(pids)
            print(f"load: {count} orders at {args.rate:g}/s for {args.duration:g}s to {path} "
                  f"(pids: {pids or 'remote'}) ...", flush=True)
            state = LoadState()
            cpu_before, wall_before = meter.read(), time.perf_counter()
            started_utc = datetime.now(timezone.utc)
            outcomes, t0 = await open_loop(slots, path, orders, args.rate, state)
        cpu_after, wall_after = meter.read(), time.perf_counter()
        load_end = time.perf_counter()
        audited_when_load_ended = None
        if isinstance(read_model, SqliteReadModel):
            rows = await read_model.look([o.order_id for o in orders])
            audited_when_load_ended = sum(1 for v in rows.values() if v["audited_at"] is not None)
        if stack:
            check_stack(stack, worker_stopped=not args.worker)
        all_started_after = None
        if isinstance(read_model, SqliteReadModel):
            # Intake answers once the order is stored; the workflow starts in the background.
            accepted_now = [o.order_id for o, r in zip(orders, outcomes) if r.status == 201]
            all_started_after = await wait_for_starts(read_model, accepted_now, args.audit_timeout)

        print("checking every order in Temporal and in the read model ...", flush=True)
        workflows, temporal_counts = await workflow_states(temporal_address, namespace, orders + warmup_orders)
        rows = await read_model.look([o.order_id for o in orders])
        checked_after = time.perf_counter() - load_end
        accepted_ids = [o.order_id for o, r in zip(orders, outcomes) if r.status == 201]

        audit_wait = None
        if args.burst:
            if not args.worker:
                audit_wait = {"skipped": "no worker: the burst's workflows wait in Temporal's queue"}
            else:
                print(f"waiting (at most {args.audit_timeout:g}s) until every accepted burst order is audited ...",
                      flush=True)
                audit_rows, waited = await wait_for_audits(read_model, accepted_ids, args.audit_timeout, stack)
                rows.update(audit_rows)
                times = [audit_rows[i]["audited_at"] for i in accepted_ids if audit_rows.get(i, {}).get("audited_at")]
                last = max(times) if times else None
                first = min(times) if times else None
                burst_start = started_utc.timestamp() + (t0 - wall_before)  # t0 on the wall clock
                burst_end = burst_start + max(o.sent for o in outcomes)
                audit_wait = {
                    "accepted": len(accepted_ids),
                    "audited": len(times),
                    "waited_s": round(waited, 1),
                    "all_audited_after_burst_start_s": round(last.timestamp() - burst_start, 1)
                    if last and len(times) == len(accepted_ids) else None,
                    "all_audited_after_burst_end_s": round(last.timestamp() - burst_end, 1)
                    if last and len(times) == len(accepted_ids) else None,
                    "audits_per_s": round(len(times) / max(1e-9, last.timestamp() - burst_start), 1)
                    if last else None,
                    "first_audit_after_burst_start_s": round(first.timestamp() - burst_start, 2)
                    if first else None,
                }
                if stack:
                    check_stack(stack)
                rows.update(await read_model.look([o.order_id for o in orders]))  # statuses as of now, for all

    load = load_figures(outcomes, args.rate, args.duration)
    cpu_cores = meter.share(cpu_before, cpu_after, wall_after - wall_before)
    report = {
        "benchmark": "intake_load",
        "mode": "burst" if args.burst else "sustained",
        "target": base_url if stack is None else f"embedded stack ({base_url}, SQLite, Temporal dev server)",
        "channel": args.channel,
        "webhook": args.webhook,
        "endpoint": path,
        "worker": ("running" if args.worker else "stopped before the load") if stack else "as the target runs it",
        "rate": args.rate,
        "duration": args.duration,
        "daily_average": args.daily_average if args.burst else None,
        "warmup": {"orders": len(warmup_orders), "answers": {str(k): v for k, v in warm.items()}},
        "seed": args.seed,
        "run_tag": run_tag,
        "connections": args.connections,
        "peak_in_flight": state.peak_in_flight,
        "all_workflows_started_after_last_answer_s": None if all_started_after is None else round(all_started_after, 2),
        "payloads": notes,
        "load": load,
        "cpu_cores_during_load": cpu_cores,
        # CPU from the first send to the last answer, divided among the accepted orders.
        "cpu_ms_per_accepted_order": {
            k: round(1000 * v * (wall_after - wall_before) / load["accepted"], 2) for k, v in cpu_cores.items()
            if isinstance(v, float) and k not in ("machine", "other processes") and not k.startswith("unattributed")
        } if load["accepted"] else {},
        "checked_after_s": round(checked_after, 1),
        "temporal_counts": temporal_counts,
        "warmup_workflows": dict(Counter(workflows.get(o.order_id, "missing") for o in warmup_orders)),
        "loss": loss_figures(orders, outcomes, workflows, rows),
        "audited_when_load_ended": audited_when_load_ended,
        "audit_wait": audit_wait,
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average_before": args.load_before,
                 "load_average_at_end": os.getloadavg()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "orders": [{"order_id": o.order_id, "scheduled_s": round(r.scheduled, 4), "latency_ms": round(r.latency_ms, 2),
                    "service_ms": round(r.service_ms, 2), "status": r.status, "error": r.error}
                   for o, r in zip(orders, outcomes)],
    }
    report["verdicts"] = verdicts(report)
    return report


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C (also when started in the background) and SIGTERM take the same clean-up path.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    stack = None
    args.load_before = os.getloadavg()  # other jobs on the machine skew every figure: recorded with them
    try:
        if not args.url:
            stack = EmbeddedStack()
            stack.start()
        report = asyncio.run(run(args, stack))
        print_report(report)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        print(f"results written to {args.output}")
        return 0 if all(ok for _, ok in report["verdicts"]) else 1
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        return 130
    finally:
        if stack is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
