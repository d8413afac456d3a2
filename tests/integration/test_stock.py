"""Stock through the real stack: ledger movements, alerts, allocation, backorders, reconciliation."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import order_payload

# The backorder step's wait (other waits of the flow, such as a manual hold, keep theirs).
BACKORDER_WAIT = "status: backordered\n    timeout: 7d"


def new_sku(stack, stock: dict[str, int] | None = None, price: float = 10.0, **fields) -> str:
    """A SKU of the test's own, with ``stock`` per warehouse; other tests never touch it."""
    sku = f"T-{uuid.uuid4().hex[:8].upper()}"
    with stack.client("operator") as client:
        body = {"name": f"test item {sku}", "price": price, "weight_kg": 0.5, **fields}
        assert client.put(f"/api/inventory/skus/{sku}", json=body).status_code == 200
        for warehouse, qty in (stock or {}).items():
            response = client.put(f"/api/inventory/{warehouse}/{sku}", json={"on_hand": qty, "reason": "test stock"})
            assert response.status_code == 200, response.text
    return sku


def balances(stack, sku: str) -> dict[str, tuple[int, int]]:
    with stack.client("analyst") as client:
        rows = client.get("/api/inventory", params={"sku": sku}).json()["stock"]
    return {r["warehouse"]: (r["on_hand"], r["reserved"]) for r in rows}


def reconciliation(stack) -> dict:
    # Operators' (and admins') to ask for: it reads the whole ledger.
    with stack.client("operator") as client:
        response = client.get("/api/inventory/reconciliation")
    assert response.status_code == 200
    return response.json()


def movements(stack, sku: str) -> list[tuple]:
    with stack.client("operator") as client:
        rows = client.get("/api/inventory/movements", params={"sku": sku}).json()["movements"]
    return [(m["operation"], m["warehouse"], m["qty"]) for m in reversed(rows)]


def order(sku: str, qty: int, price: float = 10.0, country: str = "DE", **overrides) -> dict:
    address = {
        "street": f"Teststr. {uuid.uuid4().int % 100000}",
        "city": "X",
        "postal_code": "10115",
        "country": country,
    }
    if country == "FR":
        address.update(city="Lyon", postal_code="69001")
    if country == "US":
        address.update(city="Newark", postal_code="07102")
    return order_payload(lines=[{"sku": sku, "qty": qty, "price": price}], shipping_address=address, **overrides)


@pytest.fixture(scope="module")
def backorder_flow(stack) -> str:
    """The shipped flow whose backorder wait times out after 3 seconds."""
    from tests.conftest import ROOT

    text = (ROOT / "definitions" / "flows" / "order.yaml").read_text(encoding="utf-8")
    assert text.count(BACKORDER_WAIT) == 1
    name = "order_short_backorder"
    stack.publish(
        text.replace("name: order\n", f"name: {name}\n").replace(BACKORDER_WAIT, BACKORDER_WAIT.replace("7d", "3s"))
    )
    return name


# ---- the ledger ------------------------------------------------------------------------


def test_receipt_adjustment_transfer_are_ledger_rows_that_reconcile(stack):
    sku = new_sku(stack)
    with stack.client("operator") as client:
        received = client.post(
            "/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 10, "reason": "PO 1"}
        )
        assert received.status_code == 201, received.text
        assert (received.json()["operation"], received.json()["qty"], received.json()["user"]) == (
            "receipt",
            10,
            "operator",
        )
        assert (
            client.post(
                "/api/inventory/adjustments", json={"warehouse": "BER", "sku": sku, "qty": -3, "reason": "broken"}
            ).status_code
            == 201
        )
        moved = client.post(
            "/api/inventory/transfers", json={"from_warehouse": "BER", "to_warehouse": "LYS", "sku": sku, "qty": 2}
        )
        assert moved.status_code == 201, moved.text
        assert client.post("/api/inventory/returns", json={"warehouse": "LYS", "sku": sku, "qty": 1}).status_code == 201
        assert client.put(f"/api/inventory/NJ1/{sku}", json={"on_hand": 4}).status_code == 200
    assert balances(stack, sku) == {"BER": (5, 0), "LYS": (3, 0), "NJ1": (4, 0)}
    assert movements(stack, sku) == [
        ("receipt", "BER", 10),
        ("adjust", "BER", -3),
        ("transfer", "BER", -2),
        ("transfer", "LYS", 2),
        ("return", "LYS", 1),
        ("adjust", "NJ1", 4),
    ]
    assert reconciliation(stack)["differences"] == []


BAD_MOVES = {
    "receipt of nothing": (
        "/api/inventory/receipts",
        {"warehouse": "BER", "qty": 0},
        422,
        "qty",
        "qty must be at least 1",
    ),
    "unknown warehouse": (
        "/api/inventory/receipts",
        {"warehouse": "XXX", "qty": 1},
        404,
        "warehouse",
        "unknown warehouse 'XXX'",
    ),
    "adjust below what is reserved": (
        "/api/inventory/adjustments",
        {"warehouse": "BER", "qty": -6, "reason": "x"},
        422,
        "qty",
        "{sku} in BER has too little unreserved stock to take 6",
    ),
    "transfer more than there is": (
        "/api/inventory/transfers",
        {"from_warehouse": "BER", "to_warehouse": "LYS", "qty": 9},
        422,
        "qty",
        "{sku} in BER has too little unreserved stock to take 9",
    ),
    "transfer to itself": (
        "/api/inventory/transfers",
        {"from_warehouse": "BER", "to_warehouse": "BER", "qty": 1},
        422,
        "to_warehouse",
        "a transfer needs two different warehouses",
    ),
    "lot for an untracked SKU": (
        "/api/inventory/receipts",
        {"warehouse": "BER", "qty": 1, "lot": "L1"},
        422,
        "lot",
        "SKU {sku} is not tracked by lot: leave the lot out",
    ),
}


@pytest.mark.parametrize("path, body, status, field, message", BAD_MOVES.values(), ids=BAD_MOVES.keys())
def test_bad_movements_are_refused_naming_the_field_and_change_nothing(stack, path, body, status, field, message):
    sku = new_sku(stack, {"BER": 5})
    before = (balances(stack, sku), movements(stack, sku))
    with stack.client("operator") as client:
        response = client.post(path, json={"sku": sku, **body})
    assert response.status_code == status, response.text
    assert response.json()["errors"] == [{"field": field, "message": message.format(sku=sku)}]
    assert (balances(stack, sku), movements(stack, sku)) == before


@pytest.mark.parametrize("role", ["channel", "analyst"])
def test_only_operators_change_stock(stack, role):
    sku = new_sku(stack, {"BER": 5})
    with stack.client(role) as client:
        response = client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 5})
        assert response.status_code == 403
        assert response.json()["detail"] == f"role {role!r} may not do this; needs operator"
        assert client.get("/api/inventory/movements", params={"sku": sku}).status_code == 200
    assert balances(stack, sku) == {"BER": (5, 0)}


def test_lot_tracked_stock_needs_lot_and_expiry(stack):
    sku = new_sku(stack, lot_tracked=True, expiry_tracked=True)
    with stack.client("operator") as client:
        no_lot = client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 5})
        assert no_lot.status_code == 422
        assert no_lot.json()["errors"] == [{"field": "lot", "message": f"SKU {sku} is tracked by lot: name the lot"}]
        no_date = client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 5, "lot": "L1"})
        assert no_date.json()["errors"][0]["field"] == "expires_on"
        ok = client.post(
            "/api/inventory/receipts",
            json={"warehouse": "BER", "sku": sku, "qty": 5, "lot": "L1", "expires_on": "2099-01-31"},
        )
        assert ok.status_code == 201, ok.text
        rows = client.get("/api/inventory", params={"sku": sku}).json()["stock"]
    assert [
        (r["warehouse"], r["on_hand"], [(lot["lot"], lot["on_hand"], lot["expires_on"]) for lot in r["lots"]])
        for r in rows
    ] == [("BER", 5, [("L1", 5, "2099-01-31")])]


# ---- allocation on real orders ------------------------------------------------------------


@pytest.mark.parametrize("country, warehouse", [("DE", "BER"), ("FR", "LYS"), ("US", "NJ1")])
def test_nearest_warehouse_serving_the_destination_ships_and_the_timeline_says_why(stack, country, warehouse):
    sku = new_sku(stack, {"BER": 10, "LYS": 10, "NJ1": 10})
    order_id = stack.submit(order(sku, 2, country=country)).json()["id"]
    detail = stack.wait_for(order_id, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    assert [(a["warehouse"], a["qty"]) for a in detail["allocations"] if a["state"] == "reserve"] == [(warehouse, 2)]
    line = next(e for e in detail["timeline"] if e["type"] == "stock_reserved")
    assert line["message"].startswith(f"reserved 2 x {sku} from {warehouse} (allocation default v")
    assert f"{warehouse} (" in line["message"] and "chosen by nearest, then lowest cost" in line["message"]
    assert line["data"]["why"][-1].startswith(f"{warehouse} (")


def test_split_across_warehouses_when_none_can_ship_alone(stack):
    sku = new_sku(stack, {"BER": 3, "LYS": 3}, price=30)
    order_id = stack.submit(order(sku, 5, price=30)).json()["id"]
    detail = stack.wait_for(order_id, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    assert [(a["warehouse"], a["qty"]) for a in detail["allocations"] if a["state"] == "reserve"] == [
        ("BER", 3),
        ("LYS", 2),
    ]
    line = next(e for e in detail["timeline"] if e["type"] == "stock_reserved")
    assert (
        "split into BER (90.00) + LYS (60.00) by nearest, then lowest cost, each shipment worth at least 20.00"
        in line["message"]
    )
    assert [(s["warehouse"], s["value"]) for s in line["data"]["shipments"]] == [("BER", 90.0), ("LYS", 60.0)]


def test_split_worth_less_than_the_minimum_backorders_instead(stack):
    sku = new_sku(stack, {"BER": 3, "LYS": 3}, price=5)
    order_id = stack.submit(order(sku, 4, price=5)).json()["id"]
    detail = stack.wait_status(order_id, "backordered")
    assert detail["allocations"] == []
    failure = next(e for e in detail["timeline"] if e["type"] == "out_of_stock")
    assert "split refused: the shipment from LYS would be worth 5.00, below the minimum 20.00" in failure["message"]
    assert balances(stack, sku) == {"BER": (3, 0), "LYS": (3, 0)}


def test_channel_reserved_stock_is_kept_for_its_channel(stack):
    sku = new_sku(stack, {"BER": 5})
    with stack.client("operator") as client:
        response = client.put(f"/api/inventory/channels/phone/BER/{sku}", json={"qty": 3})
        assert response.status_code == 200, response.text
    web = stack.submit(order(sku, 3)).json()["id"]
    assert (
        "BER: 3 x " + sku + " kept for other channels"
        in next(e for e in stack.wait_status(web, "backordered")["timeline"] if e["type"] == "out_of_stock")["message"]
    )
    phone = stack.submit(order(sku, 3, channel="phone")).json()["id"]
    detail = stack.wait_for(phone, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    assert [(a["warehouse"], a["qty"]) for a in detail["allocations"] if a["state"] == "reserve"] == [("BER", 3)]


def test_backorder_then_receipt_then_allocation(stack):
    sku = new_sku(stack, {"BER": 1})
    order_id = stack.submit(order(sku, 4)).json()["id"]
    stack.wait_status(order_id, "backordered")
    with stack.client("operator") as client:
        waiting = client.get("/api/inventory/backorders", params={"sku": sku}).json()["backorders"]
        assert [(b["order_id"], b["qty"], b["status"]) for b in waiting] == [(order_id, 3, "open")]
        received = client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 10})
    assert received.status_code == 201
    assert received.json()["woken_orders"] == [order_id]
    detail = stack.wait_for(order_id, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    assert [e["type"] for e in detail["timeline"]][:5] == [
        "audited",
        "out_of_stock",
        "waiting",
        "event",
        "stock_reserved",
    ]
    assert [(a["warehouse"], a["qty"]) for a in detail["allocations"] if a["state"] == "reserve"] == [("BER", 4)]
    with stack.client("operator") as client:
        assert (
            client.get("/api/inventory/backorders", params={"sku": sku, "status": "filled"}).json()["backorders"][0][
                "order_id"
            ]
            == order_id
        )


def test_backorder_without_stock_is_cancelled_after_its_timeout(stack, backorder_flow):
    sku = new_sku(stack, {"BER": 0})
    order_id = stack.submit(order(sku, 2), flow=backorder_flow).json()["id"]
    detail = stack.wait_status(order_id, "cancelled", timeout=30)
    assert [e["type"] for e in detail["timeline"]] == [
        "audited",
        "out_of_stock",
        "waiting",
        "timed_out",
        "stock_released",
        "ended",
    ]
    with stack.client("operator") as client:
        rows = client.get("/api/inventory/backorders", params={"sku": sku, "status": "all"}).json()["backorders"]
        assert [(r["order_id"], r["status"]) for r in rows] == [(order_id, "cancelled")]
        # A receipt afterwards wakes nobody.
        assert (
            client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 5}).json()[
                "woken_orders"
            ]
            == []
        )


# ---- alerts, replenishment, the mixed run ----------------------------------------------------


def test_low_stock_alert_opens_and_resolves(stack):
    sku = new_sku(stack, {"BER": 10}, low_stock_threshold=5, lead_time_days=10)
    order_id = stack.submit(order(sku, 6)).json()["id"]
    stack.wait_for(order_id, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    with stack.client("operator") as client:
        alerts = client.get("/api/inventory/alerts", params={"sku": sku}).json()["alerts"]
        assert [(a["status"], a["available"], a["threshold"]) for a in alerts] == [("open", 4, 5)]
        suggestion = client.get("/api/inventory/replenishment", params={"sku": sku}).json()["suggestions"][0]
        # 6 reserved in 30 days = 0.2/day; (10 lead + 14 cover) x 0.2 + 5 threshold = 9.8, less 4 available -> 6
        assert (suggestion["sold_in_window"], suggestion["suggested_qty"]) == (6, 6)
        assert (
            client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 10}).status_code == 201
        )
        alerts = client.get("/api/inventory/alerts", params={"sku": sku, "status": "all"}).json()["alerts"]
    assert [(a["status"], a["available"]) for a in alerts] == [("resolved", 14)]


def test_ledger_reconciles_after_orders_cancellations_and_returns(stack):
    from tests.conftest import fast_flow

    flow = "order_stock_mixed"
    stack.publish(fast_flow(flow, payment_timeout="2s"))
    sku = new_sku(stack, {"BER": 20, "LYS": 5})
    shipped = [stack.submit(order(sku, 2), flow=flow).json()["id"] for _ in range(3)]
    unpaid = stack.submit(order(sku, 4, payment={"method": "invoice", "status": "pending"}), flow=flow).json()["id"]
    for order_id in shipped:
        stack.wait_for(order_id, lambda o: any(a["state"] == "ship" for a in o["allocations"]), timeout=60)
    stack.wait_status(unpaid, "cancelled", timeout=60)
    with stack.client("operator") as client:
        returned = client.post(
            "/api/inventory/returns", json={"warehouse": "BER", "sku": sku, "qty": 1, "order_id": shipped[0]}
        )
        assert returned.status_code == 201
    assert balances(stack, sku) == {"BER": (20 - 6 + 1, 0), "LYS": (5, 0)}
    report = reconciliation(stack)
    assert (report["ok"], report["differences"], report["negative"]) == (True, [], [])


def test_stock_released_by_an_unpaid_order_goes_to_a_backordered_one(stack):
    from tests.conftest import fast_flow

    flow = "order_stock_release_wakes"
    stack.publish(fast_flow(flow, payment_timeout="3s"))
    sku = new_sku(stack, {"BER": 4, "LYS": 0, "NJ1": 0})
    unpaid = stack.submit(order(sku, 4, payment={"method": "invoice", "status": "pending"}), flow=flow).json()["id"]
    stack.wait_status(unpaid, "awaiting_payment")
    waiting = stack.submit(order(sku, 3), flow=flow).json()["id"]
    stack.wait_status(waiting, "backordered")
    stack.wait_status(unpaid, "cancelled", timeout=30)
    detail = stack.wait_for(waiting, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    assert [(a["warehouse"], a["qty"]) for a in detail["allocations"] if a["state"] == "reserve"] == [("BER", 3)]
    event = next(e for e in detail["timeline"] if e["type"] == "event")
    assert event["data"] == {"type": "stock_received", "data": {"sku": sku, "warehouse": "BER", "qty": 4}}


def test_lot_tracked_order_takes_the_first_expiring_lot_with_enough_shelf_life(stack):
    # Seeded: BER lots C2601 (expires in 20 days: kept back by min_shelf_life_days 30), C2603, C2605.
    order_id = stack.submit(order("COFFEE-1KG", 125, price=18.5)).json()["id"]
    detail = stack.wait_for(order_id, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    line = next(e for e in detail["timeline"] if e["type"] == "stock_reserved")
    assert [(a["warehouse"], a["lot"], a["qty"]) for a in line["data"]["allocations"]] == [
        ("BER", "C2603", 120),
        ("BER", "C2605", 5),
    ]
    assert line["message"].endswith("lots FEFO)")
    with stack.client("operator") as client:
        rows = client.get("/api/inventory/movements", params={"order_id": order_id}).json()["movements"]
        ber = next(
            r
            for r in client.get("/api/inventory", params={"sku": "COFFEE-1KG"}).json()["stock"]
            if r["warehouse"] == "BER"
        )
    assert sorted((m["operation"], m["lot"], m["qty"]) for m in rows if m["operation"] == "reserve") == [
        ("reserve", "C2603", 120),
        ("reserve", "C2605", 5),
    ]
    # Reserved, or shipped since: either way lot C2601 was not touched.
    unreserved = {lot["lot"]: lot["on_hand"] - lot["reserved"] for lot in ber["lots"]}
    assert unreserved == {"C2601": 60, "C2603": 0, "C2605": 115}
    assert reconciliation(stack)["differences"] == []
