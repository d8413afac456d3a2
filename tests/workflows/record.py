"""Record the workflow histories that ``test_replay.py`` replays.

Not collected by a normal run; run it on purpose, with the workflow code whose
behaviour the library should pin (before a change, never after one):

    .venv/bin/pytest -q tests/workflows/record.py -k sqlite

Each scenario drives a real order or return through the real stack (dev
server, worker, web app) along one path, then stores its workflow's history as
``histories/<scenario>.json``. A scenario may stop while its workflow still
waits: replaying a partial history checks the commands made so far.
``OMS_HISTORY_PREFIX=v2_`` stores a second generation next to the first
(recorded after a ``workflow.patched`` change: both must keep replaying).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.conftest import fast_flow, order_payload, unique

# Imported here, before the stacks start: it sets the pull connector's credential in the environment.
from tests.integration.test_channel_pull import WooShop, pull_channel, woo_order
from tests.integration.test_channels import post_native

# Imported here too: it sets the http step's token and named endpoint in the environment.
from tests.integration.test_http_step import FLOW as HTTP_FLOW
from tests.integration.test_http_step import PORT as RISK_PORT
from tests.integration.test_http_step import SECRET_ENV as RISK_SECRET
from tests.integration.test_http_step import RiskService
from tests.integration.test_returns import (
    decide,
    delivered_order,
    fast_return_flow,
    get_return,
    post_return,
    return_event,
    wait_return,
)
from tests.integration.test_stock import new_sku

# Imported here, before the stacks start: it sets the stock sync's credential in the environment.
from tests.integration.test_stock_sync import (
    WooProducts,
    pushed,
    sync_channel,
    wait_synced,
    wait_workflow_ends,
    without_stock_sync,
)
from workflows.contracts import PullRun

HISTORIES = Path(__file__).resolve().parent / "histories"
HELD = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a new address: review
FOUR_EYES = [{"sku": "LAPTOP-14", "qty": 9, "price": 1299.0}]  # above 10000: two approvals
UNPAID = {"method": "invoice", "status": "pending"}
REJECTING_RULES = """\
kind: rules
name: {name}
title: Reject everything
hit_policy: collect
default: approve
rules:
  - id: reject_all
    when: "order.total > 0"
    action: reject
    reason: "rejected for the replay library"
"""


def _flow_name(prefix: str) -> str:
    return prefix + "_" + unique("f").lower().replace("-", "_")


def _event(stack, order_id: str, type_: str, data: dict | None = None) -> None:
    with stack.client("channel") as client:
        response = client.post(f"/api/orders/{order_id}/events", json={"type": type_, "data": data or {}})
        assert response.status_code == 202, response.text


def _decide_task(stack, task_id: str, decision: str, comment: str = "", role: str = "operator") -> None:
    with stack.client(role) as client:
        response = client.post(f"/api/tasks/{task_id}/decision", json={"decision": decision, "comment": comment})
        assert response.status_code == 200, response.text


def _save(
    stack, workflow_id: str, name: str, settled: Callable[[Sequence], bool] | None = None, run_id: str | None = None
) -> None:
    """Fetch ``workflow_id``'s history (of its run ``run_id``, default the latest; once ``settled(events)``
    holds) and store it as ``name``."""

    async def fetch() -> str:
        client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        deadline = time.monotonic() + 30
        while True:
            history = await handle.fetch_history()
            events = history.events
            # Wait until the workflow task that follows the last activity or signal has completed:
            # a history that ends mid-task would replay only up to there.
            last = events[-1].WhichOneof("attributes") if events else ""
            done = last in (
                "workflow_execution_completed_event_attributes",
                "workflow_task_completed_event_attributes",
                "timer_started_event_attributes",
                "activity_task_scheduled_event_attributes",
                "workflow_execution_update_completed_event_attributes",  # written after its task completed
            )
            if done and (settled is None or settled(events)):
                return history.to_json()
            if time.monotonic() > deadline:
                raise AssertionError(f"{workflow_id} did not settle; last event {last}")
            await asyncio.sleep(0.3)

    text = asyncio.run(fetch())
    HISTORIES.mkdir(exist_ok=True)
    body = {"workflow_id": workflow_id, "history": json.loads(text)}
    prefix = os.environ.get("OMS_HISTORY_PREFIX", "")
    (HISTORIES / f"{prefix}{name}.json").write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _completed(events) -> bool:
    return events[-1].WhichOneof("attributes") == "workflow_execution_completed_event_attributes"


def _order_wf(stack, order_id: str) -> str:
    return stack.order(order_id)["workflow_id"]


@pytest.fixture(scope="module")
def flows(stack) -> dict[str, str]:
    """Test-sized versions of the shipped flows, published once."""
    names = {
        "fast": _flow_name("rec_fast"),
        "slow_review": _flow_name("rec_slow"),
        "escalate": _flow_name("rec_esc"),
        "escalate_admin": _flow_name("rec_esa"),
        "backorder": _flow_name("rec_bo"),
        "reject": _flow_name("rec_rej"),
        "return_fast": _flow_name("rec_ret"),
    }
    stack.publish(fast_flow(names["fast"]))
    stack.publish(fast_flow(names["slow_review"], review_due="10m", escalation_due="10m"))
    stack.publish(fast_flow(names["escalate"], review_due="1s", escalation_due="2s"))
    stack.publish(fast_flow(names["escalate_admin"], review_due="1s", escalation_due="10m"))
    backorder = fast_flow(names["backorder"]).replace("timeout: 7d", "timeout: 2s")
    stack.publish(backorder)
    rules = "rec_reject_rules_" + unique("r").lower().replace("-", "_")
    stack.publish(REJECTING_RULES.format(name=rules))
    stack.publish(fast_flow(names["reject"]).replace("rules: order_audit", f"rules: {rules}"))
    stack.publish(fast_return_flow(names["return_fast"], parcel="1s", late="1s"))
    return names


def test_record_order_histories(stack, flows):
    if stack.name != "sqlite":
        pytest.skip("one recording is enough")
    s = stack

    # audit approve -> reserve -> paid switch -> notify -> ship -> wait delivery -> delivered -> completed
    oid = s.submit(order_payload()).json()["id"]
    s.wait_status(oid, "shipped", timeout=60)
    _event(s, oid, "in_transit")
    _event(s, oid, "out_for_delivery")
    s.wait_status(oid, "out_for_delivery")
    _event(s, oid, "delivered")
    s.wait_status(oid, "completed")
    _save(s, _order_wf(s, oid), "order_approved_delivered", _completed)

    # audit reject
    oid = s.submit(order_payload(), flow=flows["reject"]).json()["id"]
    s.wait_status(oid, "rejected")
    _save(s, _order_wf(s, oid), "order_audit_rejected", _completed)

    # review approved by the operator
    oid = s.submit(order_payload(lines=HELD), flow=flows["slow_review"]).json()["id"]
    task = s.open_task(oid)
    _decide_task(s, task["id"], "approve", "fine")
    s.wait_status(oid, "shipped", timeout=60)
    _save(s, _order_wf(s, oid), "order_review_approved_waiting_delivery")

    # review rejected with a comment
    oid = s.submit(order_payload(lines=HELD), flow=flows["slow_review"]).json()["id"]
    task = s.open_task(oid)
    _decide_task(s, task["id"], "reject", "fraud")
    s.wait_status(oid, "rejected")
    _save(s, _order_wf(s, oid), "order_review_rejected", _completed)

    # four-eyes: two different people approve
    oid = s.submit(order_payload(lines=FOUR_EYES), flow=flows["slow_review"]).json()["id"]
    task = s.open_task(oid)
    _decide_task(s, task["id"], "approve", "one")
    s.wait_for(oid, lambda o: o["tasks"][0]["approvals"] == ["operator"])
    _decide_task(s, task["id"], "approve", "two", role="admin")
    s.wait_status(oid, "shipped", timeout=60)
    _save(s, _order_wf(s, oid), "order_four_eyes_approved_waiting_delivery")

    # escalation, then nobody decides: expired, cancelled
    oid = s.submit(order_payload(lines=HELD), flow=flows["escalate"]).json()["id"]
    s.wait_status(oid, "cancelled", timeout=30)
    _save(s, _order_wf(s, oid), "order_review_escalated_timed_out", _completed)

    # escalation, then the admin approves
    oid = s.submit(order_payload(lines=HELD), flow=flows["escalate_admin"]).json()["id"]
    order = s.wait_for(oid, lambda o: any(t["role"] == "admin" for t in o["tasks"]))
    _decide_task(s, order["tasks"][0]["id"], "approve", "checked", role="admin")
    s.wait_status(oid, "shipped", timeout=60)
    _save(s, _order_wf(s, oid), "order_review_escalated_admin_approved")

    # an approval closed by an event: cancel while held
    oid = s.submit(order_payload(lines=HELD), flow=flows["slow_review"]).json()["id"]
    s.open_task(oid)
    with s.client("channel") as client:
        assert client.post(f"/api/orders/{oid}/cancel", json={"reason": "changed my mind"}).status_code == 202
    s.wait_status(oid, "cancelled")
    _save(s, _order_wf(s, oid), "order_review_closed_by_cancel", _completed)

    # an approval closed by an address change: audited again, held again
    oid = s.submit(order_payload(lines=HELD), flow=flows["slow_review"]).json()["id"]
    s.open_task(oid)
    address = {"street": f"Neue Str. {unique('')[1:6]}", "city": "Berlin", "postal_code": "10117", "country": "DE"}
    with s.client("channel") as client:
        moved = client.post(f"/api/orders/{oid}/address", json={"shipping_address": address})
        assert moved.status_code == 202, moved.text
    s.wait_for(oid, lambda o: [e["type"] for e in o["timeline"]].count("audited") == 2 and o["status"] == "on_hold")
    _save(s, _order_wf(s, oid), "order_review_closed_by_address_change_held_again")

    # payment wait: the payment arrives
    oid = s.submit(order_payload(payment=UNPAID)).json()["id"]
    s.wait_status(oid, "awaiting_payment")
    _event(s, oid, "payment_received", {"reference": "PAY-1"})
    s.wait_status(oid, "shipped", timeout=60)
    _save(s, _order_wf(s, oid), "order_payment_received_waiting_delivery")

    # payment wait times out: released, voided, cancelled
    oid = s.submit(order_payload(payment=UNPAID), flow=flows["fast"]).json()["id"]
    s.wait_status(oid, "cancelled", timeout=30)
    _save(s, _order_wf(s, oid), "order_payment_timed_out", _completed)

    # cancel while waiting for the payment
    oid = s.submit(order_payload(payment=UNPAID)).json()["id"]
    s.wait_status(oid, "awaiting_payment")
    with s.client("channel") as client:
        assert client.post(f"/api/orders/{oid}/cancel", json={"reason": "no longer needed"}).status_code == 202
    s.wait_status(oid, "cancelled")
    _save(s, _order_wf(s, oid), "order_payment_wait_cancelled", _completed)

    # address change while waiting for the payment, then paid
    oid = s.submit(order_payload(payment=UNPAID)).json()["id"]
    s.wait_status(oid, "awaiting_payment")
    new_york = {"street": "350 5th Ave", "city": "New York", "postal_code": "10118", "country": "US", "state": "NY"}
    with s.client("channel") as client:
        assert client.post(f"/api/orders/{oid}/address", json={"shipping_address": new_york}).status_code == 202
    s.wait_for(
        oid,
        lambda o: o["status"] == "awaiting_payment" and [e["type"] for e in o["timeline"]].count("audited") == 2,
    )
    _event(s, oid, "payment_received")
    s.wait_status(oid, "shipped", timeout=60)
    _save(s, _order_wf(s, oid), "order_address_changed_then_paid_waiting_delivery")

    # on_error: out_of_stock -> backorder; stock arrives; reserved and shipped
    sku = _new_sku(s, 1)
    oid = s.submit(order_payload(lines=[{"sku": sku, "qty": 4, "price": 30.0}])).json()["id"]
    s.wait_status(oid, "backordered")
    with s.client("operator") as client:
        received = client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 10})
        assert received.status_code == 201
    s.wait_status(oid, "shipped", timeout=60)
    _save(s, _order_wf(s, oid), "order_backordered_then_stock_received")

    # backorder wait times out
    sku = _new_sku(s, 0)
    oid = s.submit(order_payload(lines=[{"sku": sku, "qty": 2, "price": 30.0}]), flow=flows["backorder"]).json()["id"]
    s.wait_status(oid, "cancelled", timeout=30)
    _save(s, _order_wf(s, oid), "order_backorder_timed_out", _completed)

    # store pickup: the switch sends the order to the till
    receipt = {
        "receipt": {"id": unique("R"), "lines": [{"ean_sku": "TSHIRT-BLK-M", "count": 1, "gross": 19.9}]},
        "tender": "CASH",
        "fulfilment": "TAKEAWAY",
    }
    response = post_native(s, "store", receipt)
    assert response.status_code == 201, response.text
    oid = response.json()["id"]
    s.wait_status(oid, "completed")
    _save(s, _order_wf(s, oid), "order_store_pickup", _completed)

    # delivery exception: a task, closed by a delivered event
    oid = s.submit(order_payload()).json()["id"]
    s.wait_status(oid, "shipped", timeout=60)
    _event(s, oid, "delivery_exception", {"reason": "address not found"})
    s.open_task(oid)
    _event(s, oid, "delivered")
    s.wait_status(oid, "completed")
    _save(s, _order_wf(s, oid), "order_delivery_exception_closed_by_delivered", _completed)

    # delivery exception resolved by the operator, then lost
    oid = s.submit(order_payload()).json()["id"]
    s.wait_status(oid, "shipped", timeout=60)
    _event(s, oid, "delivery_exception", {"reason": "damaged"})
    task = s.open_task(oid)
    _decide_task(s, task["id"], "lost")
    s.wait_status(oid, "lost_in_transit")
    _save(s, _order_wf(s, oid), "order_delivery_exception_lost", _completed)

    # waiting for payment: the history of a workflow that still waits
    oid = s.submit(order_payload(payment=UNPAID)).json()["id"]
    s.wait_status(oid, "awaiting_payment")
    _save(s, _order_wf(s, oid), "order_waiting_for_payment")


def _new_sku(stack, on_hand: int) -> str:
    from tests.integration.test_stock import new_sku

    return new_sku(stack, {"BER": on_hand}, price=30)


def _return_wf(return_id: str) -> str:
    return f"return-{return_id}"


def test_record_return_histories(stack, flows):
    if stack.name != "sqlite":
        pytest.skip("one recording is enough")
    s = stack

    # refund: approved by policy, label, parcel, quality check, restock, refund
    order = delivered_order(s, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    rid = post_return(s, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"}).json()[
        "id"
    ]
    wait_return(s, rid, "awaiting_parcel")
    assert return_event(s, rid, "parcel_received").status_code == 202
    wait_return(s, rid, "inspecting")
    assert decide(s, rid, "inspected", qc=[{"line": 1, "result": "resellable"}]).status_code == 200
    wait_return(s, rid, "completed")
    _save(s, _return_wf(rid), "return_refund_completed", _completed)

    # exchange with a quality check
    order = delivered_order(s, lines=[{"sku": "TSHIRT-BLK-M", "qty": 1, "price": 19.9}])
    rid = post_return(
        s,
        {
            "order_id": order["id"],
            "lines": [{"line": 1, "qty": 1}],
            "reason": "wrong_size",
            "kind": "exchange",
            "replacement_sku": "TSHIRT-WHT-L",
        },
    ).json()["id"]
    wait_return(s, rid, "awaiting_parcel")
    assert return_event(s, rid, "parcel_received").status_code == 202
    wait_return(s, rid, "inspecting")
    assert decide(s, rid, "inspected", qc=[{"line": 1, "result": "resellable"}]).status_code == 200
    wait_return(s, rid, "completed")
    _save(s, _return_wf(rid), "return_exchange_completed", _completed)

    # held for review, approved, damaged on inspection
    order = delivered_order(s, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 700}])
    rid = post_return(s, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "defective"}).json()[
        "id"
    ]
    wait_return(s, rid, "in_review")
    assert decide(s, rid, "approve", comment="ok").status_code == 200
    wait_return(s, rid, "awaiting_parcel")
    assert return_event(s, rid, "parcel_received").status_code == 202
    wait_return(s, rid, "inspecting")
    qc = [{"line": 1, "result": "damaged", "reason": "does not start"}]
    assert decide(s, rid, "inspected", qc=qc).status_code == 200
    wait_return(s, rid, "completed")
    _save(s, _return_wf(rid), "return_review_approved_damaged", _completed)

    # held for review, rejected
    order = delivered_order(s, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 600}])
    rid = post_return(
        s, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "not_as_described"}
    ).json()["id"]
    wait_return(s, rid, "in_review")
    assert decide(s, rid, "reject", comment="used").status_code == 200
    wait_return(s, rid, "rejected")
    _save(s, _return_wf(rid), "return_review_rejected", _completed)

    # damaged on arrival below the value: refunded at once (keep_item switch)
    order = delivered_order(s, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    rid = post_return(
        s, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "damaged_on_arrival"}
    ).json()["id"]
    wait_return(s, rid, "completed")
    _save(s, _return_wf(rid), "return_kept_item_refunded", _completed)

    # the parcel never arrives: reminder, then expired
    order = delivered_order(s, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    rid = post_return(
        s,
        {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"},
        flow=flows["return_fast"],
    ).json()["id"]
    wait_return(s, rid, "expired", timeout=30)
    _save(s, _return_wf(rid), "return_parcel_timed_out_expired", _completed)

    # waiting for the parcel
    order = delivered_order(s, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    rid = post_return(s, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"}).json()[
        "id"
    ]
    wait_return(s, rid, "awaiting_parcel")
    assert get_return(s, rid)["status"] == "awaiting_parcel"
    _save(s, _return_wf(rid), "return_waiting_for_parcel")


def test_record_repair_histories(stack):
    """Failures no on_error maps: the order waits on a repair task (patch failure-opens-repair-task)."""
    if stack.name != "sqlite":
        pytest.skip("one recording is enough")
    from tests.integration.test_repair import _flow as repair_flow

    s = stack
    unknown_carriers = _flow_name("rec_rep")
    s.publish(repair_flow(unknown_carriers, carriers=f"missing_{unknown_carriers}"))
    plain = _flow_name("rec_rep")
    s.publish(repair_flow(plain))

    def failed_task(order_id: str) -> dict:
        order = s.wait_for(
            order_id, lambda o: o["status"] == "failed" and any(t["status"] == "open" for t in o["tasks"])
        )
        return next(t for t in order["tasks"] if t["status"] == "open")

    # reserve fails (out of stock, not mapped): failed; stock arrives; retry -> completed
    sku = _new_sku(s, 0)
    oid = s.submit(order_payload(lines=[{"sku": sku, "qty": 1, "price": 30}]), flow=plain).json()["id"]
    task = failed_task(oid)
    with s.client("operator") as client:
        assert client.put(f"/api/inventory/BER/{sku}", json={"on_hand": 2}).status_code == 200
    _decide_task(s, task["id"], "retry")
    s.wait_status(oid, "completed")
    _save(s, _order_wf(s, oid), "order_failed_retried_completed", _completed)

    # ship fails (no carrier, not mapped): cancel releases the stock and voids the payment
    oid = s.submit(order_payload(payment=UNPAID), flow=unknown_carriers).json()["id"]
    _decide_task(s, failed_task(oid)["id"], "cancel")
    s.wait_status(oid, "cancelled")
    _save(s, _order_wf(s, oid), "order_failed_cancelled", _completed)

    # marked handled
    oid = s.submit(order_payload(), flow=unknown_carriers).json()["id"]
    _decide_task(s, failed_task(oid)["id"], "handled")
    s.wait_status(oid, "handled")
    _save(s, _order_wf(s, oid), "order_failed_handled", _completed)

    # still waiting for the repair decision
    oid = s.submit(order_payload(), flow=unknown_carriers).json()["id"]
    failed_task(oid)
    _save(s, _order_wf(s, oid), "order_failed_waiting_for_repair")


# ---- moved to another flow version while waiting (workflows/moving.py) -------------------------------


def _migrate(
    stack, workflow_id: str, flow: dict, text: str, pins: list[dict], by: str = "analyst", attempt: int = 1
) -> dict:
    """Send the Update ``migrate`` as the migration workflow does; its result. The same ``attempt`` again is
    the same Update (Temporal answers it from the first); another is a second migration asking."""
    from dataclasses import asdict

    from workflows.contracts import DefinitionRef, MigrateRequest, MigrateResult

    target = DefinitionRef(kind="flow", name=flow["name"], version=flow["version"], sha256=flow["sha256"])
    others = [DefinitionRef(**pin) for pin in pins if pin["kind"] != "flow"]
    request = MigrateRequest(flow=target, flow_text=text, pins=[target, *others], by=by, migration_id="rec")

    async def send() -> MigrateResult:
        client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
        handle = client.get_workflow_handle(workflow_id)
        update_id = f"rec-{target.version}-{attempt}"
        return await handle.execute_update("migrate", request, id=update_id, result_type=MigrateResult)

    return asdict(asyncio.run(send()))


def _first_run(stack, workflow_id: str) -> str:
    async def first() -> str:
        client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return str(history.events[0].workflow_execution_started_event_attributes.first_execution_run_id)

    return asyncio.run(first())


def _save_run(stack, workflow_id: str, run_id: str, name: str) -> None:
    """The history of one run: the first, which a move before MOVE_IN_PLACE continued as new (since, the
    only one, which goes on after the move)."""
    _save(stack, workflow_id, name, run_id=run_id)


FRAUD_CHECK = """\
  - id: fraud_check
    type: activity
    activity: notify
    params: {event: confirmed}
    next: record_payment

  - id: record_payment
"""


def test_record_moved_histories(stack):
    if stack.name != "sqlite":
        pytest.skip("one recording is enough")
    s = stack
    name = _flow_name("rec_move")
    v1 = fast_flow(name, payment_timeout="10m")
    s.publish(v1)
    v2 = (
        fast_flow(name, payment_timeout="20m")
        .replace("payment_received: record_payment", "payment_received: fraud_check", 1)
        .replace("  - id: record_payment\n", FRAUD_CHECK, 1)
    ) + "\nmigrate:\n  timers: restart\n"

    # an order waiting for its payment moves from v1 to v2, then is paid and runs v2's new step
    oid = s.submit(order_payload(payment=UNPAID), flow=name).json()["id"]
    s.wait_status(oid, "awaiting_payment")
    published = s.publish(v2)
    order = s.order(oid)
    wf = order["workflow_id"]
    first = _first_run(s, wf)
    flow = {"name": name, "version": published["version"], "sha256": published["sha256"]}
    result = _migrate(s, wf, flow, v2, order["pins"])
    assert result["moved"] and result["step"] == "await_payment", result
    again = _migrate(s, wf, flow, v2, order["pins"], attempt=2)
    assert not again["moved"] and again["reason"] == f"already on v{flow['version']}", again
    moved = s.wait_for(oid, lambda o: o["flow"]["version"] == flow["version"])
    lines = [e["message"] for e in moved["timeline"] if e["type"] == "moved"]
    assert lines == [f"moved from v{order['flow']['version']} to v{flow['version']} at step await_payment by analyst"]
    _save_run(s, wf, first, "order_moved_while_waiting_for_payment")
    _event(s, oid, "payment_received")
    s.wait_status(oid, "shipped", timeout=60)
    steps = [e.get("step") for e in s.order(oid)["timeline"]]
    assert "fraud_check" in steps
    _save(s, wf, "order_moved_then_paid_on_v2_waiting_delivery")

    # a return waiting for its parcel moves to a v2 whose parcel wait is longer, then its parcel arrives
    rname = _flow_name("rec_rmove")
    s.publish(fast_return_flow(rname, parcel="10m", late="10m"))
    order = delivered_order(s, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    body = {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "wrong_size"}
    rid = post_return(s, body, flow=rname).json()["id"]
    ret = wait_return(s, rid, "awaiting_parcel")
    rv2 = fast_return_flow(rname, parcel="30m", late="10m")
    rpub = s.publish(rv2)
    rwf = _return_wf(rid)
    rfirst = _first_run(s, rwf)
    rflow = {"name": rname, "version": rpub["version"], "sha256": rpub["sha256"]}
    result = _migrate(s, rwf, rflow, rv2, ret["pins"])
    assert result["moved"] and result["target_step"] == "await_parcel", result
    moved_ret = wait_return(s, rid, lambda r: r["flow"]["version"] == rflow["version"])
    assert [e["message"] for e in moved_ret["timeline"] if e["type"] == "moved"] == [
        f"moved from v{ret['flow']['version']} to v{rflow['version']} at step await_parcel by analyst"
    ]
    _save_run(s, rwf, rfirst, "return_moved_while_waiting_for_parcel")
    assert return_event(s, rid, "parcel_received").status_code == 202
    wait_return(s, rid, "inspecting")
    _save(s, rwf, "return_moved_then_parcel_received_inspecting")


def test_record_return_repair_histories(stack):
    """A return step failing without on_error, and a terminated return: repaired by retry, cancel or handled."""
    if stack.name != "sqlite":
        pytest.skip("one recording is enough")
    from tests.integration.test_repair import _terminate
    from tests.integration.test_return_repair import exchange_return, failed, short_exchange

    s = stack
    resellable = [{"line": 1, "result": "resellable"}]

    # reserve_exchange fails (out of stock, not mapped): failed; stock arrives; retry -> exchanged, completed
    rid, replacement = short_exchange(s)
    _, task = failed(s, rid)
    with s.client("operator") as client:
        assert client.put(f"/api/inventory/BER/{replacement}", json={"on_hand": 2}).status_code == 200
    _decide_task(s, task["id"], "retry")
    wait_return(s, rid, "awaiting_parcel")
    assert return_event(s, rid, "parcel_received").status_code == 202
    wait_return(s, rid, "inspecting")
    assert decide(s, rid, "inspected", qc=resellable).status_code == 200
    wait_return(s, rid, "completed")
    _save(s, _return_wf(rid), "return_failed_retried_completed", _completed)

    # cancelled: the held replacement (none here) goes back, the return ends cancelled
    rid, _ = short_exchange(s)
    _decide_task(s, failed(s, rid)[1]["id"], "cancel")
    wait_return(s, rid, "cancelled")
    _save(s, _return_wf(rid), "return_failed_cancelled", _completed)

    # marked handled
    rid, _ = short_exchange(s)
    _decide_task(s, failed(s, rid)[1]["id"], "handled")
    wait_return(s, rid, "handled")
    _save(s, _return_wf(rid), "return_failed_handled", _completed)

    # still waiting for the repair decision
    rid, _ = short_exchange(s)
    failed(s, rid)
    _save(s, _return_wf(rid), "return_failed_waiting_for_repair")

    # terminated while awaiting the parcel; the sweep marks it failed; retry resets it into a new run
    rid = exchange_return(s, _new_sku(s, 2))
    wait_return(s, rid, "awaiting_parcel")
    _terminate(s, _return_wf(rid))
    _decide_task(s, failed(s, rid)[1]["id"], "retry")
    wait_return(s, rid, "awaiting_parcel")
    assert return_event(s, rid, "parcel_received").status_code == 202
    wait_return(s, rid, "inspecting")
    assert decide(s, rid, "inspected", qc=resellable).status_code == 200
    wait_return(s, rid, "completed")
    _save(s, _return_wf(rid), "return_terminated_retried_completed", _completed)


def test_record_channel_pull_histories(stack):
    """A pull connector's run: two pages of a WooCommerce-shaped shop, a 503 retried, one item rejected."""
    shop = WooShop()
    try:
        name = "rec_pull_" + unique("p").lower().replace("-", "_")
        base = int(time.time()) * 10
        shop.orders = [
            woo_order(base + 1, "2025-03-01T10:00:00"),
            woo_order(base + 2, "2025-03-01T10:05:00", billing={"first_name": "Bo"}),
            woo_order(base + 3, "2025-03-01T10:10:00"),
        ]
        shop.faults = {1: [(503, {})]}
        stack.publish(pull_channel(name, shop.url))
        workflow_id = f"channel-pull-{name}-recorded"

        async def run() -> None:
            client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
            await client.execute_workflow(
                "ChannelPull", PullRun(channel=name), id=workflow_id, task_queue=stack.env["OMS_TASK_QUEUE"]
            )

        asyncio.run(run())
        _save(stack, workflow_id, "channel_pull_two_pages_retried", _completed)
    finally:
        shop.server.shutdown()


def test_record_http_step_histories(stack):
    """http steps: a 503 retried then a saved score a switch branches on; a 404 to on_error; a refused address."""
    if stack.name != "sqlite":
        pytest.skip("one recording is enough")
    risk = RiskService(RISK_PORT)
    audit_first = (
        "start: audit\nsteps:\n  - id: audit\n    type: audit\n    rules: order_audit\n    status: audited\n"
        "    on: {approve: score, review: held, reject: held}\n"
    )

    def http_flow(where: str) -> str:
        name = _flow_name("rec_http")
        text = HTTP_FLOW.replace("__NAME__", name).replace("__WHERE__", where).replace("__SECRET__", RISK_SECRET)
        stack.publish(text.replace("start: score\nsteps:\n", audit_first))
        return name

    def submit(flow: str, *answers: tuple[int, dict, dict]) -> str:
        payload = order_payload()
        risk.plans[payload["external_id"]] = list(answers)
        return stack.submit(payload, flow=flow).json()["id"]

    try:
        by_url = f"url: http://127.0.0.1:{RISK_PORT}/v1/score/{{{{ order.external_id | urlencode }}}}"
        flow = http_flow(by_url)
        oid = submit(flow, (503, {"error": "busy"}, {}), (200, {"score": 95}, {}))
        stack.wait_status(oid, "on_hold")
        _save(stack, _order_wf(stack, oid), "order_http_retried_saved_switched", _completed)

        oid = submit(flow, (404, {"error": "unknown customer"}, {}))
        stack.wait_status(oid, "unknown_customer")
        _save(stack, _order_wf(stack, oid), "order_http_404_on_error", _completed)

        refused = http_flow(by_url.replace("127.0.0.1", "127.0.0.2"))
        oid = submit(refused)
        stack.wait_for(oid, lambda o: o["status"] == "failed" and any(t["status"] == "open" for t in o["tasks"]))
        _save(stack, _order_wf(stack, oid), "order_http_refused_waiting_for_repair")
    finally:
        risk.server.shutdown()
        risk.server.server_close()


def test_record_stock_sync_histories(stack):
    """A channel's stock sync: the first push retried after a 503, a change pushed, then the section removed."""
    if stack.name != "sqlite":
        pytest.skip("one recording is enough")
    shop = WooProducts()
    try:
        name = "rec_sync_" + unique("s").lower().replace("-", "_")
        sku = new_sku(stack, {"BER": 6})
        shop.products[77] = {"id": 77}
        shop.faults = [(503, {})]
        text = sync_channel(name, shop.url, {sku: {"id": 77}})
        stack.publish(text)
        wait_synced(stack, name, sku, pushed(4))
        with stack.client("operator") as client:
            body = {"warehouse": "BER", "sku": sku, "qty": 3}
            assert client.post("/api/inventory/receipts", json=body).status_code == 201
        wait_synced(stack, name, sku, pushed(7))
        stack.publish(without_stock_sync(text))
        wait_workflow_ends(stack, f"stock-sync-{name}")
        _save(stack, f"stock-sync-{name}", "stock_sync_retried_pushed_then_stopped", _completed)
    finally:
        shop.server.shutdown()
