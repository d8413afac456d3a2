"""Demo traffic against a live stack: how many ordinary orders pass the audit without a person?

Submits N ordinary orders (bench/traffic.py, profile ``ordinary``) through
POST /api/orders as the ``channel`` user, waits until every order has been
audited (GET /api/orders/{id} has ``audit``) and reports the hold rate (audit
action review or reject), the auto-approval rate, the rules that held orders
with examples, and the same by channel and customer segment. The target from
the issue: at least 95 % of ordinary orders pass without a person.

``--fraud-share 0.05`` replaces that share of the orders by suspicious ones
(bursts from one IP, high value to new addresses, unserved countries) and
reports how many of them the audit held (recall).

By default it starts its own stack, like tests/conftest.py: a Temporal dev
server, ``oms web`` and ``oms worker`` as subprocesses on free ports with a
temporary SQLite database, seeded with the demo data; every process it started
is stopped at the end (Ctrl-C included). ``--url`` targets a running stack with
the dev logins instead.

    .venv/bin/python bench/demo_traffic.py                        # 500 ordinary orders, own stack
    .venv/bin/python bench/demo_traffic.py --fraud-share 0.05
    .venv/bin/python bench/demo_traffic.py --url http://127.0.0.1:8000 --orders 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.flow_overhead import percentile  # noqa: E402
from bench.traffic import Generated, TrafficGenerator  # noqa: E402
from oms.temporal.dev_server import free_port, start_dev_server, wait_for_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "demo_traffic.json"
TARGET_AUTO_APPROVAL = 0.95
HELD = ("review", "reject")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="orders to submit (default 500)")
    parser.add_argument("--seed", type=int, default=20261121, help="random seed (default %(default)s)")
    parser.add_argument("--fraud-share", type=float, default=0.0,
                        help="share of the orders that are suspicious (default 0: ordinary traffic only)")
    parser.add_argument("--channel-ips", choices=("as-mapped", "device"), default="as-mapped",
                        help="as-mapped (default): client_ip as the shipped channel definitions carry it: the "
                             "buyer's for web and (mostly) marketplace orders, none for store and phone; device: "
                             "store orders also carry the till's IP and phone orders the call centre's")
    parser.add_argument("--url", default=None, help="target a running stack (e.g. http://127.0.0.1:8000) instead of "
                                                    "starting one")
    parser.add_argument("--password", default=os.environ.get("OMS_DEV_PASSWORD", "oms-dev"),
                        help="dev password of the `channel` user with --url (default: $OMS_DEV_PASSWORD or oms-dev)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for all audits (default 600)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results (default %(default)s)")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.concurrency < 1:
        parser.error("--orders and --concurrency must be at least 1")
    if not 0 <= args.fraud_share < 1:
        parser.error("--fraud-share must be in [0, 1)")
    return args


# ---- the embedded stack ---------------------------------------------------------------


class EmbeddedStack:
    """Dev server + `oms web` + `oms worker` on free ports and a temp SQLite DB (as tests/conftest.py)."""

    PASSWORD = "oms-dev"

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="oms-demo-"))
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.base_url = ""

    def start(self) -> None:
        temporal_port, web_port = free_port(), free_port()
        print(f"starting the embedded stack in {self.workdir}: Temporal dev server on 127.0.0.1:{temporal_port}, "
              f"web on 127.0.0.1:{web_port}", flush=True)
        server = start_dev_server(self.workdir / "temporal.db", temporal_port, None,
                                  log_file=self.workdir / "temporal.log")
        self.processes.append(("temporal", server))
        self.env = {
            **os.environ,
            "OMS_DATABASE_URL": f"sqlite:///{self.workdir / 'oms.db'}",
            "OMS_DATA_DIR": str(self.workdir),
            "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
            "OMS_TASK_QUEUE": f"oms-demo-{uuid.uuid4().hex[:6]}",
            "OMS_WEB_HOST": "127.0.0.1",
            "OMS_WEB_PORT": str(web_port),
            "OMS_DEV_MODE": "true",
            "OMS_DEV_PASSWORD": self.PASSWORD,
            "OMS_LOG_LEVEL": "WARNING",
            "OMS_WORKER_NICE": "10",  # as `oms up` runs it
        }
        # The web app prepares the database (tables, users, shipped definitions) before the worker uses it.
        web = self._spawn("web")
        wait_for_port("127.0.0.1", web_port, timeout=90, process=web)
        subprocess.run(
            [sys.executable, "-c", "from oms.db import session_scope\nfrom oms.seed import seed_demo\n"
             "with session_scope() as s: seed_demo(s)"],
            cwd=ROOT, env=self.env, check=True,
        )
        self._spawn("worker")
        self.base_url = f"http://127.0.0.1:{web_port}"

    def _spawn(self, command: str) -> subprocess.Popen:
        log = open(self.workdir / f"{command}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", "oms.cli", command], cwd=ROOT, env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((command, process))
        return process

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"`{name}` exited with code {process.returncode}; see {self.workdir / (name + '.log')}")

    def stop(self) -> None:
        """Stop every process this run started (by process group, newest first), then remove the temp dir."""
        for name, process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=10)
        left = [name for name, p in self.processes if p.poll() is None]
        if left:
            print(f"warning: still running: {left}", file=sys.stderr)
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---- traffic ----------------------------------------------------------------------------


def build_traffic(args: argparse.Namespace) -> list[Generated]:
    run_tag = uuid.uuid4().hex[:6] + "-"  # a fresh (channel, external_id) per run, also on a reused stack
    generator = TrafficGenerator(args.seed, "ordinary", run_tag=run_tag, channel_ips=args.channel_ips)
    n_fraud = round(args.orders * args.fraud_share)
    orders = [generator.order() for _ in range(args.orders - n_fraud)]
    if n_fraud:
        rng = random.Random(args.seed + 1)
        for item in generator.fraud_orders(n_fraud):
            orders.insert(rng.randrange(len(orders) + 1), item)
    return orders


async def login(client, password: str) -> str:
    response = await client.post("/api/auth/token", data={"username": "channel", "password": password})
    if response.status_code != 200:
        raise RuntimeError(f"login as `channel` failed: {response.status_code} {response.text[:200]}")
    return response.json()["access_token"]


async def submit_all(client, orders: list[Generated], concurrency: int) -> list[dict]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(orders)):
        queue.put_nowait(n)
    outcomes: list[dict] = [{} for _ in orders]
    done = 0
    started = time.perf_counter()

    async def lane() -> None:
        nonlocal done
        while True:
            try:
                n = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            try:
                response = await client.post("/api/orders", json=orders[n].payload)
                body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                outcomes[n] = {"http": response.status_code, "id": body.get("id"), "body": body if response.status_code >= 300 else None,
                               "submit_ms": round(1000 * (time.perf_counter() - t0), 1)}
            except Exception as exc:  # counted and reported, never hidden
                outcomes[n] = {"http": None, "id": None, "error": f"{type(exc).__name__}: {exc}"}
            done += 1
            if done % 100 == 0:
                print(f"  submitted {done}/{len(orders)} ({done / (time.perf_counter() - started):.1f}/s)", flush=True)

    await asyncio.gather(*(lane() for _ in range(min(concurrency, len(orders)))))
    return outcomes


async def wait_for_audits(client, ids: list[str], concurrency: int, timeout: float, stack: EmbeddedStack | None) -> dict:
    """Poll GET /api/orders/{id} until each has its audit (or the time is up)."""
    pending = set(ids)
    audited: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    semaphore = asyncio.Semaphore(concurrency)
    last_report = time.monotonic()

    async def look(order_id: str) -> None:
        async with semaphore:
            response = await client.get(f"/api/orders/{order_id}")
        if response.status_code == 200:
            order = response.json()
            if order.get("audit") is not None:
                audited[order_id] = order
                pending.discard(order_id)

    while pending and time.monotonic() < deadline:
        if stack is not None:
            stack.check_alive()
        await asyncio.gather(*(look(i) for i in sorted(pending)))
        if pending:
            if time.monotonic() - last_report > 10:
                print(f"  audited {len(audited)}/{len(ids)} ...", flush=True)
                last_report = time.monotonic()
            await asyncio.sleep(0.5)
    return audited


# ---- the report -----------------------------------------------------------------------------


def _deciding(order: dict) -> list[dict]:
    return [f for f in order["audit"]["fired"] if f["action"] != "tag"]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _audit_latency_s(order: dict) -> float | None:
    audited = next((e for e in order.get("timeline", []) if e["type"] == "audited"), None)
    if audited is None:
        return None
    return (datetime.fromisoformat(audited["at"]) - datetime.fromisoformat(order["created_at"])).total_seconds()


def _example(item: Generated, order: dict, fired: dict) -> dict:
    p = item.payload
    facts = order["audit"]["facts"]
    return {
        "order_id": order["id"], "external_id": p["external_id"], "channel": p["channel"], "segment": item.pattern,
        "total": order["total"], "country": p["shipping_address"].get("country"),
        "client_ip": p.get("client_ip"), "customer": p["customer"].get("id") or p["customer"]["name"],
        "customer_type": p["customer"].get("type", "consumer"), "payment": p["payment"],
        "coupon": p.get("coupon"), "rule": fired["rule"], "reason": fired["reason"],
        "facts": {"velocity": facts.get("velocity"), "credit": facts.get("credit"), "coupon": facts.get("coupon"),
                  "first_time_address": facts.get("first_time_address")},
    }


def analyse(orders: list[Generated], outcomes: list[dict], audited: dict[str, dict]) -> dict:
    groups: dict[str, list[tuple[Generated, dict]]] = defaultdict(list)
    refused = []
    for item, outcome in zip(orders, outcomes):
        if outcome.get("http") not in (200, 201):
            refused.append({"external_id": item.payload["external_id"], "kind": item.kind, "pattern": item.pattern,
                            "http": outcome.get("http"), "detail": outcome.get("body") or outcome.get("error")})
            continue
        order = audited.get(outcome["id"])
        groups[item.kind].append((item, order))

    def block(pairs: list[tuple[Generated, dict]]) -> dict:
        done = [(i, o) for i, o in pairs if o is not None]
        actions = Counter(o["audit"]["action"] for _, o in done)
        held = [(i, o) for i, o in done if o["audit"]["action"] in HELD]
        by_rule: Counter = Counter()
        sole: Counter = Counter()
        examples: dict[str, list] = defaultdict(list)
        for item, order in held:
            deciding = _deciding(order)
            rules = {f["rule"] for f in deciding}
            for f in deciding:
                by_rule[f["rule"]] += 1
                if len(examples[f["rule"]]) < 3:
                    examples[f["rule"]].append(_example(item, order, f))
            if len(rules) == 1:
                sole[next(iter(rules))] += 1

        def split(key) -> dict:
            out = {}
            keyed: dict[str, list] = defaultdict(list)
            for i, o in done:
                keyed[key(i)].append(o)
            for name, items in sorted(keyed.items(), key=lambda kv: -len(kv[1])):
                h = sum(o["audit"]["action"] in HELD for o in items)
                out[name] = {"orders": len(items), "held": h, "hold_rate": _rate(h, len(items))}
            return out

        latencies = [x for x in (_audit_latency_s(o) for _, o in done) if x is not None]
        return {
            "orders": len(pairs),
            "audited": len(done),
            "not_audited": len(pairs) - len(done),
            "actions": {a: actions.get(a, 0) for a in ("approve", "review", "reject")},
            "held": len(held),
            "hold_rate": _rate(len(held), len(done)),
            "auto_approval_rate": _rate(actions.get("approve", 0), len(done)),
            "held_by_rule": dict(by_rule.most_common()),
            "held_by_rule_alone": dict(sole.most_common()),
            "examples": dict(examples),
            "by_channel": split(lambda i: i.payload["channel"]),
            "by_segment": split(lambda i: i.pattern),
            "tags": dict(Counter(t for _, o in done for t in o["audit"].get("tags", [])).most_common()),
            "final_status": dict(Counter(o["status"] for _, o in done).most_common()),
            "audit_latency_s": {"p50": round(percentile(latencies, 50), 2), "p99": round(percentile(latencies, 99), 2)}
            if latencies else None,
        }

    report = {"ordinary": block(groups["ordinary"]), "refused": refused}
    if groups.get("fraud"):
        fraud = block(groups["fraud"])
        fraud["by_pattern"] = fraud.pop("by_segment")
        report["fraud"] = fraud
        report["all"] = block(groups["ordinary"] + groups["fraud"])
    return report


SCENARIO = [
    "one busy hour: all orders arrive within the velocity rules' 1-hour window",
    "channels web 55%, marketplace 25%, store (POS, one store) 10%, phone 10%; served countries only "
    "(DE, FR, US, NL mostly)",
    "store: 60% taken away (delivery_method pickup, the store's address as the store channel's mapping fills "
    "it in, 60% of them without a customer name), 40% shipped home",
    "totals log-normal around 65 (sigma 0.85) plus 2% single big-ticket items; B2B around 900",
    "25% returning customers from a base of 2000 (same address, same home IP); 15% of shoppers on mobile "
    "networks sharing 40 IPs",
    "3% business customers on web/phone: ACME (credit 20000) and GLOBEX (5000) buyers on invoice, "
    "about a third without an account paying by card",
    "web shop coupon WELCOME10 (10% off, minimum spend 50) on some web orders, accepted by the shop only "
    "at or above 50 before the discount; lines carry the discounted prices",
]


def print_report(r: dict) -> None:
    line = "-" * 96
    o = r["ordinary"]
    print()
    print(line)
    print(f"demo_traffic: {r['submitted']} orders submitted to {r['target']} "
          f"({r['fraud_orders']} suspicious, fraud share {r['fraud_share']}); client IPs: {r['channel_ips']}")
    print(f"submission {r['submit_s']:.1f}s ({r['submitted'] / r['submit_s']:.1f} orders/s), all audited after "
          f"{r['audit_wait_s']:.1f}s more; refused by intake: {len(r['refused'])}")
    print("scenario: " + "; ".join(SCENARIO))
    print(line)
    print(f"ordinary orders: {o['orders']} submitted, {o['audited']} audited, {o['not_audited']} not audited in time")
    print(f"  actions: {o['actions']}")
    print(f"  hold rate (review or reject): {o['hold_rate']:.1%}   ({o['held']} orders)")
    verdict = "meets" if (o["auto_approval_rate"] or 0) >= TARGET_AUTO_APPROVAL else "MISSES"
    print(f"  auto-approval rate: {o['auto_approval_rate']:.1%}   ({verdict} the target of at least "
          f"{TARGET_AUTO_APPROVAL:.0%} without a person)")
    if o["audit_latency_s"]:
        print(f"  audit latency (order created -> audited): p50 {o['audit_latency_s']['p50']}s, "
              f"p99 {o['audit_latency_s']['p99']}s")
    print("  top reasons among held ordinary orders (orders; of which the only reason):")
    for rule, count in o["held_by_rule"].items():
        example = o["examples"][rule][0]
        print(f"    {rule:<24} {count:>4}  ({o['held_by_rule_alone'].get(rule, 0)} alone)   e.g. {example['external_id']} "
              f"{example['channel']} {example['total']} {example['country']}: \"{example['reason']}\"")
    print("  hold rate by channel:   " + "   ".join(
        f"{k} {v['held']}/{v['orders']} ({v['hold_rate']:.0%})" for k, v in o["by_channel"].items()))
    print("  hold rate by segment:   " + "   ".join(
        f"{k} {v['held']}/{v['orders']} ({v['hold_rate']:.0%})" for k, v in o["by_segment"].items()))
    print(f"  tags: {o['tags']}   final status now: {o['final_status']}")
    if "fraud" in r:
        f = r["fraud"]
        print(line)
        print(f"suspicious orders: {f['orders']}, held {f['held']} -> recall {f['hold_rate']:.1%}")
        for pattern, v in f["by_pattern"].items():
            print(f"    {pattern:<24} held {v['held']}/{v['orders']} ({v['hold_rate']:.0%})")
        print(f"  rules that held them: {f['held_by_rule']}")
        a = r["all"]
        print(f"all orders: hold rate {a['hold_rate']:.1%}, auto-approval {a['auto_approval_rate']:.1%}")
    if r["refused"]:
        print(line)
        print("refused by intake (first 5):")
        for item in r["refused"][:5]:
            print(f"  {json.dumps(item, ensure_ascii=False)[:300]}")
    print(line)


async def run(args: argparse.Namespace, base_url: str, password: str, stack: EmbeddedStack | None) -> dict:
    import httpx

    orders = build_traffic(args)
    limits = httpx.Limits(max_connections=args.concurrency * 2)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        token = await login(client, password)
        client.headers["Authorization"] = f"Bearer {token}"
        print(f"submitting {len(orders)} orders with {args.concurrency} in flight ...", flush=True)
        started = time.perf_counter()
        outcomes = await submit_all(client, orders, args.concurrency)
        submit_s = time.perf_counter() - started
        ids = [o["id"] for o in outcomes if o.get("http") in (200, 201)]
        print(f"waiting for {len(ids)} audits ...", flush=True)
        started = time.perf_counter()
        audited = await wait_for_audits(client, ids, args.concurrency, args.timeout, stack)
        wait_s = time.perf_counter() - started
    report = {
        "benchmark": "demo_traffic",
        "target": base_url if stack is None else f"embedded stack ({base_url}, SQLite)",
        "orders": args.orders,
        "submitted": len(orders),
        "fraud_share": args.fraud_share,
        "fraud_orders": sum(1 for o in orders if o.kind == "fraud"),
        "seed": args.seed,
        "channel_ips": args.channel_ips,
        "concurrency": args.concurrency,
        "submit_s": round(submit_s, 2),
        "audit_wait_s": round(wait_s, 2),
        "http_status": dict(Counter(str(o.get("http")) for o in outcomes)),
        "scenario": SCENARIO,
        "target_auto_approval": TARGET_AUTO_APPROVAL,
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    report.update(analyse(orders, outcomes, audited))
    report["fraud_detail"] = [
        {"external_id": i.payload["external_id"], "pattern": i.pattern, "total": audited[o["id"]]["total"],
         "client_ip": i.payload.get("client_ip"), "country": i.payload["shipping_address"]["country"],
         "action": audited[o["id"]]["audit"]["action"],
         "fired": [f"{f['rule']}: {f['reason']}" for f in audited[o["id"]]["audit"]["fired"]],
         "velocity_ip": audited[o["id"]]["audit"]["facts"]["velocity"]["ip"],
         "first_time_address": audited[o["id"]]["audit"]["facts"]["first_time_address"]}
        for i, o in zip(orders, outcomes) if i.kind == "fraud" and o.get("id") in audited
    ]
    report["held_orders"] = [
        {"external_id": i.payload["external_id"], "kind": i.kind, "segment": i.pattern, "channel": i.payload["channel"],
         "total": audited[o["id"]]["total"], "action": audited[o["id"]]["audit"]["action"],
         "fired": [f"{f['rule']}: {f['reason']}" for f in _deciding(audited[o["id"]])]}
        for i, o in zip(orders, outcomes)
        if o.get("id") in audited and audited[o["id"]]["audit"]["action"] in HELD
    ]
    return report


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C (also when started in the background) and SIGTERM take the same clean-up path.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    stack = None
    try:
        if args.url:
            base_url, password = args.url.rstrip("/"), args.password
        else:
            stack = EmbeddedStack()
            stack.start()
            base_url, password = stack.base_url, EmbeddedStack.PASSWORD
        report = asyncio.run(run(args, base_url, password, stack))
        print_report(report)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"results written to {args.output}")
        ordinary = report["ordinary"]
        return 0 if ordinary["not_audited"] == 0 and not report["refused"] else 1
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
