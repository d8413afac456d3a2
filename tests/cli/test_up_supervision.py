"""`oms up` supervises: a crashed process comes back by itself, too many crashes stop everything cleanly,
and SIGTERM or SIGINT leave no process behind."""

from __future__ import annotations

import os
import signal
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.cli.conftest import listening, wait_until
from tests.conftest import order_payload

ORDERS = 200


def _shipped(client: httpx.Client, ids: set[str]) -> set[str]:
    response = client.get("/api/orders", params={"status": "shipped", "limit": 500})
    response.raise_for_status()
    return {o["id"] for o in response.json()["orders"]} & ids


def test_worker_killed_during_200_orders_is_restarted_and_each_order_completes_exactly_once(oms_up):
    up = oms_up()
    worker = up.child("worker")
    with up.client("channel") as channel, up.client("operator") as operator:

        def submit(_: int) -> str:
            response = channel.post("/api/orders", json=order_payload())
            assert response.status_code == 201, response.text
            return response.json()["id"]

        with ThreadPoolExecutor(8) as pool:
            ids = set(pool.map(submit, range(ORDERS)))
        assert len(ids) == ORDERS
        wait_until(lambda: _shipped(operator, ids), 120, "a first order shipped")

        os.kill(worker.pid, signal.SIGKILL)
        in_flight = ORDERS - len(_shipped(operator, ids))
        assert in_flight > 0, "every order had shipped before the worker was killed"
        restarted = up.child("worker", other_than=worker.pid)
        wait_until(lambda: f"`worker` restarted (pid {restarted.pid})" in up.output(), 10, "the restart logged")
        assert "`worker` exited with code -9; restarting it in 0.5s (crash 1 of 5 allowed within 60s)" in up.output()

        wait_until(lambda: _shipped(operator, ids) == ids, 300, f"all {ORDERS} orders shipped")
        for order_id in ids:
            order = up.order(operator, order_id)
            seqs = [e["seq"] for e in order["timeline"]]
            assert seqs == list(range(1, len(seqs) + 1)), order["timeline"]
            kinds = Counter(e["type"] for e in order["timeline"])
            assert (kinds["audited"], kinds["stock_reserved"], kinds["shipped"]) == (1, 1, 1), order["timeline"]
            assert Counter(a["state"] for a in order["allocations"]) == {"reserve": 1, "ship": 1}
            assert len(order["shipments"]) == 1, order["shipments"]
    assert up.process.poll() is None
    assert up.children()["worker"].pid == restarted.pid  # one crash, one restart, nothing else


def test_a_killed_dev_server_is_restarted_and_orders_go_on(oms_up):
    up = oms_up()
    temporal = up.child("temporal")
    os.kill(temporal.pid, signal.SIGKILL)
    up.child("temporal", other_than=temporal.pid)
    wait_until(lambda: "`temporal` restarted" in up.output(), 60, "the dev server restarted")
    with up.client("channel") as channel:
        order_id = channel.post("/api/orders", json=order_payload()).json()["id"]
        wait_until(lambda: up.order(channel, order_id)["status"] == "shipped", 120, "the order shipped")
    assert up.process.poll() is None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_oms_up_alone_stops_every_process(oms_up, signum):
    up = oms_up()
    assert {"temporal", "worker", "web"} <= set(up.children()), up.children()

    os.kill(up.pid, signum)  # to the one process, as systemd, Docker and `timeout` do
    assert up.wait(timeout=60) == 0, up.output()[-3000:]
    assert "stopping ..." in up.output()
    up.assert_nothing_left()
    assert not any(listening(port) for port in up.ports)


def test_a_process_that_keeps_crashing_makes_oms_up_give_up_cleanly(oms_up):
    up = oms_up(OMS_UP_MAX_CRASHES="2", OMS_UP_CRASH_WINDOW="120")
    worker = up.child("worker")
    for _ in range(2):  # allowed: restarted each time
        os.kill(worker.pid, signal.SIGKILL)
        worker = up.child("worker", other_than=worker.pid)
    os.kill(worker.pid, signal.SIGKILL)  # one crash more than allowed

    assert up.wait(timeout=60) == 1
    output = up.output()
    assert "`worker` exited with code -9; restarting it in 0.5s (crash 1 of 2 allowed within 120s)" in output
    assert "`worker` exited with code -9; restarting it in 1s (crash 2 of 2 allowed within 120s)" in output
    assert "oms up: `worker` crashed 3 times within 120s (last exit code -9); giving up; stopping everything" in output
    up.assert_nothing_left()
    assert not any(listening(port) for port in up.ports)


def test_children_die_with_a_killed_oms_up(oms_up):
    up = oms_up()
    assert {"temporal", "worker", "web"} <= set(up.children()), up.children()

    os.kill(up.pid, signal.SIGKILL)  # no clean-up code runs: the kernel tells the children (Linux)
    assert up.wait(timeout=10) == -signal.SIGKILL
    up.assert_nothing_left(timeout=30)
    assert not any(listening(port) for port in up.ports)
