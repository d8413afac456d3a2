"""Waiting orders moved from flow v1 to v2 (a longer wait) by the durable migration the designer starts (issue 15:
10,000 in under 60 s): seconds to done, each process's CPU, the worker's peak RSS meanwhile. Seeded, untimed, by
intake of unpaid orders on the shipped order flow entered at its payment check (the demo stock holds no 10,000).

    .venv/bin/python -m bench.migrate_orders                # 10,000 orders, batches of 500, 64 Updates at a time
"""

import asyncio
import re
import time
from pathlib import Path

import httpx

from bench import harness

FLOW, UNPAID = "bench_move", {"payment": {"method": "invoice", "status": "pending"}}
WAITING = "SELECT count(*) FROM orders WHERE flow_name = ? AND status = 'awaiting_payment'"


async def measure(stack: harness.BenchStack, args, v1: str, worker: Path) -> dict:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=120) as client:
        analyst, client.headers = await harness.login(client, "analyst"), await harness.login(client, "channel")
        (await client.post("/api/definitions", json={"text": v1}, headers=analyst)).raise_for_status()
        orders = (harness.prepaid_order(i, f"RB-{FLOW}", "MUG-LOGO", 9.5, qty=2) | UNPAID for i in range(args.orders))
        await harness.gather_limited(32, (client.post("/api/orders", json=o, params={"flow": FLOW}) for o in orders))
        while stack.read(WAITING, (FLOW,))[0][0] < args.orders:
            stack.check()  # a child that died ends the run instead of leaving it waiting
            await asyncio.sleep(1)
        client.headers, url = analyst, f"/api/definitions/flow/{FLOW}/migrations"
        v2 = {"text": v1.replace("timeout: 3d", "timeout: 5d")}
        (await client.post("/api/definitions", json=v2)).raise_for_status()
        meter = harness.CpuMeter({name: child.process.pid for name, child in stack.children.items()})
        body = {"from": 1, "to": 2, "batch_size": args.batch_size, "concurrency": args.concurrency}
        await asyncio.to_thread((worker / "clear_refs").write_text, "5")  # its peak RSS counts from here
        began, before = time.perf_counter(), meter.read()
        got = (await client.post(url, json=body)).raise_for_status().json()
        while got["status"] not in ("completed", "failed"):
            await asyncio.sleep(0.2)
            got = (await client.get(f"{url}/{got['id']}")).json()
        return got | {"seconds": time.perf_counter() - began, "cores": meter.cores(before, meter.read())}


def main() -> int:
    args = harness.arguments(__doc__, orders=10_000, batch_size=500, concurrency=64)
    v1 = (harness.ROOT / "definitions/flows/order.yaml").read_text().replace("name: order\n", f"name: {FLOW}\n")
    with harness.BenchStack() as stack:
        worker = Path(f"/proc/{stack.children['worker'].process.pid}")
        got = asyncio.run(measure(stack, args, v1.replace("start: audit", "start: payment_check"), worker))
        peak = int(re.findall(r"VmHWM:\s+(\d+)", (worker / "status").read_text())[0]) // 1024
    figures = {"seconds": round(got["seconds"], 1), "moved per second": round(got["moved"] / got["seconds"], 1)}
    figures |= {"worker peak RSS during the move (MB)": peak, "cores busy during the move": got["cores"]}
    figures["migration"] = {key: got[key] for key in ("status", "moved", "already", "stayed", "failed", "batches")}
    verdicts = [(f"all {args.orders} moved", got["moved"] == args.orders)]
    verdicts += [("10,000 moved in under 60 s", got["seconds"] < 60)] if args.orders >= 10_000 else []
    return harness.report(f"migrate_orders: {args.orders} waiting orders moved v1 -> v2", figures, verdicts)


if __name__ == "__main__":
    harness.run(main)
