"""Prometheus metrics at /metrics: intake, orders by status, open tasks by age."""

import re

import httpx

from tests.conftest import order_payload


def _samples(stack) -> dict[str, float]:
    text = httpx.get(f"{stack.base_url}/metrics").text
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+(?:\{[^}]*\})?) (\S+)$", text, re.M)}


def test_metrics_count_intake_orders_and_tasks(stack):
    before = _samples(stack)
    created = 'oms_intake_orders_total{channel="web",outcome="created"}'
    rejected = 'oms_intake_orders_total{channel="web",outcome="rejected"}'

    good = stack.submit(order_payload())
    assert good.status_code == 201
    assert stack.submit(order_payload(lines=[])).status_code == 422
    # Held for review: a very large first order from a new address.
    held = stack.submit(order_payload(lines=[{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}])).json()["id"]
    stack.open_task(held)
    stack.wait_status(good.json()["id"], "shipped")

    after = _samples(stack)
    assert after[created] - before.get(created, 0) == 2
    assert after[rejected] - before.get(rejected, 0) == 1
    assert after["oms_intake_seconds_count"] - before.get("oms_intake_seconds_count", 0) == 3
    assert after['oms_orders{status="shipped"}'] >= 1
    assert after['oms_open_tasks{age="under_1h",role="operator"}'] >= 1
    assert after['oms_open_task_oldest_seconds{role="operator"}'] >= 0
    assert after["oms_intake_waiting_workflow_start"] >= 0


def test_metrics_show_open_low_stock_alerts(stack):
    from tests.integration.test_stock import new_sku, order

    sku = new_sku(stack, {"BER": 10}, low_stock_threshold=5)
    order_id = stack.submit(order(sku, 6)).json()["id"]
    stack.wait_for(order_id, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    assert _samples(stack)[f'oms_stock_alerts_open{{sku="{sku}"}}'] == 1
