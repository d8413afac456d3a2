"""Returns end to end on the embedded default: request, policy, label, parcel, quality check, restock, refund.

Starts the embedded stack (Temporal dev server, `oms web`, `oms worker`,
SQLite), delivers ``--returns`` prepaid web orders through the standard flow,
then runs one return per order, ``--concurrency`` at a time: ``POST
/api/returns``, the parcel_received event once the label is out, the quality
check (all resellable) once the task is open, until the return is completed.
It prints completed returns per second, the p50 / p99 latency of ``POST
/api/returns`` and of request to completion, and checks the invariants
(refunded equals the lines' value, one `return` ledger movement per return).

    .venv/bin/python bench/returns.py                      # 200 returns, 20 at a time
    .venv/bin/python bench/returns.py --returns 100 --concurrency 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.demo_traffic import EmbeddedStack  # noqa: E402
from bench.flow_overhead import percentile  # noqa: E402

SKUS = [("MUG-LOGO", 9.5), ("TSHIRT-BLK-M", 19.9), ("BACKPACK-20L", 59.0)]
POLL = 0.1


def order_payload(n: int, tag: str) -> dict:
    sku, price = SKUS[n % len(SKUS)]
    return {
        "channel": "web", "external_id": f"RB-{tag}-{n}",
        "customer": {"name": "Bench Buyer", "email": f"buyer{n}@example.com"},
        "shipping_address": {"street": f"Hauptstr. {n}", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "lines": [{"sku": sku, "qty": 2, "price": price}],
        "payment": {"method": "card", "status": "paid"},
        "client_ip": f"2001:db8::{n // 65536:x}:{n % 65536:x}",
    }


async def token(client: httpx.AsyncClient, role: str) -> dict:
    response = await client.post("/api/auth/token", data={"username": role, "password": EmbeddedStack.PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def until(client: httpx.AsyncClient, url: str, headers: dict, check, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = (await client.get(url, headers=headers)).json()
        except httpx.TransportError:  # a kept-alive connection the server closed: poll again
            await asyncio.sleep(POLL)
            continue
        if check(body):
            return body
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} stuck: {body.get('status')}")
        await asyncio.sleep(POLL)


async def deliver(client: httpx.AsyncClient, headers: dict, n: int, tag: str) -> str:
    order_id = (await client.post("/api/orders", json=order_payload(n, tag), headers=headers)).json()["id"]
    await until(client, f"/api/orders/{order_id}", headers, lambda o: o["status"] == "shipped")
    await client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}, headers=headers)
    await until(client, f"/api/orders/{order_id}", headers, lambda o: o["status"] == "completed")
    return order_id


async def one_return(client: httpx.AsyncClient, headers: dict, order_id: str) -> dict:
    began = time.perf_counter()
    response = await client.post("/api/returns", json={"order_id": order_id, "lines": [{"line": 1, "qty": 1}],
                                                      "reason": "changed_mind"}, headers=headers)
    posted = time.perf_counter() - began
    response.raise_for_status()
    return_id = response.json()["id"]
    url = f"/api/returns/{return_id}"
    await until(client, url, headers, lambda r: r["status"] == "awaiting_parcel")
    await client.post(f"{url}/events", json={"type": "parcel_received"}, headers=headers)
    await until(client, url, headers, lambda r: r["status"] == "inspecting")
    decided = await client.post(f"{url}/decision", json={"decision": "inspected",
                                                         "qc": [{"line": 1, "result": "resellable"}]}, headers=headers)
    decided.raise_for_status()
    done = await until(client, url, headers, lambda r: r["status"] == "completed")
    return {"post_s": posted, "total_s": time.perf_counter() - began, "return": done}


async def measure(stack: EmbeddedStack, args: argparse.Namespace) -> dict:
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as client:
        headers = await token(client, "operator")
        slots = asyncio.Semaphore(args.concurrency)

        async def limited(coroutine):
            async with slots:
                return await coroutine

        orders = await asyncio.gather(*(limited(deliver(client, headers, n, tag)) for n in range(args.returns)))
        print(f"{len(orders)} orders delivered; returning one item of each", flush=True)
        began = time.perf_counter()
        results = await asyncio.gather(*(limited(one_return(client, headers, o)) for o in orders))
        seconds = time.perf_counter() - began
    wrong = [r["return"]["id"] for r in results
             if r["return"]["refunded"] != r["return"]["value"] or
             [m["operation"] for m in r["return"]["stock_movements"]] != ["return"]]
    post = [r["post_s"] for r in results]
    total = [r["total_s"] for r in results]
    return {
        "returns": len(results), "concurrency": args.concurrency, "seconds": round(seconds, 1),
        "completed_per_s": round(len(results) / seconds, 2),
        "post_ms": {"p50": round(percentile(post, 50) * 1000, 1), "p99": round(percentile(post, 99) * 1000, 1)},
        "request_to_completed_ms": {"p50": round(percentile(total, 50) * 1000, 1),
                                    "p99": round(percentile(total, 99) * 1000, 1)},
        "invariant_violations": wrong,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--returns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    stack = EmbeddedStack()
    stack.start()
    try:
        report = asyncio.run(measure(stack, args))
    finally:
        stack.stop()
    print("-" * 100)
    print(f"returns: {report['returns']} refund returns, {report['concurrency']} at a time, embedded stack (SQLite, "
          "Temporal dev server): request, policy, label, parcel_received, quality check, restock, refund")
    print(f"completed returns/s           {report['completed_per_s']}  ({report['returns']} in {report['seconds']} s)")
    print(f"POST /api/returns (ms)        p50 {report['post_ms']['p50']}  p99 {report['post_ms']['p99']}")
    print(f"request to completed (ms)     p50 {report['request_to_completed_ms']['p50']}  "
          f"p99 {report['request_to_completed_ms']['p99']}  (includes the client's polling at {POLL} s)")
    print(f"invariant violations          {len(report['invariant_violations'])}")
    out = ROOT / "bench" / "results" / "returns.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"results written to {out}")
    return 1 if report["invariant_violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
