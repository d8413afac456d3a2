"""Pick, check and pack: people confirm SKUs and quantities by scan; orders ready to pick are batched in waves."""

from __future__ import annotations

from tests.conftest import fast_flow, order_payload

WAREHOUSE_STEPS = """
  # People pick and pack; checking is automatic.
  - id: pick
    type: approval
    title: Pick
    role: operator
    status: ready_to_pick
    due: 1d
    scan: [done]
    on: {done: check}
    events: {cancel_requested: release_cancelled}
    on_timeout: pick

  - id: check
    type: activity
    activity: check
    next: pack

  - id: pack
    type: approval
    title: Pack
    role: operator
    status: packing
    due: 1d
    scan: [packed]
    on: {packed: ship}
    on_timeout: pack
"""


def picking_flow(name: str) -> str:
    text = fast_flow(name)
    old = "    params: {event: confirmed}\n    next: ship\n"
    assert old in text
    return text.replace(old, "    params: {event: confirmed}\n    next: pick\n") + WAREHOUSE_STEPS


def decide(stack, task_id: str, decision: str, scans: list[dict]):
    with stack.client("operator") as client:
        return client.post(f"/api/tasks/{task_id}/decision", json={"decision": decision, "scans": scans})


def test_orders_ready_to_pick_form_a_wave_and_are_picked_and_packed_by_scan(stack):
    name = "order_picked_by_people"
    stack.publish(picking_flow(name))
    first = stack.submit(
        order_payload(
            lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}, {"sku": "TSHIRT-BLK-M", "qty": 1, "price": 19.9}]
        ),
        flow=name,
    ).json()["id"]
    second = stack.submit(order_payload(lines=[{"sku": "MUG-LOGO", "qty": 3, "price": 9.5}]), flow=name).json()["id"]
    tasks = {order_id: stack.open_task(order_id) for order_id in (first, second)}
    assert stack.order(first)["status"] == "ready_to_pick"
    assert tasks[first]["reason"] == "scan 2 x MUG-LOGO, 1 x TSHIRT-BLK-M"
    warehouse = stack.order(first)["allocations"][0]["warehouse"]

    with stack.client("operator") as client:
        created = client.post("/api/waves", json={"warehouse": warehouse, "max_orders": 500})
        assert created.status_code == 201, created.text
        wave = created.json()
        assert {first, second} <= {o["id"] for o in wave["orders"]}
        mugs = next(line for line in wave["lines"] if line["sku"] == "MUG-LOGO")
        assert {(o["order_id"], o["qty"]) for o in mugs["orders"]} >= {(first, 2), (second, 3)}
        pick_list = client.get(f"/api/waves/{wave['id']}/pick-list")
        assert pick_list.status_code == 200
        assert f"<h1>Pick list {wave['id']}</h1>" in pick_list.text
        assert f"{first} (2)" in pick_list.text and f"{second} (3)" in pick_list.text
        again = client.post("/api/waves", json={"warehouse": warehouse})
        assert (again.status_code, again.json()["detail"]) == (
            409,
            f"no order in warehouse {warehouse} is ready to pick",
        )
        assert client.get(f"/api/waves/{wave['id']}").json()["status"] == "open"

    # A wrong scan is refused by the workflow's validator and changes nothing.
    short = decide(stack, tasks[first]["id"], "done", [{"sku": "MUG-LOGO", "qty": 1}, {"sku": "TSHIRT-BLK-M"}])
    assert (short.status_code, short.json()["detail"]) == (422, "MUG-LOGO: scanned 1 of 2")
    stranger = decide(stack, tasks[first]["id"], "done", [{"sku": "LAPTOP-14", "qty": 1}])
    assert (stranger.status_code, stranger.json()["detail"]) == (
        422,
        "scan 1: LAPTOP-14 is not in this order; expected 2 x MUG-LOGO, 1 x TSHIRT-BLK-M",
    )
    nothing = decide(stack, tasks[first]["id"], "done", [])
    assert (nothing.status_code, nothing.json()["detail"]) == (
        422,
        "scan every item: expected 2 x MUG-LOGO, 1 x TSHIRT-BLK-M",
    )
    assert stack.order(first)["status"] == "ready_to_pick"

    scans = [{"sku": "MUG-LOGO", "qty": 1}, {"sku": "TSHIRT-BLK-M", "qty": 1}, {"sku": "MUG-LOGO", "qty": 1}]
    picked = decide(stack, tasks[first]["id"], "done", scans)
    assert picked.status_code == 200, picked.text
    pack_task = stack.wait_for(first, lambda o: any(t["status"] == "open" and t["title"] == "Pack" for t in o["tasks"]))
    pack_task = next(t for t in pack_task["tasks"] if t["status"] == "open")
    assert decide(stack, pack_task["id"], "packed", scans).status_code == 200
    order = stack.wait_for(first, lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    types = [e["type"] for e in order["timeline"]]
    assert types[types.index("task_decided") :][:5] == [
        "task_decided",
        "checked",
        "task_opened",
        "task_decided",
        "shipped",
    ]
    decided = next(e for e in order["timeline"] if e["type"] == "task_decided")
    assert decided["data"]["scans"] == scans

    # The second order of the wave is cancelled while it waits to be picked: its task closes.
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{second}/cancel", json={"reason": "duplicate"}).status_code == 202
    stack.wait_status(second, "cancelled")
    with stack.client("operator") as client:
        assert client.get(f"/api/waves/{wave['id']}").json()["status"] == "done"


def test_a_wave_for_an_unknown_warehouse_is_refused(stack):
    with stack.client("operator") as client:
        response = client.post("/api/waves", json={"warehouse": "XXX"})
        channel = stack.client("channel").post("/api/waves", json={"warehouse": "BER"})
    assert (response.status_code, response.json()["detail"]) == (422, "warehouse: no warehouse 'XXX'")
    assert channel.status_code == 403
