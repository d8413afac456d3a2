"""Moving waiting orders and returns to a new flow version (issue 15), on the real stack.

Orders waiting for their payment and returns waiting for their parcel on v1;
v2 waits longer and adds a step. The preview counts them; ``oms migrate-orders``
moves them; paid, they run v2's new step. An order waiting at a step v2 no
longer has stays on v1 and finishes there. Running the migration again moves
nothing.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import fast_flow, order_payload, unique
from tests.integration.test_returns import delivered_order, fast_return_flow, post_return, return_event, wait_return

ROOT = Path(__file__).resolve().parents[2]
UNPAID = {"method": "invoice", "status": "pending"}
HELD = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a new address: held for review

FRAUD_CHECK = """\
  - id: fraud_check
    type: activity
    activity: notify
    params: {event: confirmed}
    next: record_payment

  - id: record_payment
"""


def _name(prefix: str) -> str:
    return prefix + "_" + unique("f").lower().replace("-", "_")


def migrate_orders(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oms.cli", "migrate-orders", *args],
        cwd=ROOT,
        env={**stack.env, "OMS_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def order_v2(name: str) -> str:
    """A longer payment wait (restarted on the move), a fraud check after the payment, and the review step
    renamed: orders held for review cannot move."""
    return (
        fast_flow(name, payment_timeout="20m", review_due="10m", escalation_due="10m")
        .replace("payment_received: record_payment", "payment_received: fraud_check", 1)
        .replace("  - id: record_payment\n", FRAUD_CHECK, 1)
        .replace("manual_review", "manual_check")
    ) + "\nmigrate:\n  timers: restart\n"


def _pay(stack, order_id: str) -> None:
    with stack.client("channel") as client:
        response = client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"})
        assert response.status_code == 202, response.text


def test_waiting_orders_move_to_v2_and_run_its_new_step(stack):
    name = _name("mig_order")
    stack.publish(fast_flow(name, payment_timeout="10m", review_due="10m", escalation_due="10m"))
    waiting = [stack.submit(order_payload(payment=UNPAID), flow=name).json()["id"] for _ in range(5)]
    held = stack.submit(order_payload(lines=HELD), flow=name).json()["id"]
    for order_id in waiting:
        stack.wait_status(order_id, "awaiting_payment")
    stack.wait_status(held, "on_hold")
    v2 = stack.publish(order_v2(name))["version"]
    assert v2 == 2

    # the preview: the five waiting for payment move (their wait restarts at 20 minutes), the held one stays
    before = datetime.now(UTC)
    paying = migrate_orders(
        stack, "--flow", name, "--from", "1", "--to", "2", "--dry-run", "--where", "status=awaiting_payment"
    )
    assert paying.returncode == 0, paying.stderr
    *rows, total = paying.stdout.splitlines()
    assert total == "movable 5, blocked 0"
    assert sorted(row.split()[1] for row in rows) == sorted(waiting)
    for row in rows:
        assert " awaiting_payment at await_payment moves to await_payment (times out " in row, row
        deadline = datetime.fromisoformat(row.split("(times out ")[1].rstrip(")"))
        assert before + timedelta(minutes=19) < deadline < datetime.now(UTC) + timedelta(minutes=21)
    dry = migrate_orders(stack, "--flow", name, "--from", "1", "--to", "2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1] == "movable 5, blocked 1"
    assert (
        f"order {held} on_hold at manual_review stays: the new version has no step 'manual_review'; "
        "map it in its migrate: section" in dry.stdout
    )
    assert all(stack.order(o)["flow"]["version"] == 1 for o in waiting)  # a dry run moves nothing

    done = migrate_orders(stack, "--flow", name, "--from", "1", "--to", "2", "--by", "ana")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "moved 5, already moved 0, stayed 1, failed 0"
    assert f"order {held} stayed at manual_review: the new version has no step 'manual_review'" in done.stderr

    again = migrate_orders(stack, "--flow", name, "--from", "1", "--to", "2", "--by", "ana")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "moved 0, already moved 0, stayed 1, failed 0"

    for order_id in waiting:
        order = stack.order(order_id)
        assert order["flow"]["version"] == 2
        assert [e["message"] for e in order["timeline"] if e["type"] == "moved"] == [
            "moved from v1 to v2 at step await_payment by ana"
        ]
        assert any(pin["kind"] == "flow" and pin["version"] == 2 for pin in order["pins"])
    for order_id in waiting:
        _pay(stack, order_id)
    for order_id in waiting:
        shipped = stack.wait_status(order_id, "shipped", timeout=60)
        assert "fraud_check" in [e.get("step") for e in shipped["timeline"]]

    # the held one stays on v1 and finishes there
    task = stack.open_task(held)
    with stack.client("operator") as client:
        response = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve", "comment": ""})
        assert response.status_code == 200, response.text
    shipped = stack.wait_status(held, "shipped", timeout=60)
    assert shipped["flow"]["version"] == 1
    assert "fraud_check" not in [e.get("step") for e in shipped["timeline"]]
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{held}/events", json={"type": "delivered"}).status_code == 202
    assert stack.wait_status(held, "completed", timeout=60)["flow"]["version"] == 1


def test_returns_waiting_for_their_parcel_move_and_then_take_it(stack):
    name = _name("mig_return")
    stack.publish(fast_return_flow(name, parcel="10m", late="10m"))
    returns = []
    for _ in range(2):
        order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
        body = {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"}
        returns.append(post_return(stack, body, flow=name).json()["id"])
    for return_id in returns:
        wait_return(stack, return_id, "awaiting_parcel")
    stack.publish(fast_return_flow(name, parcel="30m", late="10m"))

    dry = migrate_orders(stack, "--flow", name, "--from", "1", "--to", "2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1] == "movable 2, blocked 0"
    done = migrate_orders(stack, "--flow", name, "--from", "1", "--to", "2", "--where", "status=awaiting_parcel")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "moved 2, already moved 0, stayed 0, failed 0"
    again = migrate_orders(stack, "--flow", name, "--from", "1", "--to", "2")
    assert again.stdout.splitlines()[-1] == "moved 0, already moved 0, stayed 0, failed 0", again.stderr

    for return_id in returns:
        # right after the move: the event must reach the run on v2 (it once got lost there)
        assert return_event(stack, return_id, "parcel_received").status_code == 202
    for return_id in returns:
        ret = wait_return(stack, return_id, "inspecting")
        assert ret["flow"]["version"] == 2
        assert [e["type"] for e in ret["timeline"]].count("moved") == 1
