"""Demo traffic: how many ordinary orders pass the audit without a person?

Submits ordinary orders (bench/traffic.py) through POST /api/orders, on our own embedded stack or on ``--url``,
waits for every audit and reports the hold and auto-approval rates (target 95 %), the rules that held orders,
with an example each, and the holds by channel and segment. ``--fraud-share 0.05`` mixes in suspicious orders
and reports how many were held, per pattern.

    .venv/bin/python -m bench.demo_traffic                        # 500 ordinary orders, own stack
    .venv/bin/python -m bench.demo_traffic --fraud-share 0.05 --output bench/results/demo_traffic_fraud.json
    .venv/bin/python -m bench.demo_traffic --url http://127.0.0.1:8000 --orders 200 --seed 7
"""

import asyncio
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from contextlib import nullcontext

import httpx

from bench import harness
from bench.traffic import Generated, TrafficGenerator

HELD = ("review", "reject")


def build_traffic(args) -> list[Generated]:
    tag = uuid.uuid4().hex[:6] + "-"  # a fresh (channel, external_id) per run, also on a reused stack
    generator = TrafficGenerator(args.seed, "ordinary", run_tag=tag, channel_ips=args.channel_ips)
    fraud = round(args.orders * args.fraud_share)
    orders, rng = [generator.order() for _ in range(args.orders - fraud)], random.Random(args.seed + 1)
    for item in generator.fraud_orders(fraud) if fraud else ():
        orders.insert(rng.randrange(len(orders) + 1), item)
    return orders


async def submit_and_wait(client, orders: list[Generated], args, stack) -> tuple[list[dict], dict[str, dict]]:
    """POST every order (``concurrency`` at a time), then look at each until it has its audit."""

    async def submit(item: Generated) -> dict:
        response = await client.post("/api/orders", json=item.payload)
        return {"http": response.status_code, "id": response.json().get("id"), "body": response.text[:300]}

    async def look(order_id: str) -> None:
        if (order := (await client.get(f"/api/orders/{order_id}")).json()).get("audit") is not None:
            audited[order_id] = order

    outcomes, audited = await harness.gather_limited(args.concurrency, map(submit, orders)), {}
    print(f"submitted {len(orders)} orders; waiting for the audits ...", flush=True)
    deadline, accepted = time.monotonic() + args.timeout, {o["id"] for o in outcomes if o["http"] in (200, 201)}
    while (pending := accepted - set(audited)) and time.monotonic() <= deadline:
        if stack is not None:
            stack.check()
        await harness.gather_limited(args.concurrency, map(look, sorted(pending)))
        await asyncio.sleep(0.5)
    return outcomes, audited


def analyse(pairs: list[tuple[Generated, dict | None]]) -> dict:
    """Hold rate; the rules that held orders (how many alone, an example); holds by channel and segment."""
    done = [(item, order) for item, order in pairs if order is not None]
    held = [(item, order) for item, order in done if order["audit"]["action"] in HELD]
    by_rule: dict[str, dict] = defaultdict(lambda: {"held": 0, "alone": 0})
    for item, order in held:
        deciding = [f for f in order["audit"]["fired"] if f["action"] != "tag"]
        for fired in deciding:
            rule = by_rule[fired["rule"]]
            rule["held"], rule["alone"] = rule["held"] + 1, rule["alone"] + (len(deciding) == 1)
            where = f"{item.payload['channel']} {order['total']} {item.payload['shipping_address'].get('country')}"
            rule.setdefault("e.g.", f"{item.payload['external_id']} {where}: {fired['reason']}")
    groups: dict[str, dict[str, list]] = {"by channel": defaultdict(list), "by segment": defaultdict(list)}
    for item, order in done:
        groups["by channel"][item.payload["channel"]].append(order["audit"]["action"] in HELD)
        groups["by segment"][item.pattern].append(order["audit"]["action"] in HELD)
    actions = Counter(order["audit"]["action"] for _, order in done)
    rates = {"hold %": len(held), "auto-approval %": actions["approve"]}
    rates = {name: round(100 * count / max(1, len(done)), 1) for name, count in rates.items()}
    return {
        "orders": {"submitted": len(pairs), "audited": len(done), "held": len(held)} | rates,
        "actions": dict(actions),
        "held by rule": dict(by_rule),
        **{f"held {k}": {name: f"{sum(v)}/{len(v)}" for name, v in g.items()} for k, g in groups.items()},
        "held orders": [{"order": i.payload, "audit": o["audit"]} for i, o in held],
    }


async def measure(args, stack: harness.BenchStack | None) -> tuple[str, dict, dict]:
    base_url, orders = stack.base_url if stack else args.url.rstrip("/"), build_traffic(args)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        client.headers.update(await harness.login(client, "channel", harness.PASSWORD if stack else args.password))
        outcomes, audited = await submit_and_wait(client, orders, args, stack)
    accepted = [(item, audited.get(o["id"])) for item, o in zip(orders, outcomes, strict=True) if o["id"]]
    figures, details = {}, {"refused": [o for o in outcomes if o["http"] not in (200, 201)], "seed": args.seed}
    for kind in ("ordinary", "fraud"):
        if mine := [(item, order) for item, order in accepted if item.kind == kind]:
            found = analyse(mine)
            details[f"{kind} held orders"] = found.pop("held orders")
            figures |= {f"{kind}: {name}": value for name, value in found.items()}
    title = f"demo_traffic: {len(orders)} orders to {base_url}; client IPs {args.channel_ips}"
    return title, figures, details


def main() -> int:
    traffic = {"orders": 500, "seed": 20261121, "fraud_share": 0.0, "channel_ips": ("as-mapped", "device")}
    server = {"url": "", "password": os.environ.get("OMS_DEV_PASSWORD", "oms-dev"), "concurrency": 8, "timeout": 600.0}
    args = harness.arguments(__doc__, **traffic, **server, output=harness.RESULTS / "demo_traffic.json")
    with nullcontext() if args.url else harness.BenchStack() as stack:
        title, figures, details = asyncio.run(measure(args, stack))
    ordinary = figures["ordinary: orders"]
    verdicts = [("at least 95 % of ordinary orders pass without a person", ordinary["auto-approval %"] >= 95)]
    audited = not details["refused"] and ordinary["audited"] == ordinary["submitted"]
    verdicts += [(f"every order accepted and audited ({ordinary['audited']} of {ordinary['submitted']})", audited)]
    return harness.report(title, figures, verdicts, output=args.output, **details)


if __name__ == "__main__":
    harness.run(main)
