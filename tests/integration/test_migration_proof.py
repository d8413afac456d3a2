"""The proof of issue 15, as the issue states it, on the real stack (SQLite and PostgreSQL).

50 orders wait for their payment on v1 of an order flow, 10 returns wait for their parcel on v1 of a
return flow. v2 of each waits longer and has a new step: a fraud check after the payment, a reminder
when the parcel deadline is extended. The preview counts 60 movable and 0 blocked; the durable
migrations (the designer's API) move them; each waits on v2's deadline (its moved line and the timer
its workflow runs now), and then runs v2, new step included. An order held at the review step v2
renamed stays on v1 and finishes there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from tests.conftest import fast_flow, order_payload
from tests.integration.test_migration import HELD, UNPAID, _name, _pay, order_v2
from tests.integration.test_returns import fast_return_flow, post_return, return_event, wait_return

ORDERS, RETURNS = 50, 10
LINES = [("TSHIRT-WHT-L", 19.9), ("SNEAKER-42", 89.0), ("BACKPACK-20L", 59.0)]  # spread over three SKUs' stock
EXTENSION_REMINDER = """\
  - id: extension_reminder
    type: activity
    activity: notify_return
    params: {event: return_reminder}
    next: await_parcel_extended

  - id: remind
"""


def return_v2(name: str) -> str:
    """A longer parcel wait (restarted on the move), and a reminder to the customer when it is extended."""
    return (
        fast_return_flow(name, parcel="30m", late="10m")
        .replace("deadline_extended: await_parcel_extended", "deadline_extended: extension_reminder", 1)
        .replace("  - id: remind\n", EXTENSION_REMINDER, 1)
        .replace("await_parcel, await_parcel_extended", "await_parcel, extension_reminder, await_parcel_extended")
    ) + "\nmigrate:\n  timers: restart\n"


def side_by_side(function: Callable[[Any], Any], items: list) -> list:
    """``function`` over ``items``, 8 requests at a time: the test waits for the stack, not its own round trips."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(function, items))


def steps(instance: dict) -> list[str | None]:
    return [e.get("step") for e in instance["timeline"]]


def returns_waiting_for_their_parcel(stack, flow: str, n: int) -> list[str]:
    """``n`` delivered orders (run side by side), one item of each returned on ``flow``."""
    orders = [stack.submit(order_payload()).json()["id"] for _ in range(n)]
    for order_id in orders:
        stack.wait_status(order_id, "shipped", timeout=90)
        with stack.client("channel") as client:
            assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    returns = []
    for order_id in orders:
        stack.wait_status(order_id, "completed", timeout=60)
        body = {"order_id": order_id, "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"}
        response = post_return(stack, body, flow=flow)
        assert response.status_code == 201, response.text
        returns.append(response.json()["id"])
    for return_id in returns:
        wait_return(stack, return_id, "awaiting_parcel")
    return returns


def running_timers(stack, workflow_ids: list[str]) -> list[float]:
    """The timeout (seconds) of the timer each workflow started last: the one its wait runs on now."""

    async def fetch() -> list[float]:
        client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])

        async def last_timer(workflow_id: str) -> float:
            timers = [
                event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
                async for event in client.get_workflow_handle(workflow_id).fetch_history_events()
                if event.HasField("timer_started_event_attributes")
            ]
            return timers[-1]

        return list(await asyncio.gather(*(last_timer(workflow_id) for workflow_id in workflow_ids)))

    return asyncio.run(fetch())


def migrate(client, flow: str) -> dict:
    """Start the durable migration v1 -> v2 of ``flow`` and follow it to its end."""
    base = f"/api/definitions/flow/{flow}/migrations"
    started = client.post(base, json={"from": 1, "to": 2, "batch_size": 20, "concurrency": 8})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while (progress := client.get(f"{base}/{started.json()['id']}").json())["status"] != "completed":
        assert progress["status"] in ("running", "paused") and time.monotonic() < deadline, progress
        time.sleep(0.3)
    return progress


def test_fifty_orders_and_ten_returns_move_to_v2_and_run_it_while_the_unmappable_one_finishes_on_v1(stack):
    order_flow, return_flow = _name("proof_order"), _name("proof_return")
    stack.publish(fast_flow(order_flow, payment_timeout="10m", review_due="10m", escalation_due="10m"))
    stack.publish(fast_return_flow(return_flow, parcel="10m", late="10m"))
    lines = [[{"sku": sku, "qty": 1, "price": price}] for sku, price in LINES]
    payloads = [order_payload(payment=UNPAID, lines=lines[n % len(lines)]) for n in range(ORDERS)]
    orders = [r.json()["id"] for r in side_by_side(lambda p: stack.submit(p, flow=order_flow), payloads)]
    held = stack.submit(order_payload(lines=HELD), flow=order_flow).json()["id"]
    returns = returns_waiting_for_their_parcel(stack, return_flow, RETURNS)
    for order_id in orders:
        stack.wait_status(order_id, "awaiting_payment", timeout=60)
    stack.wait_status(held, "on_hold")
    assert stack.publish(order_v2(order_flow))["version"] == 2
    assert stack.publish(return_v2(return_flow))["version"] == 2

    with stack.client("analyst") as client:
        # the preview: the 60 that wait for an event all move, nothing blocks them ...
        waiting = {order_flow: "status=awaiting_payment", return_flow: "status=awaiting_parcel"}
        previews = {
            flow: client.post(
                f"/api/definitions/flow/{flow}/migrations/preview", json={"from": 1, "to": 2, "where": [where]}
            ).json()
            for flow, where in waiting.items()
        }
        assert sum(p["movable"] for p in previews.values()) == ORDERS + RETURNS
        assert sum(p["blocked"] for p in previews.values()) == 0
        assert previews[order_flow]["moves"] == {"await_payment -> await_payment": ORDERS}
        assert previews[return_flow]["moves"] == {"await_parcel -> await_parcel": RETURNS}
        # ... and the held order, at the review step v2 renamed, would stay
        every = client.post(f"/api/definitions/flow/{order_flow}/migrations/preview", json={"from": 1, "to": 2})
        assert (every.json()["movable"], every.json()["blocked"]) == (ORDERS, 1)
        assert every.json()["stays"] == {
            "the new version has no step 'manual_review'; map it in its migrate: section": 1
        }

        began = datetime.now(UTC).timestamp()
        moved_orders, moved_returns = migrate(client, order_flow), migrate(client, return_flow)
        ended = datetime.now(UTC).timestamp()
    assert (moved_orders["moved"], moved_orders["stayed"], moved_orders["failed"]) == (ORDERS, 1, 0)
    assert (moved_returns["moved"], moved_returns["stayed"], moved_returns["failed"]) == (RETURNS, 0, 0)

    # every one waits on v2's deadline, restarted by the move: 20 minutes for the payment, 30 for the parcel
    details = side_by_side(stack.order, orders)
    parcels = side_by_side(
        lambda return_id: wait_return(stack, return_id, lambda r: r["flow"]["version"] == 2), returns
    )
    expected = [(o, "await_payment", 20 * 60) for o in details] + [(r, "await_parcel", 30 * 60) for r in parcels]
    for instance, step, seconds in expected:
        assert instance["flow"]["version"] == 2 and instance["status"] in ("awaiting_payment", "awaiting_parcel")
        [moved] = [e for e in instance["timeline"] if e["type"] == "moved"]
        assert moved["message"] == f"moved from v1 to v2 at step {step} by analyst"
        assert began + seconds <= moved["data"]["deadline"] <= ended + seconds, (instance["id"], moved["data"])
    timers = running_timers(stack, [o["workflow_id"] for o in details] + [f"return-{r['id']}" for r in parcels])
    assert all(20 * 60 - 60 < t <= 20 * 60 for t in timers[:ORDERS]), timers[:ORDERS]  # v1 had under 10 left
    assert all(30 * 60 - 60 < t <= 30 * 60 for t in timers[ORDERS:]), timers[ORDERS:]

    # they proceed on v2: paid orders take the fraud check, extended returns remind the customer
    side_by_side(lambda order_id: _pay(stack, order_id), orders)

    def reminded_then_received(return_id: str) -> dict:
        assert return_event(stack, return_id, "deadline_extended").status_code == 202, return_id
        wait_return(stack, return_id, lambda r: "extension_reminder" in steps(r))
        assert return_event(stack, return_id, "parcel_received").status_code == 202, return_id
        return wait_return(stack, return_id, "inspecting")

    for ret in side_by_side(reminded_then_received, returns):
        assert ret["flow"]["version"] == 2 and "extension_reminder" in steps(ret)
    for order_id in orders:
        order = stack.wait_status(order_id, "shipped", timeout=120)
        assert order["flow"]["version"] == 2
        assert steps(order).index("fraud_check") < steps(order).index("record_payment"), steps(order)

    # the held one stayed on v1, and finishes there
    assert stack.order(held)["flow"]["version"] == 1
    task = stack.open_task(held)
    with stack.client("operator") as client:
        decided = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve", "comment": ""})
        assert decided.status_code == 200, decided.text
    stack.wait_status(held, "shipped", timeout=60)
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{held}/events", json={"type": "delivered"}).status_code == 202
    done = stack.wait_status(held, "completed", timeout=60)
    assert done["flow"]["version"] == 1 and "fraud_check" not in steps(done)
    assert not [e for e in done["timeline"] if e["type"] == "moved"]
