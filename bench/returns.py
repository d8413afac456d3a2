"""Returns end to end on the embedded stack: request, policy, label, parcel, quality check, restock, refund.

Delivers ``--returns`` prepaid web orders, then returns one item of each, ``--concurrency`` at a time, until
completed: returns per second, p50/p99 of POST /api/returns and of request to completion; checks that each
refund equals the value, with one `return` ledger movement.

    .venv/bin/python -m bench.returns --returns 100 --concurrency 10   # --waiting N: memory with N returns waiting
"""

import asyncio
import contextlib
import time
import uuid

import httpx

from bench import harness

POLL, PATIENCE = 0.1, 300  # seconds between looks at a return or order; seconds it may take to the next status
SKUS = [("MUG-LOGO", 9.5), ("TSHIRT-BLK-M", 19.9), ("BACKPACK-20L", 59.0)]
KEEP_ALIVE = httpx.Limits(keepalive_expiry=4.0)  # idle connections dropped before the server closes them (5 s)


async def until(client: httpx.AsyncClient, url: str, status: str) -> dict:
    deadline, body = time.monotonic() + PATIENCE, {}
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):  # a kept-alive connection the server closed: look again
            if (body := (await client.get(url)).json())["status"] == status:
                return body
        await asyncio.sleep(POLL)
    raise RuntimeError(f"{url} stuck in {body.get('status')}")


async def deliver(client: httpx.AsyncClient, n: int, tag: str) -> str:
    body = harness.prepaid_order(n, f"RB-{tag}", *SKUS[n % 3], qty=2)
    order_id = (await client.post("/api/orders", json=body)).json()["id"]
    await until(client, f"/api/orders/{order_id}", "shipped")
    await client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"})
    await until(client, f"/api/orders/{order_id}", "completed")
    return order_id


async def requested(client: httpx.AsyncClient, order_id: str) -> tuple[str, float]:
    """Ask for one item of ``order_id`` back: the return's URL once it waits for its parcel, seconds to answer."""
    body = {"order_id": order_id, "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}
    began = time.perf_counter()
    response = (await client.post("/api/returns", json=body)).raise_for_status()
    posted, url = time.perf_counter() - began, f"/api/returns/{response.json()['id']}"
    await until(client, url, "awaiting_parcel")
    return url, posted


async def received(client: httpx.AsyncClient, url: str) -> float:
    """The parcel of a waiting return arrives: seconds until the return is being inspected."""
    began = time.perf_counter()
    await client.post(f"{url}/events", json={"type": "parcel_received"})
    await until(client, url, "inspecting")
    return time.perf_counter() - began


async def one_return(client: httpx.AsyncClient, order_id: str) -> dict:
    began = time.perf_counter()
    url, posted = await requested(client, order_id)
    await received(client, url)
    qc = {"decision": "inspected", "qc": [{"line": 1, "result": "resellable"}]}
    (await client.post(f"{url}/decision", json=qc)).raise_for_status()
    return {"post_s": posted, "total_s": time.perf_counter() - began, "return": await until(client, url, "completed")}


async def measure(stack: harness.BenchStack, args) -> tuple[dict, list]:
    tag, figures = uuid.uuid4().hex[:6], {}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60, limits=KEEP_ALIVE) as client:
        client.headers.update(await harness.login(client, "operator"))
        orders = await harness.gather_limited(args.concurrency, (deliver(client, n, tag) for n in range(args.returns)))
        print(f"{len(orders)} orders delivered; returning one item of each", flush=True)
        began = time.perf_counter()
        done = await harness.gather_limited(args.concurrency, (one_return(client, o) for o in orders))
        seconds = time.perf_counter() - began
        if args.waiting:  # returns left waiting for their parcel: the worker's memory; the first and last received
            worker, more = stack.children["worker"].process.pid, range(args.returns, args.returns + args.waiting)
            figures, limit = {"worker memory before (MiB)": harness.rss_mib(worker)}, args.concurrency
            for sku, _ in SKUS:  # stock no run exhausts, in Berlin where these orders are allocated
                (await client.put(f"/api/inventory/BER/{sku}", json={"on_hand": 10**9})).raise_for_status()
            orders = await harness.gather_limited(limit, (deliver(client, n, tag) for n in more))
            urls = [url for url, _ in await harness.gather_limited(limit, (requested(client, o) for o in orders))]
            figures[f"... with {args.waiting} returns waiting (MiB)"] = harness.rss_mib(worker)
            for name, url in (("first", urls[0]), ("last", urls[-1])):
                figures[f"parcel received to inspecting, the {name} (ms)"] = round(1000 * await received(client, url))
    wrong = [r["return"]["id"] for r in done if r["return"]["refunded"] != r["return"]["value"]]
    wrong += [r["return"]["id"] for r in done if [m["operation"] for m in r["return"]["stock_movements"]] != ["return"]]
    figures |= {"completed returns per second": round(len(done) / seconds, 2), "seconds": round(seconds, 1)}
    figures["POST /api/returns (ms)"] = harness.spread([r["post_s"] for r in done], 1000)
    figures["request to completed (ms)"] = harness.spread([r["total_s"] for r in done], 1000)
    return figures, wrong


def main() -> int:
    args = harness.arguments(__doc__, returns=200, concurrency=20, waiting=0)
    with harness.BenchStack() as stack:
        figures, wrong = asyncio.run(measure(stack, args))
    title = f"returns: {args.returns} refund returns, {args.concurrency} at a time, embedded stack (polls {POLL} s)"
    return harness.report(title, figures, [(f"no invariant violations ({wrong})", not wrong)])


if __name__ == "__main__":
    harness.run(main)
