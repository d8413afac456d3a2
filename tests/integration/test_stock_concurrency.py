"""200 concurrent orders for 50 in stock, through HTTP, workflows and the database: never oversold."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.integration.test_stock import balances, new_sku, order, reconciliation

ORDERS = 200
IN_STOCK = 50


async def _post_all(stack, payloads: list[dict]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {stack.token('channel')}"}
    limits = httpx.Limits(max_connections=ORDERS, max_keepalive_connections=ORDERS)
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=120, limits=limits) as client:
        return await asyncio.gather(*(client.post("/api/orders", json=p) for p in payloads))


def test_200_concurrent_orders_for_50_in_stock_reserve_exactly_50(stack):
    sku = new_sku(stack, {"BER": IN_STOCK, "LYS": 0, "NJ1": 0})
    responses = asyncio.run(_post_all(stack, [order(sku, 1) for _ in range(ORDERS)]))
    assert [r.status_code for r in responses] == [201] * ORDERS
    order_ids = {r.json()["id"] for r in responses}

    deadline = time.monotonic() + 600
    with stack.client("operator") as client:
        while True:
            moves = client.get("/api/inventory/movements", params={"sku": sku, "limit": 1000}).json()["movements"]
            reserved_by = {m["order_id"] for m in moves if m["operation"] == "reserve"}
            waiting = {
                b["order_id"] for b in client.get("/api/inventory/backorders", params={"sku": sku}).json()["backorders"]
            }
            if len(reserved_by) + len(waiting) >= ORDERS or time.monotonic() > deadline:
                break
            time.sleep(1)
        backordered = {
            o["id"] for o in client.get("/api/orders", params={"status": "backordered", "limit": 500}).json()["orders"]
        }

    assert len(reserved_by) == IN_STOCK
    assert sum(m["qty"] for m in moves if m["operation"] == "reserve") == IN_STOCK
    assert len(waiting) == ORDERS - IN_STOCK
    assert reserved_by | waiting == order_ids and not reserved_by & waiting
    # Every order without stock sits in the flow's backorder wait.
    deadline = time.monotonic() + 60
    while not waiting <= backordered and time.monotonic() < deadline:
        time.sleep(1)
        with stack.client("operator") as client:
            backordered = {
                o["id"]
                for o in client.get("/api/orders", params={"status": "backordered", "limit": 500}).json()["orders"]
            }
    assert waiting <= backordered
    # Reserved orders go on shipping meanwhile: read the ledger before and after the balance
    # until no shipment fell in between, so both describe the same moment.
    with stack.client("operator") as client:

        def shipped_now() -> int:
            moves = client.get("/api/inventory/movements", params={"sku": sku, "limit": 1000}).json()["movements"]
            return sum(m["qty"] for m in moves if m["operation"] == "ship")

        for _ in range(50):
            shipped = shipped_now()
            ((on_hand, reserved),) = [v for k, v in balances(stack, sku).items() if k == "BER"]
            if shipped_now() == shipped:
                break
    assert (on_hand + shipped, reserved + shipped) == (IN_STOCK, IN_STOCK)
    assert on_hand - reserved == 0
    report = reconciliation(stack)
    assert (report["differences"], report["negative"]) == ([], [])
