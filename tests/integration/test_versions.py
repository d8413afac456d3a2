"""Orders keep the flow version they started with."""

from __future__ import annotations

from tests.conftest import fast_flow, order_payload, unique


def test_waiting_orders_finish_by_v1_while_new_orders_run_v2(stack):
    name = "pin_" + unique("f").lower().replace("-", "_")
    v1 = fast_flow(name, delivery_timeout="10m")
    assert stack.publish(v1)["version"] == 1
    waiting = [stack.submit(order_payload(), flow=name).json()["id"] for _ in range(3)]
    for order_id in waiting:
        stack.wait_status(order_id, "shipped")

    # v2: delivered orders end as "delivered" instead of "completed".
    v2 = v1.replace(
        "  - id: completed\n    type: end\n    status: completed",
        "  - id: completed\n    type: end\n    status: delivered",
    )
    assert v2 != v1
    assert stack.publish(v2)["version"] == 2
    fresh = stack.submit(order_payload(), flow=name).json()["id"]
    stack.wait_status(fresh, "shipped")

    with stack.client("channel") as client:
        for order_id in [*waiting, fresh]:
            assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    for order_id in waiting:
        order = stack.wait_status(order_id, "completed")
        assert order["flow"] == {"name": name, "version": 1}
        assert order["timeline"][-1]["message"] == f"flow {name} v1 ended: completed"
    order = stack.wait_status(fresh, "delivered")
    assert order["flow"] == {"name": name, "version": 2}
    assert order["timeline"][-1]["message"] == f"flow {name} v2 ended: delivered"
