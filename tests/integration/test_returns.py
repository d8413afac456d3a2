"""Returns and exchanges end to end: request, policy, label, parcel, quality check, restock, refund, exchange."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from services.orders.repair import OUTSIDE_SEQ
from tests.conftest import order_payload

ROOT = Path(__file__).resolve().parents[2]


# ---- helpers (imported by the other test_returns_* modules) -------------------------------------


def fast_return_flow(
    name: str, parcel: str = "7d", late: str = "7d", review_due: str = "2d", rules: str | None = None
) -> str:
    """The shipped return flow under another name, with test-sized waits (and optionally other rules)."""
    text = (ROOT / "definitions" / "flows" / "return.yaml").read_text(encoding="utf-8")
    replacements = {"name: return\n": f"name: {name}\n", "due: 2d": f"due: {review_due}"}
    if rules:
        replacements["rules: return_policy"] = f"rules: {rules}"
    for old, new in replacements.items():
        assert old in text, f"shipped return flow no longer contains {old!r}"
        text = text.replace(old, new)
    first, second = text.split("timeout: 7d", 2)[0:2], text.split("timeout: 7d", 2)[2]
    return first[0] + f"timeout: {parcel}" + first[1] + f"timeout: {late}" + second


def delivered_order(stack, **overrides: Any) -> dict:
    order_id = stack.submit(order_payload(**overrides)).json()["id"]
    stack.wait_status(order_id, "shipped", timeout=60)
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    return stack.wait_status(order_id, "completed", timeout=60)


def post_return(stack, body: dict, flow: str | None = None, role: str = "operator") -> httpx.Response:
    with stack.client(role) as client:
        return client.post("/api/returns", json=body, params={"flow": flow} if flow else None)


def get_return(stack, return_id: str) -> dict:
    with stack.client("operator") as client:
        response = client.get(f"/api/returns/{return_id}")
        response.raise_for_status()
        return response.json()


def wait_return(stack, return_id: str, predicate: Callable[[dict], bool] | str, timeout: float = 60) -> dict:
    check = (lambda r: r["status"] == predicate) if isinstance(predicate, str) else predicate
    deadline = time.monotonic() + timeout
    ret = get_return(stack, return_id)
    while not check(ret):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"return {return_id} stuck in {ret['status']!r}: {[(e['type'], e['message']) for e in ret['timeline']]}"
            )
        time.sleep(0.2)
        ret = get_return(stack, return_id)
    return ret


def return_event(stack, return_id: str, type_: str) -> httpx.Response:
    with stack.client("operator") as client:
        return client.post(f"/api/returns/{return_id}/events", json={"type": type_})


def decide(stack, return_id: str, decision: str, comment: str = "", qc: list | None = None) -> httpx.Response:
    with stack.client("operator") as client:
        return client.post(
            f"/api/returns/{return_id}/decision", json={"decision": decision, "comment": comment, "qc": qc or []}
        )


def stock_of(stack, sku: str) -> dict[str, tuple[int, int]]:
    with stack.client("operator") as client:
        rows = client.get("/api/inventory", params={"sku": sku}).json()["stock"]
    return {r["warehouse"]: (r["on_hand"], r["reserved"]) for r in rows}


def receive_and_inspect(stack, return_id: str, qc: list[dict]) -> dict:
    wait_return(stack, return_id, "awaiting_parcel")
    assert return_event(stack, return_id, "parcel_received").status_code == 202
    wait_return(stack, return_id, "inspecting")
    response = decide(stack, return_id, "inspected", qc=qc)
    assert response.status_code == 200, response.text
    return wait_return(stack, return_id, lambda r: r["closed_at"] is not None)


# ---- the tests ------------------------------------------------------------------------------------


def test_refund_return_goes_back_to_stock_and_refunds_the_line(stack):
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    warehouse = next(a["warehouse"] for a in order["allocations"])
    before = stock_of(stack, "MUG-LOGO")[warehouse]

    response = post_return(
        stack,
        {
            "order_id": order["id"],
            "lines": [{"sku": "MUG-LOGO", "qty": 1}],
            "reason": "wrong_size",
            "kind": "refund",
            "photos": ["https://example.com/mug.jpg"],
        },
    )
    assert response.status_code == 201, response.text
    return_id = response.json()["id"]
    ret = wait_return(stack, return_id, "awaiting_parcel")
    assert ret["label"]["tracking_number"].startswith("SIM")
    assert ret["audit"]["action"] == "approve"
    assert ret["photos"] == ["https://example.com/mug.jpg"]
    assert any(e["type"] == "notification" and e["data"].get("event") == "return_label" for e in ret["timeline"])

    assert return_event(stack, return_id, "parcel_received").status_code == 202
    ret = wait_return(stack, return_id, "inspecting")
    # The quality check is a task in the operator inbox, naming the return.
    with stack.client("operator") as client:
        tasks = client.get("/api/tasks", params={"status": "open"}).json()["tasks"]
    task = next(t for t in tasks if t["id"].startswith(return_id))
    assert task["order_id"] == order["id"] and task["decisions"] == ["inspected"]

    response = decide(stack, return_id, "inspected", qc=[{"line": 1, "result": "resellable"}])
    assert response.status_code == 200, response.text
    done = wait_return(stack, return_id, "completed")
    assert done["refunded"] == 9.5 and done["refund"]["amount"] == 9.5
    assert done["qc"][0]["restocked"] == 1
    assert stock_of(stack, "MUG-LOGO")[warehouse] == (before[0] + 1, before[1])
    # Every restock has a ledger movement tied to the return.
    assert [(m["operation"], m["sku"], m["qty"], m["warehouse"]) for m in done["stock_movements"]] == [
        ("return", "MUG-LOGO", 1, warehouse)
    ]
    with stack.client("operator") as client:
        ledger = client.get("/api/inventory/movements", params={"order_id": return_id}).json()["movements"]
    assert [(m["operation"], m["qty"]) for m in ledger] == [("return", 1)]
    seqs = [e["seq"] for e in done["timeline"] if e["seq"] < OUTSIDE_SEQ]  # the workflow's own lines
    assert seqs == list(range(1, len(seqs) + 1))

    with stack.client("operator") as client:
        listed = client.get("/api/returns", params={"status": "completed", "reason": "wrong_size"}).json()
    assert return_id in [r["id"] for r in listed["returns"]]


def test_bad_requests_name_the_field_and_store_nothing(stack):
    order = delivered_order(stack)
    pending = stack.submit(order_payload(payment={"method": "invoice", "status": "pending"})).json()["id"]
    stack.wait_status(pending, "awaiting_payment")

    def refused(body: dict, status: int, field: str, text: str) -> None:
        response = post_return(stack, body)
        assert response.status_code == status, response.text
        errors = response.json()["errors"]
        assert any(e["field"] == field and text in e["message"] for e in errors), errors

    line = [{"line": 1, "qty": 1}]
    refused({"order_id": order["id"], "lines": line, "reason": "bored"}, 422, "reason", "must be one of: changed_mind")
    refused({"order_id": "ord_nothere", "lines": line, "reason": "wrong_size"}, 404, "order_id", "no order")
    refused({"order_id": pending, "lines": line, "reason": "wrong_size"}, 409, "order_id", "only a delivered order")
    refused(
        {"order_id": order["id"], "lines": [{"line": 1, "qty": 3}], "reason": "wrong_size"},
        409,
        "lines[0].qty",
        "only 2 of 2 delivered are left",
    )
    refused(
        {"order_id": order["id"], "lines": [{"line": 4, "qty": 1}], "reason": "wrong_size"},
        422,
        "lines[0].line",
        "no line 4",
    )
    refused(
        {"order_id": order["id"], "lines": [{"sku": "NOPE", "qty": 1}], "reason": "wrong_size"},
        422,
        "lines[0].sku",
        "not in the order",
    )
    refused(
        {"order_id": order["id"], "lines": line, "reason": "wrong_size", "kind": "exchange"}, 422, "replacement_sku", ""
    )
    refused(
        {"order_id": order["id"], "lines": line, "reason": "wrong_size", "kind": "exchange", "replacement_sku": "NOPE"},
        422,
        "replacement_sku",
        "unknown SKU",
    )
    refused(
        {"order_id": order["id"], "lines": line, "reason": "wrong_size", "photos": ["ftp://x"]},
        422,
        "photos[0].url",
        "",
    )
    with stack.client("operator") as client:
        assert client.get("/api/returns", params={"order_id": order["id"]}).json()["total"] == 0
    with stack.client("analyst") as client:
        assert (
            client.post(
                "/api/returns", json={"order_id": order["id"], "lines": line, "reason": "wrong_size"}
            ).status_code
            == 403
        )


def test_concurrent_requests_never_return_more_than_delivered(stack):
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    body = {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(r.status_code for r in pool.map(lambda _: post_return(stack, body), range(8)))
    assert codes == [201, 201] + [409] * 6
    with stack.client("operator") as client:
        assert client.get("/api/returns", params={"order_id": order["id"]}).json()["total"] == 2


def test_quality_check_must_cover_every_item_and_damaged_is_written_off(stack):
    order = delivered_order(
        stack, lines=[{"sku": "MUG-LOGO", "qty": 3, "price": 9.5}, {"sku": "TSHIRT-BLK-M", "qty": 1, "price": 19.9}]
    )
    response = post_return(
        stack,
        {"order_id": order["id"], "reason": "changed_mind", "lines": [{"line": 1, "qty": 3}, {"line": 2, "qty": 1}]},
    )
    return_id = response.json()["id"]
    wait_return(stack, return_id, "awaiting_parcel")
    assert return_event(stack, return_id, "parcel_received").status_code == 202
    wait_return(stack, return_id, "inspecting")
    for qc, text in (
        ([], "needs a result for every line"),
        ([{"line": 1, "result": "resellable"}], "line 2: results for 0 of 1"),
        (
            [{"line": 1, "result": "resellable", "qty": 2}, {"line": 2, "result": "resellable"}],
            "line 1: results for 2 of 3",
        ),
        ([{"line": 1, "result": "damaged"}, {"line": 2, "result": "resellable"}], "needs a reason"),
        ([{"line": 3, "result": "resellable"}], "line 3 is not in this return"),
    ):
        response = decide(stack, return_id, "inspected", qc=qc)
        assert response.status_code == 422 and text in response.json()["detail"], (qc, response.text)
    assert get_return(stack, return_id)["status"] == "inspecting"
    assert decide(stack, return_id, "approve").status_code == 422  # not a decision of the quality check
    qc = [
        {"line": 1, "result": "resellable", "qty": 1},
        {"line": 1, "result": "damaged", "qty": 1, "reason": "cracked"},
        {"line": 1, "result": "missing", "qty": 1},
        {"line": 2, "result": "resellable"},
    ]
    assert decide(stack, return_id, "inspected", qc=qc).status_code == 200
    done = wait_return(stack, return_id, "completed")
    lines = {line["line"]: line for line in done["lines"]}
    assert (lines[1]["restocked"], lines[1]["written_off"], lines[1]["counted"]) == (1, 1, 2)
    # Refunded: what arrived (resellable and damaged), not the missing one.
    assert done["refunded"] == round(2 * 9.5 + 19.9, 2)
    assert sorted((m["sku"], m["qty"]) for m in done["stock_movements"]) == [("MUG-LOGO", 1), ("TSHIRT-BLK-M", 1)]
    restock = next(e for e in done["timeline"] if e["type"] == "restocked")
    assert restock["data"]["written_off"] == [{"line": 1, "sku": "MUG-LOGO", "qty": 1, "reason": "cracked"}]
    # The missing item may be asked back again; the others are returned.
    again = post_return(stack, {"order_id": order["id"], "reason": "changed_mind", "lines": [{"line": 1, "qty": 2}]})
    assert again.status_code == 409
    assert (
        post_return(
            stack, {"order_id": order["id"], "reason": "changed_mind", "lines": [{"line": 1, "qty": 1}]}
        ).status_code
        == 201
    )


def test_review_rejected_changes_no_stock_and_no_money(stack):
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 600}])
    before = stock_of(stack, "MUG-LOGO")
    return_id = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "not_as_described"}
    ).json()["id"]
    ret = wait_return(stack, return_id, "in_review")
    assert ret["audit"]["action"] == "review" and "500 review limit" in ret["audit"]["fired"][0]["reason"]
    assert decide(stack, return_id, "reject").status_code == 422  # a comment is required
    assert decide(stack, return_id, "reject", comment="used").status_code == 200
    done = wait_return(stack, return_id, "rejected")
    assert done["refunded"] == 0 and done["stock_movements"] == [] and done["label"] == {}
    assert stock_of(stack, "MUG-LOGO") == before
    assert any(e["data"].get("event") == "return_rejected" for e in done["timeline"])
    # A rejected return holds nothing: the item may be asked back again.
    assert (
        post_return(
            stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "defective"}
        ).status_code
        == 201
    )


def test_damaged_on_arrival_below_the_value_is_refunded_at_once(stack):
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}], shipping_fee=4.9)
    return_id = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "damaged_on_arrival"}
    ).json()["id"]
    done = wait_return(stack, return_id, "completed")
    path = [e["step"] for e in done["timeline"]]
    assert "label" not in path and "inspect" not in path
    assert done["label"] == {} and done["stock_movements"] == []
    # Our fault: the shipping fee is refunded too, once per order.
    assert (done["refunded"], done["refunded_shipping"]) == (14.4, 4.9)
    second = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "damaged_on_arrival"}
    ).json()["id"]
    assert (wait_return(stack, second, "completed")["refunded"], get_return(stack, second)["refunded_shipping"]) == (
        9.5,
        0,
    )
    with stack.client("operator") as client:
        returns = client.get("/api/returns", params={"order_id": order["id"]}).json()["returns"]
    assert sum(r["refunded"] for r in returns) <= 2 * 9.5 + 4.9


def test_exchange_reserves_on_approval_and_places_an_order_that_can_be_returned(stack):
    order = delivered_order(stack, lines=[{"sku": "TSHIRT-BLK-M", "qty": 1, "price": 19.9}])
    before = stock_of(stack, "TSHIRT-WHT-L")
    return_id = post_return(
        stack,
        {
            "order_id": order["id"],
            "lines": [{"line": 1, "qty": 1}],
            "reason": "wrong_size",
            "kind": "exchange",
            "replacement_sku": "TSHIRT-WHT-L",
        },
    ).json()["id"]
    ret = wait_return(stack, return_id, "awaiting_parcel")
    # Held from approval, before the parcel arrives.
    held = stock_of(stack, "TSHIRT-WHT-L")
    assert sum(r for _, r in held.values()) == sum(r for _, r in before.values()) + 1
    reserved = next(e for e in ret["timeline"] if e["type"] == "exchange_reserved")
    exchange_id = reserved["data"]["exchange_order"]

    done = receive_and_inspect(stack, return_id, [{"line": 1, "result": "resellable"}])
    assert done["status"] == "completed" and done["exchange_order_id"] == exchange_id and done["refunded"] == 0
    exchange = stack.wait_status(exchange_id, "shipped", timeout=60)
    assert exchange["lines"] == [{"sku": "TSHIRT-WHT-L", "qty": 1, "price": 19.9}]
    # The order found the stock held for it: one reservation, not two.
    assert sorted(a["state"] for a in exchange["allocations"]) == ["reserve", "ship"]
    after = stock_of(stack, "TSHIRT-WHT-L")
    assert sum(h for h, _ in after.values()) == sum(h for h, _ in before.values()) - 1
    assert sum(r for _, r in after.values()) == sum(r for _, r in before.values())

    # The exchanged item can itself be returned, refunded at most what it was worth.
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{exchange_id}/events", json={"type": "delivered"}).status_code == 202
    stack.wait_status(exchange_id, "completed", timeout=60)
    second = post_return(stack, {"order_id": exchange_id, "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"})
    assert second.status_code == 201, second.text
    refunded = receive_and_inspect(stack, second.json()["id"], [{"line": 1, "result": "resellable"}])
    assert refunded["refunded"] == 19.9


def test_an_exchange_without_stock_for_the_replacement_is_refunded(stack):
    from tests.integration.test_stock import new_sku

    replacement = new_sku(stack, {"BER": 0})
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 9.5}])
    return_id = post_return(
        stack,
        {
            "order_id": order["id"],
            "lines": [{"line": 1, "qty": 1}],
            "reason": "wrong_item",
            "kind": "exchange",
            "replacement_sku": replacement,
        },
    ).json()["id"]
    ret = wait_return(stack, return_id, "awaiting_parcel")
    assert any(e["type"] == "out_of_stock" for e in ret["timeline"])
    done = receive_and_inspect(stack, return_id, [{"line": 1, "result": "resellable"}])
    assert done["status"] == "completed" and done["exchange_order_id"] is None and done["refunded"] == 9.5
    assert stock_of(stack, replacement) == {"BER": (0, 0)}


def test_a_category_that_cannot_be_returned_is_rejected_and_nothing_moves(stack):
    from tests.integration.test_stock import new_sku

    sku = new_sku(stack, {"BER": 5}, category="hygiene")
    order = delivered_order(stack, lines=[{"sku": sku, "qty": 1, "price": 4}])
    return_id = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}
    ).json()["id"]
    done = wait_return(stack, return_id, "rejected")
    assert "cannot be returned" in done["audit"]["fired"][0]["reason"]
    assert done["refunded"] == 0 and done["stock_movements"] == [] and stock_of(stack, sku) == {"BER": (4, 0)}


def test_concurrent_refunds_of_one_order_never_exceed_what_it_paid(stack):
    # Damaged on arrival and cheap: each return refunds at once, and the shipping fee may be refunded only once.
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 3, "price": 5}], shipping_fee=4.9)
    body = {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "damaged_on_arrival"}
    with ThreadPoolExecutor(3) as pool:
        ids = [r.json()["id"] for r in pool.map(lambda _: post_return(stack, body), range(3))]
    done = [wait_return(stack, return_id, "completed") for return_id in ids]
    assert sorted(r["refunded_shipping"] for r in done) == [0, 0, 4.9]
    assert round(sum(r["refunded"] for r in done), 2) == 3 * 5 + 4.9  # exactly what was paid, never more


def test_the_inbox_decides_a_return_held_for_review(stack):
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 700}])
    return_id = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "defective"}
    ).json()["id"]
    ret = wait_return(stack, return_id, "in_review")
    task = next(t for t in ret["tasks"] if t["status"] == "open")
    with stack.client("channel") as client:  # only operators decide
        assert client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve"}).status_code == 403
    with stack.client("operator") as client:
        response = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve", "comment": "ok"})
    assert response.status_code == 200 and response.json()["next_step"] == "approved", response.text
    done = receive_and_inspect(stack, return_id, [{"line": 1, "result": "damaged", "reason": "does not start"}])
    assert done["status"] == "completed" and done["refunded"] == 700 and done["stock_movements"] == []
    assert done["lines"][0]["written_off"] == 1
