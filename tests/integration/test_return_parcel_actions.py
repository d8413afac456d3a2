"""A return waiting for its parcel: received by hand, by a scan or by the carrier; more time; cancelled.

Each runs on SQLite and PostgreSQL against the real worker and dev server.
The shipped return flow takes ``deadline_extended`` and ``cancel_requested``
in its parcel waits; a return on a flow version without them is refused with
that reason and nothing is sent to its workflow.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx

from services.orders.channels import signed_headers
from tests.conftest import ROOT
from tests.integration.test_returns import delivered_order, get_return, post_return, wait_return

LINE = {"lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}


def _flow(stack, parcel: str = "2s", late: str = "2s", extended: str = "7d", actions: bool = True) -> str:
    """The shipped return flow under a name of its own, with test-sized parcel waits."""
    name = "ret_" + uuid.uuid4().hex[:10]
    text = (ROOT / "definitions" / "flows" / "return.yaml").read_text(encoding="utf-8")
    text = text.replace("name: return\n", f"name: {name}\n")
    waits = text.split("timeout: 7d")
    assert len(waits) == 4, "the shipped return flow has three parcel waits of 7d"
    text = (
        waits[0] + f"timeout: {parcel}" + waits[1] + f"timeout: {late}" + waits[2] + f"timeout: {extended}" + waits[3]
    )
    if not actions:  # as the flow was before: the parcel is the only thing its waits take
        for event in ("      deadline_extended: await_parcel_extended\n", "      cancel_requested: cancel\n"):
            text = text.replace(event, "")
        text = text.split("\ntests:\n")[0] + "\n"
        for step in ("await_parcel_extended", "cancel", "notify_cancelled", "cancelled"):
            start = text.index(f"  - id: {step}\n")
            end = text.find("  - id: ", start + 1)
            text = text[:start] + (text[end:] if end != -1 else "")
    stack.publish(text)
    return name


def _requested(stack, flow: str, **order) -> tuple[dict, str]:
    delivered = delivered_order(stack, **order)
    response = post_return(stack, {"order_id": delivered["id"], **LINE}, flow=flow)
    assert response.status_code == 201, response.text
    return delivered, response.json()["id"]


def _event(stack, return_id: str, type_: str, role: str = "operator", **data) -> httpx.Response:
    with stack.client(role) as client:
        return client.post(f"/api/returns/{return_id}/events", json={"type": type_, "data": data})


def _lines(ret: dict, type_: str) -> list[str]:
    return [e["message"] for e in ret["timeline"] if e["type"] == type_]


def test_more_time_keeps_the_return_open_past_its_first_deadline_and_a_cancel_ends_it(stack, mailbox):
    flow = _flow(stack, parcel="3s", late="3s", extended="60s")
    order, return_id = _requested(stack, flow)
    wait_return(stack, return_id, "awaiting_parcel")

    extended = _event(stack, return_id, "deadline_extended", note="customer is abroad")
    assert extended.status_code == 202, extended.text
    ret = wait_return(stack, return_id, lambda r: any(e["step"] == "await_parcel_extended" for e in r["timeline"]))
    assert _lines(ret, "action") == ["deadline extended by operator: 60 s more from now (customer is abroad)"]
    time.sleep(7)  # both of the flow's own waits would have run out by now
    ret = get_return(stack, return_id)
    assert ret["status"] == "awaiting_parcel", ret["timeline"]
    assert not any(e["data"].get("event") == "return_reminder" for e in ret["timeline"] if e["type"] == "notification")

    cancelled = _event(stack, return_id, "cancel_requested", note="customer keeps it")
    assert cancelled.status_code == 202, cancelled.text
    done = wait_return(stack, return_id, "cancelled")
    assert done["closed_at"] is not None and done["refunded"] == 0 and done["stock_movements"] == []
    assert [line["counted"] for line in done["lines"]] == [0]  # the line can be returned again
    assert "return cancelled by operator (customer keeps it)" in _lines(done, "action")
    sent = [e["data"].get("event") for e in done["timeline"] if e["type"] == "notification"]
    assert sent == ["return_label", "return_cancelled"]
    deadline = time.monotonic() + 10
    while not [m for m in mailbox.about(return_id) if "is cancelled" in str(m["Subject"])]:
        assert time.monotonic() < deadline, "the customer was not told of the cancellation"
        time.sleep(0.2)

    # Nothing waits any more: every action is refused with the reason, and nothing is sent.
    for type_ in ("parcel_received", "deadline_extended", "cancel_requested"):
        refused = _event(stack, return_id, type_)
        assert (refused.status_code, refused.json()["detail"]) == (
            409,
            f"return {return_id} is not waiting for its parcel (it is cancelled)",
        )
    again = post_return(stack, {"order_id": order["id"], **LINE}, flow=flow)
    assert again.status_code == 201, again.text


def test_a_return_on_a_flow_without_the_actions_is_refused_them_and_its_parcel_still_arrives(stack):
    flow = _flow(stack, parcel="60s", actions=False)
    _, return_id = _requested(stack, flow)
    wait_return(stack, return_id, "awaiting_parcel")
    refused = _event(stack, return_id, "deadline_extended")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"return {return_id} runs flow {flow} v1, whose step await_parcel does not take deadline_extended "
        "(it takes parcel_received)"
    )
    assert _lines(get_return(stack, return_id), "action") == []
    assert _event(stack, return_id, "parcel_received").status_code == 202
    ret = wait_return(stack, return_id, "inspecting")
    assert _lines(ret, "action") == [f"parcel {ret['label']['tracking_number']} recorded as received by operator"]


def test_a_scanned_label_finds_its_return_and_another_parcel_is_refused(stack):
    flow = _flow(stack, parcel="60s")
    _, return_id = _requested(stack, flow)
    _, other_id = _requested(stack, flow)
    ret = wait_return(stack, return_id, "awaiting_parcel")
    other = wait_return(stack, other_id, "awaiting_parcel")
    number, other_number = ret["label"]["tracking_number"], other["label"]["tracking_number"]

    wrong = _event(stack, return_id, "parcel_received", tracking_number=other_number)
    assert (wrong.status_code, wrong.json()["errors"]) == (
        422,
        [
            {
                "field": "tracking_number",
                "message": f"parcel {other_number} is not the parcel of return {return_id} (its label is {number})",
            }
        ],
    )
    with stack.client("operator") as client:
        unknown = client.post("/api/returns/scan", json={"tracking_number": "SIMNOSUCHLABEL"})
        assert (unknown.status_code, unknown.json()["detail"]) == (404, "no return has the label 'SIMNOSUCHLABEL'")
        scanned = client.post("/api/returns/scan", json={"tracking_number": number.lower()})
    assert scanned.status_code == 202, scanned.text
    assert scanned.json() == {
        "return_id": return_id,
        "type": "parcel_received",
        "message": f"parcel {number} recorded as received by operator (scanned)",
    }
    wait_return(stack, return_id, "inspecting")
    assert get_return(stack, other_id)["status"] == "awaiting_parcel"
    with stack.client("channel") as client:
        assert client.post("/api/returns/scan", json={"tracking_number": other_number}).status_code == 403


def _carrier(stack, payload: dict) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", **signed_headers("dev-secret-carrier-simulated", body)}
    return httpx.post(f"{stack.base_url}/api/carriers/simulated/events", content=body, headers=headers)


def test_the_carrier_tracking_the_return_parcel_moves_the_return(stack):
    flow = _flow(stack, parcel="60s")
    order, return_id = _requested(stack, flow)
    number = wait_return(stack, return_id, "awaiting_parcel")["label"]["tracking_number"]
    parcels_before = [s["status"] for s in stack.order(order["id"])["shipments"]]

    moving = {"tracking_number": number, "type": "in_transit", "event_id": f"{number}:1", "description": "picked up"}
    taken = _carrier(stack, moving)
    assert taken.status_code == 202, taken.text
    assert taken.json() == {
        "order_id": order["id"],
        "return_id": return_id,
        "tracking_number": number,
        "type": "in_transit",
        "duplicate": False,
        "order_event": None,
    }
    assert _carrier(stack, moving).json()["duplicate"] is True  # a retried webhook is one line
    ret = get_return(stack, return_id)
    assert ret["status"] == "awaiting_parcel"
    assert _lines(ret, "parcel_tracking") == [f"return parcel {number} in transit (simulated): picked up"]

    arrived = _carrier(stack, {"tracking_number": number, "type": "delivered", "event_id": f"{number}:2"})
    assert (arrived.status_code, arrived.json()["order_event"]) == (202, "parcel_received")
    ret = wait_return(stack, return_id, "inspecting")
    assert f"parcel {number} recorded as received by carrier simulated" in _lines(ret, "action")
    # The order's own parcel is untouched by its return's tracking.
    assert [s["status"] for s in stack.order(order["id"])["shipments"]] == parcels_before


def test_a_return_is_requested_by_the_orders_external_id(stack):
    order = delivered_order(stack)
    response = post_return(stack, {"order_id": order["external_id"], **LINE})
    assert response.status_code == 201, response.text
    assert get_return(stack, response.json()["id"])["order_id"] == order["id"]
    missing = post_return(stack, {"order_id": "NO-SUCH-ORDER", **LINE})
    assert (missing.status_code, missing.json()["errors"]) == (
        404,
        [{"field": "order_id", "message": "no order 'NO-SUCH-ORDER'"}],
    )
