"""--orders orders waiting for payment on flow v1 moved to v2 (a longer wait) by the durable migration (issue 15:
10,000 in under 60 s): seconds from start to done, the worker's peak RSS (VmHWM, its whole life, intake included).

    .venv/bin/python -m bench.migrate_orders --orders 300
"""

import asyncio
import re
from datetime import datetime
from pathlib import Path

import httpx

from bench import harness
from bench.returns import order_payload

FLOW, UNPAID = "bench_move", {"payment": {"method": "invoice", "status": "pending"}}
WAITING = "SELECT count(*) FROM orders WHERE flow_name = ? AND status = 'awaiting_payment'"


async def until(ready, patience: float = 3600) -> None:
    for _ in range(int(patience)):
        if await ready():
            return
        await asyncio.sleep(1)
    raise RuntimeError(f"still not there after {patience} s")


async def measure(stack: harness.BenchStack, n: int) -> dict:
    v1 = (harness.ROOT / "definitions/flows/order.yaml").read_text().replace("name: order\n", f"name: {FLOW}\n")
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client:
        analyst, client.headers = await harness.login(client, "analyst"), await harness.login(client, "channel")
        (await client.post("/api/definitions", json={"text": v1}, headers=analyst)).raise_for_status()
        orders = (order_payload(i, FLOW) | UNPAID for i in range(n))
        await harness.gather_limited(32, (client.post("/api/orders", json=o, params={"flow": FLOW}) for o in orders))
        await until(lambda: asyncio.to_thread(lambda: harness.read_only(stack.db_file, WAITING, (FLOW,))[0][0] >= n))
        client.headers, url = analyst, f"/api/definitions/flow/{FLOW}/migrations"
        (
            await client.post("/api/definitions", json={"text": v1.replace("timeout: 3d", "timeout: 5d")})
        ).raise_for_status()
        got = (await client.post(url, json={"from": 1, "to": 2})).raise_for_status().json()

        async def done() -> bool:
            got.update((await client.get(f"{url}/{got['id']}")).json())
            return got["status"] in ("completed", "failed")

        await until(done)
    return got


def main() -> int:
    args = harness.arguments(__doc__, orders=10_000)
    with harness.BenchStack() as stack:
        got = asyncio.run(measure(stack, args.orders))
        status = Path(f"/proc/{stack.children['worker'].process.pid}/status").read_text()
    seconds = (datetime.fromisoformat(got["finished_at"]) - datetime.fromisoformat(got["created_at"])).total_seconds()
    figures = {
        "seconds": round(seconds, 1),
        "worker peak RSS (MB)": int(re.findall(r"VmHWM:\s+(\d+)", status)[0]) // 1024,
        "migration": {key: got[key] for key in ("status", "moved", "already", "stayed", "failed", "batches")},
    }
    verdicts = [(f"all {args.orders} moved", got["moved"] == args.orders)]
    verdicts += [("10,000 moved in under 60 s", seconds < 60)] if args.orders >= 10_000 else []
    return harness.report(f"migrate_orders: {args.orders} waiting orders moved v1 -> v2", figures, verdicts)


if __name__ == "__main__":
    harness.run(main)
