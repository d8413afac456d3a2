"""A return whose flow fails or is terminated is visible and repairable: retry, cancel or mark handled."""

from __future__ import annotations

import uuid

import httpx

from tests.integration.test_repair import _terminate
from tests.integration.test_returns import (
    decide,
    delivered_order,
    fast_return_flow,
    get_return,
    post_return,
    return_event,
    wait_return,
)
from tests.integration.test_stock import balances, new_sku

# The shipped flow settles an exchange with nothing in stock by a refund; without that, the failure needs a repair.
MAPPED_SHORTAGE = """    on_error:
      out_of_stock: keep_check    # nothing to exchange for: settled by a refund
"""


def unmapped_shortage_flow(name: str) -> str:
    """The shipped return flow whose ``reserve_exchange`` maps no failure."""
    text = fast_return_flow(name)
    assert MAPPED_SHORTAGE in text, "the shipped return flow no longer maps out_of_stock on reserve_exchange"
    return text.replace(MAPPED_SHORTAGE, "")


def exchange_return(stack, replacement: str, flow: str | None = None) -> str:
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    body = {
        "order_id": order["id"],
        "lines": [{"line": 1, "qty": 1}],
        "reason": "wrong_size",
        "kind": "exchange",
        "replacement_sku": replacement,
    }
    response = post_return(stack, body, flow=flow)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def short_exchange(stack) -> tuple[str, str]:
    """(return id, replacement SKU) of an exchange whose replacement is out of stock, on the unmapped flow."""
    flow = f"ret_repair_{uuid.uuid4().hex[:8]}"
    stack.publish(unmapped_shortage_flow(flow))
    replacement = new_sku(stack, {"BER": 0}, price=9.5)
    return exchange_return(stack, replacement, flow=flow), replacement


def failed(stack, return_id: str) -> tuple[dict, dict]:
    """The failed return and its open repair task."""
    ret = wait_return(
        stack, return_id, lambda r: r["status"] == "failed" and any(t["status"] == "open" for t in r["tasks"])
    )
    [task] = [t for t in ret["tasks"] if t["status"] == "open"]
    assert task["title"] == "Repair failed flow"
    assert task["role"] == "operator"
    assert task["decisions"] == ["retry", "cancel", "handled"]
    return ret, task


def decide_task(stack, task_id: str, decision: str, role: str = "operator") -> httpx.Response:
    with stack.client(role) as client:
        return client.post(f"/api/tasks/{task_id}/decision", json={"decision": decision, "comment": "repair"})


def test_a_return_step_failing_without_on_error_fails_the_return_and_retry_runs_it_again(stack):
    return_id, replacement = short_exchange(stack)

    ret, task = failed(stack, return_id)
    [line] = [e for e in ret["timeline"] if e["type"] == "failed"]
    assert line["step"] == "reserve_exchange"
    assert line["message"].startswith(
        "step reserve_exchange failed: activity reserve_exchange failed (out_of_stock): "
    ), line["message"]
    assert task["reason"] == line["data"]["error"]
    assert ret["closed_at"] is None

    assert decide_task(stack, task["id"], "approve").status_code == 422  # not a repair decision
    assert decide_task(stack, task["id"], "retry", role="channel").status_code == 403
    with stack.client("operator") as client:
        stocked = client.put(f"/api/inventory/BER/{replacement}", json={"on_hand": 3, "reason": "arrived"})
        assert stocked.status_code == 200, stocked.text
    decided = decide_task(stack, task["id"], "retry")
    assert decided.status_code == 200, decided.text
    assert decided.json()["next_step"] == "reserve_exchange"

    ret = wait_return(stack, return_id, "awaiting_parcel")
    assert [e["type"] for e in ret["timeline"] if e["type"] in ("exchange_reserved", "label_issued")] == [
        "exchange_reserved",
        "label_issued",
    ]
    assert balances(stack, replacement)["BER"] == (3, 1)
    assert [(t["title"], t["status"], t["decision"]) for t in ret["tasks"]] == [
        ("Repair failed flow", "decided", "retry")
    ]


def test_a_failed_return_cancelled_by_the_operator_ends_cancelled(stack):
    return_id, replacement = short_exchange(stack)
    _, task = failed(stack, return_id)

    # The return's own decision endpoint takes the repair decision too.
    response = decide(stack, return_id, "cancel", comment="no replacement coming")
    assert response.status_code == 200, response.text
    assert response.json()["task_id"] == task["id"]
    ret = wait_return(stack, return_id, "cancelled")
    assert ret["closed_at"] is not None
    assert [e["message"] for e in ret["timeline"] if e["type"] == "exchange_released"] == ["no replacement held"]
    assert balances(stack, replacement)["BER"] == (0, 0)
    assert [t["decision"] for t in ret["tasks"]] == ["cancel"]


def test_a_failed_return_marked_handled_ends_the_flow(stack):
    return_id, _ = short_exchange(stack)
    _, task = failed(stack, return_id)
    assert decide_task(stack, task["id"], "handled").status_code == 200
    ret = wait_return(stack, return_id, "handled")
    assert ret["timeline"][-1]["message"].endswith("ended: handled")
    assert ret["closed_at"] is not None
    assert decide_task(stack, task["id"], "retry").status_code == 409  # decided already


def _terminated_exchange(stack) -> tuple[str, str]:
    """An exchange awaiting its parcel, with its replacement held, whose workflow was terminated."""
    replacement = new_sku(stack, {"BER": 2}, price=9.5)
    return_id = exchange_return(stack, replacement)
    wait_return(stack, return_id, "awaiting_parcel")
    assert balances(stack, replacement)["BER"] == (2, 1)
    _terminate(stack, f"return-{return_id}")
    return return_id, replacement


def test_a_terminated_return_workflow_fails_the_return_and_retry_resumes_it(stack):
    return_id, _ = _terminated_exchange(stack)

    ret, task = failed(stack, return_id)
    [line] = [e for e in ret["timeline"] if e["type"] == "failed"]
    assert line["message"] == "flow failed: workflow terminated: terminated by a test"
    assert line["data"]["previous_status"] == "awaiting_parcel"

    assert decide_task(stack, task["id"], "retry").status_code == 200
    wait_return(stack, return_id, "awaiting_parcel")
    received = return_event(stack, return_id, "parcel_received")
    assert received.status_code == 202, received.text
    wait_return(stack, return_id, "inspecting")
    assert decide(stack, return_id, "inspected", qc=[{"line": 1, "result": "resellable"}]).status_code == 200
    ret = wait_return(stack, return_id, "completed")
    assert ret["exchange_order_id"]
    assert [t["decision"] for t in ret["tasks"]][:1] == ["retry"]


def test_a_terminated_return_cancelled_by_the_operator_gives_the_replacement_back(stack):
    return_id, replacement = _terminated_exchange(stack)
    _, task = failed(stack, return_id)

    # Decided on the return (its page's form), though no workflow is left to take it.
    response = decide(stack, return_id, "cancel", comment="parcel will not come")
    assert response.status_code == 200, response.text
    assert response.json()["task_id"] == task["id"]
    ret = wait_return(stack, return_id, "cancelled")
    assert ret["closed_at"] is not None
    assert balances(stack, replacement)["BER"] == (2, 0)
    [released] = [e for e in ret["timeline"] if e["type"] == "exchange_released"]
    assert released["message"].startswith("replacement released: 1 x " + replacement)
    assert get_return(stack, return_id)["status"] == "cancelled"
