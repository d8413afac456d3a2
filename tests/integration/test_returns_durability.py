"""A return that waits for its parcel survives worker kills, a Temporal restart and new flow versions."""

from __future__ import annotations

import time

from services.orders.repair import OUTSIDE_SEQ
from tests.conftest import unique
from tests.integration.test_returns import (
    decide,
    delivered_order,
    fast_return_flow,
    get_return,
    post_return,
    receive_and_inspect,
    return_event,
    stock_of,
    wait_return,
)


def _flow_name() -> str:
    return "ret_" + unique("f").lower().replace("-", "_")


def test_return_waiting_for_its_parcel_survives_a_worker_kill(stack):
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    ids = [
        post_return(
            stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}
        ).json()["id"]
        for _ in range(2)
    ]
    for return_id in ids:
        wait_return(stack, return_id, "awaiting_parcel")
    stack.kill("worker")
    # The parcels arrive while no worker runs: the signals wait in Temporal.
    for return_id in ids:
        assert return_event(stack, return_id, "parcel_received").status_code == 202
    stack.start("worker")
    for return_id in ids:
        wait_return(stack, return_id, "inspecting")
        assert decide(stack, return_id, "inspected", qc=[{"line": 1, "result": "resellable"}]).status_code == 200
    for return_id in ids:
        done = wait_return(stack, return_id, "completed")
        seqs = [e["seq"] for e in done["timeline"] if e["seq"] < OUTSIDE_SEQ]  # the workflow's own lines
        assert seqs == list(range(1, len(seqs) + 1)), done["timeline"]
        kinds = [e["type"] for e in done["timeline"]]
        assert (kinds.count("label_issued"), kinds.count("restocked"), kinds.count("refunded")) == (1, 1, 1)
        assert len(done["stock_movements"]) == 1 and done["refunded"] == 9.5


def test_timers_fire_after_a_restart_and_an_expired_return_moves_nothing(stack):
    name = _flow_name()
    stack.publish(fast_return_flow(name, parcel="3s", late="3s"))
    order = delivered_order(stack, lines=[{"sku": "TSHIRT-BLK-M", "qty": 1, "price": 19.9}])
    before = stock_of(stack, "TSHIRT-WHT-L")
    response = post_return(
        stack,
        {
            "order_id": order["id"],
            "lines": [{"line": 1, "qty": 1}],
            "reason": "wrong_size",
            "kind": "exchange",
            "replacement_sku": "TSHIRT-WHT-L",
        },
        flow=name,
    )
    return_id = response.json()["id"]
    wait_return(stack, return_id, "awaiting_parcel")
    assert stock_of(stack, "TSHIRT-WHT-L") != before  # the replacement is held
    stack.kill("worker")
    time.sleep(7)  # both waits run out while no worker is there
    stack.start("worker")
    done = wait_return(stack, return_id, "expired")
    events = [e["data"].get("event") for e in done["timeline"] if e["type"] == "notification"]
    assert events == ["return_label", "return_reminder", "return_expired"]
    assert done["refunded"] == 0 and done["stock_movements"] == [] and done["exchange_order_id"] is None
    assert stock_of(stack, "TSHIRT-WHT-L") == before  # the held replacement went back
    assert [line["counted"] for line in done["lines"]] == [0]
    # Too late for the parcel now.
    assert return_event(stack, return_id, "parcel_received").status_code == 409


def test_a_return_started_on_v1_finishes_on_v1_after_v2_is_published(stack):
    name = _flow_name()
    v1 = fast_return_flow(name)
    first = stack.publish(v1)
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    old = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}, flow=name
    ).json()["id"]
    wait_return(stack, old, "awaiting_parcel")
    # v2: no quality check any more, and another end status.
    v2 = v1.replace("parcel_received: inspect", "parcel_received: restock", 1).replace(
        "  - id: completed\n    type: end\n    status: completed",
        "  - id: completed\n    type: end\n    status: closed",
    )
    v2 = v2.split("\ntests:\n")[0] + "\n"  # the shipped flow's stored cases describe v1
    second = stack.publish(v2)
    assert second["version"] == first["version"] + 1
    new = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}, flow=name
    ).json()["id"]

    done = receive_and_inspect(stack, old, [{"line": 1, "result": "resellable"}])
    assert done["status"] == "completed" and done["flow"]["version"] == first["version"]
    assert "inspect" in [e["step"] for e in done["timeline"]]

    wait_return(stack, new, "awaiting_parcel")
    assert return_event(stack, new, "parcel_received").status_code == 202
    # v2 has no quality check: the parcel goes straight to restock with nothing inspected.
    later = wait_return(stack, new, "closed")
    assert later["flow"]["version"] == second["version"]
    assert "inspect" not in [e["step"] for e in later["timeline"]]
    assert get_return(stack, old)["status"] == "completed"
