"""A worker killed mid-flow: every order still completes, exactly once."""

from __future__ import annotations

import time
from collections import Counter

from tests.conftest import fast_flow, order_payload, unique


def test_worker_killed_mid_flow_every_order_completes_exactly_once(stack):
    name = "dur_" + unique("f").lower().replace("-", "_")
    stack.publish(fast_flow(name, payment_timeout="10m", delivery_timeout="10m"))
    unpaid = {"method": "invoice", "status": "pending"}
    waiting = [stack.submit(order_payload(payment=unpaid), flow=name).json()["id"] for _ in range(4)]
    for order_id in waiting:
        stack.wait_status(order_id, "awaiting_payment")

    # A burst in flight when the worker dies, and signals sent while it is down.
    in_flight = [stack.submit(order_payload(), flow=name).json()["id"] for _ in range(8)]
    time.sleep(0.3)
    stack.kill("worker")
    with stack.client("channel") as client:
        for order_id in waiting:
            assert client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"}).status_code == 202
    stack.start("worker")

    everything = waiting + in_flight
    for order_id in everything:
        stack.wait_status(order_id, "shipped", timeout=60)
    with stack.client("channel") as client:
        for order_id in everything:
            assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    for order_id in everything:
        order = stack.wait_status(order_id, "completed", timeout=60)
        seqs = [e["seq"] for e in order["timeline"]]
        assert seqs == list(range(1, len(seqs) + 1)), order["timeline"]
        kinds = Counter(e["type"] for e in order["timeline"])
        assert (kinds["audited"], kinds["stock_reserved"], kinds["shipped"], kinds["completed"]) == (1, 1, 1, 1)
        assert Counter(a["state"] for a in order["allocations"]) == {"reserve": 1, "ship": 1}
        assert len(order["shipments"]) == 1
