"""Data scopes beyond orders and tasks: a Berlin operator sees and acts on Berlin's returns, waves, stock
movements, alerts, backorders, decisions and printouts only; a channel-scoped user's dashboard counts its
channels only, in every figure; a warehouse-scoped user's says what it leaves out."""

from __future__ import annotations

import re
import time
import uuid

import httpx

from tests.conftest import order_payload
from tests.integration.test_fulfilment_tasks import picking_flow
from tests.integration.test_returns import delivered_order, wait_return
from tests.integration.test_stock import new_sku, order
from web.deps import SESSION_COOKIE

PASSWORD = "a long enough password"
LYON = {"street": "1 rue de la République", "city": "Lyon", "postal_code": "69001", "country": "FR"}


def _person(stack, roles: list[str], **scopes) -> tuple[str, str]:
    """A new user with these roles and scopes: (username, token)."""
    username = f"{roles[0]}-{uuid.uuid4().hex[:8]}"
    with stack.client("admin") as admin:
        added = admin.post("/api/users", json={"username": username, "password": PASSWORD, "roles": roles, **scopes})
    assert added.status_code == 201, added.text
    token = httpx.post(f"{stack.base_url}/api/auth/token", data={"username": username, "password": PASSWORD})
    return username, token.json()["access_token"]


def _api(stack, token: str) -> httpx.Client:
    return httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _pages(stack, token: str) -> httpx.Client:
    """The web pages as that user (the session cookie holds the same token)."""
    return httpx.Client(base_url=stack.base_url, cookies={SESSION_COOKIE: token}, timeout=30)


def _warehouses(stack, order_id: str) -> set[str]:
    return {a["warehouse"] for a in stack.order(order_id)["allocations"]}


def test_a_warehouse_operator_neither_sees_nor_decides_another_warehouses_returns(stack):
    berlin = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 600}])
    lyon = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 600}], shipping_address=LYON)
    assert (_warehouses(stack, berlin["id"]), _warehouses(stack, lyon["id"])) == ({"BER"}, {"LYS"})
    line = {"lines": [{"line": 1, "qty": 1}], "reason": "not_as_described"}
    with stack.client("operator") as unscoped:
        theirs = unscoped.post("/api/returns", json={"order_id": lyon["id"], **line}).json()["id"]
    wait_return(stack, theirs, "in_review")  # above the policy's 500 review limit: a task to decide
    _, token = _person(stack, ["operator"], warehouses=["BER"])
    with _api(stack, token) as client:
        ours = client.post("/api/returns", json={"order_id": berlin["id"], **line})
        assert ours.status_code == 201, ours.text
        listed = {r["id"] for r in client.get("/api/returns", params={"limit": 500}).json()["returns"]}
        assert ours.json()["id"] in listed and theirs not in listed
        assert client.get("/api/returns", params={"order_id": lyon["id"]}).json()["total"] == 0
        detail = client.get(f"/api/returns/{theirs}")
        assert (detail.status_code, detail.json()["detail"]) == (404, f"no return {theirs!r}")
        decided = client.post(f"/api/returns/{theirs}/decision", json={"decision": "approve"})
        assert (decided.status_code, decided.json()["detail"]) == (404, f"no return {theirs!r}")
        event = client.post(f"/api/returns/{theirs}/events", json={"type": "parcel_received"})
        assert (event.status_code, event.json()["detail"]) == (404, f"no return {theirs!r}")
        # Asking to return the Lyon order answers as for an order that does not exist.
        hidden = client.post("/api/returns", json={"order_id": lyon["id"], **line})
        missing = client.post("/api/returns", json={"order_id": "ord_none", **line})
        assert (hidden.status_code, missing.status_code) == (404, 404)
        assert hidden.json()["errors"] == [{"field": "order_id", "message": f"no order {lyon['id']!r}"}]
        assert missing.json()["errors"] == [{"field": "order_id", "message": "no order 'ord_none'"}]
    with _pages(stack, token) as pages:
        assert pages.get(f"/returns/{theirs}").status_code == 404
        assert theirs not in pages.get("/returns").text
        assert pages.get(f"/returns/new?order_id={lyon['id']}").status_code == 404
    assert wait_return(stack, theirs, "in_review")["tasks"][0]["status"] == "open"  # nothing was decided


def _ready_to_pick(stack, flow: str, **overrides) -> str:
    order_id = stack.submit(order_payload(**overrides), flow=flow).json()["id"]
    stack.open_task(order_id)
    return order_id


def test_a_warehouse_operator_sees_only_its_warehouses_waves_movements_and_printouts(stack):
    flow = "order_picked_in_scoped_waves"
    stack.publish(picking_flow(flow))
    here = _ready_to_pick(stack, flow)
    there = _ready_to_pick(stack, flow, shipping_address=LYON)
    assert (_warehouses(stack, here), _warehouses(stack, there)) == ({"BER"}, {"LYS"})
    with stack.client("operator") as unscoped:
        lyon_wave = unscoped.post("/api/waves", json={"warehouse": "LYS", "max_orders": 500}).json()
    assert there in {o["id"] for o in lyon_wave["orders"]}
    username, token = _person(stack, ["operator"], warehouses=["BER"])
    with _api(stack, token) as client:
        refused = client.post("/api/waves", json={"warehouse": "LYS"})
        assert (refused.status_code, refused.json()["detail"]) == (
            403,
            f"{username} may change stock of BER only, not LYS",
        )
        berlin_wave = client.post("/api/waves", json={"warehouse": "BER", "max_orders": 500})
        assert berlin_wave.status_code == 201, berlin_wave.text
        waves = client.get("/api/waves", params={"limit": 200}).json()["waves"]
        assert berlin_wave.json()["id"] in {w["id"] for w in waves} and {w["warehouse"] for w in waves} == {"BER"}
        assert client.get("/api/waves", params={"warehouse": "LYS"}).json()["waves"] == []
        assert client.get(f"/api/waves/{lyon_wave['id']}").status_code == 404
        assert client.get(f"/api/waves/{lyon_wave['id']}/pick-list").status_code == 404
        moves = client.get("/api/inventory/movements", params={"limit": 1000}).json()["movements"]
        assert moves and {m["warehouse"] for m in moves} == {"BER"}
        assert client.get("/api/inventory/movements", params={"order_id": there}).json()["movements"] == []
        assert client.get("/api/inventory/movements", params={"order_id": here}).json()["movements"]
        assert client.get(f"/api/orders/{there}/packing-slip").status_code == 404
        assert client.get(f"/api/orders/{here}/packing-slip").status_code == 200
    with _pages(stack, token) as pages:
        assert pages.get(f"/waves/{lyon_wave['id']}").status_code == 404
        assert pages.get(f"/waves/{lyon_wave['id']}/pick-list").status_code == 404
        assert lyon_wave["id"] not in pages.get("/waves").text
        assert pages.get(f"/orders/{there}/packing-slip").status_code == 404
        assert pages.get(f"/orders/{there}/label").status_code == 404
        assert pages.get(f"/orders/{here}/packing-slip").status_code == 200
    # The audit log: a decision on the Lyon order is not the Berlin operator's to read.
    with stack.client("operator") as unscoped:
        assert unscoped.get(f"/api/waves/{lyon_wave['id']}").status_code == 200
        task = stack.open_task(there)
        picked = unscoped.post(
            f"/api/tasks/{task['id']}/decision", json={"decision": "done", "scans": [{"sku": "MUG-LOGO", "qty": 2}]}
        )
        assert picked.status_code == 200, picked.text
        stack.wait_for(there, lambda o: o["decisions"])
        assert unscoped.get("/api/decisions", params={"order_id": there}).json()["decisions"]
    with _api(stack, token) as client:
        assert client.get("/api/decisions", params={"order_id": there}).json()["decisions"] == []
        logged = client.get("/api/decisions", params={"limit": 500}).json()["decisions"]
    assert there not in {d["order_id"] for d in logged}


def test_a_warehouse_operators_alerts_replenishment_and_stock_totals_count_its_warehouse_only(stack):
    sku = new_sku(stack, {"BER": 3, "LYS": 4}, low_stock_threshold=10)
    with stack.client("operator") as unscoped:
        everywhere = unscoped.get("/api/inventory/alerts", params={"sku": sku}).json()["alerts"]
    assert [(a["available"], a["threshold"]) for a in everywhere] == [(7, 10)]
    _, token = _person(stack, ["operator"], warehouses=["BER"])
    with _api(stack, token) as client:
        alerts = client.get("/api/inventory/alerts", params={"sku": sku}).json()["alerts"]
        assert [(a["available"], a["message"]) for a in alerts] == [
            (3, f"{sku}: stock over all warehouses at or below the threshold of 10; 3 available in BER")
        ]
        suggestion = client.get("/api/inventory/replenishment", params={"sku": sku}).json()["suggestions"][0]
        assert suggestion["available"] == 3 and suggestion["why"].endswith("available 3 in BER")
    with _pages(stack, token) as pages:
        page = pages.get("/stock", params={"q": sku}).text
    row = page[page.index(f'<tr data-sku="{sku}">') :]
    row = row[: row.index("</tr>")]
    # on hand, reserved, available, threshold: Berlin's, not 7 over both warehouses
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["3", "0", "3", "10"]


def test_a_channel_users_backorders_and_movements_are_its_channels_only(stack):
    sku = new_sku(stack)
    web = stack.submit(order(sku, 1)).json()["id"]
    phone = stack.submit(order(sku, 1, channel="phone")).json()["id"]
    for order_id in (web, phone):
        stack.wait_status(order_id, "backordered")
    _, token = _person(stack, ["operator"], channels=["phone"])
    with _api(stack, token) as client:
        waiting = client.get("/api/inventory/backorders", params={"sku": sku}).json()["backorders"]
        assert [b["order_id"] for b in waiting] == [phone]
        received = client.post("/api/inventory/receipts", json={"warehouse": "BER", "sku": sku, "qty": 5})
        assert received.status_code == 201
    stack.wait_for(web, lambda o: any(a["state"] == "reserve" for a in o["allocations"]), timeout=60)
    with _api(stack, token) as client:
        moves = client.get("/api/inventory/movements", params={"sku": sku}).json()["movements"]
    assert {m["order_id"] for m in moves} <= {None, phone} and any(m["order_id"] is None for m in moves)


def _board(client: httpx.Client, **params) -> dict:
    response = client.get("/api/analytics", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_channel_users_dashboard_counts_its_channel_in_every_figure(stack):
    phone = stack.submit(order_payload(channel="phone")).json()["id"]
    stack.wait_for(phone, lambda o: any(e["type"] == "audited" for e in o["timeline"]))
    username, token = _person(stack, ["analyst"], channels=["phone"])
    figures = ("sales", "audit", "funnel", "cycle_times", "on_time", "returns", "stock", "forecast")
    with _api(stack, token) as client, stack.client("analyst") as unscoped:
        for _ in range(20):  # other tests' orders may still be counted: compare a quiet moment
            mine, theirs = _board(client), _board(unscoped, channel="phone")
            if all(mine[f] == theirs[f] for f in figures):
                break
            time.sleep(0.5)
        assert all(mine[f] == theirs[f] for f in figures)
        assert {r["channel"] for r in mine["sales"]["by_channel"]} == {"phone"}
        assert sum(r["orders"] for r in mine["sales"]["by_day"]) >= 1
        assert mine["scope"] == {"channels": ["phone"], "warehouses": [], "withheld": []}
        assert {r["status"] for r in mine["funnel"]} >= {"received", "audited"}
        assert unscoped.get("/api/analytics").json()["scope"]["withheld"] == []
        other = client.get("/api/analytics", params={"channel": "web"})
        assert (other.status_code, other.json()["detail"]) == (
            403,
            f"{username} acts for channel phone only, not 'web'",
        )
        assert client.get("/api/analytics/sales_by_channel.csv").text.splitlines()[1].startswith("phone,")
    with _pages(stack, token) as pages:
        page = pages.get("/dashboard")
        assert page.status_code == 200
        assert "Your figures are limited to" in page.text and "<strong>phone</strong>" in page.text
        assert "These are not shown" not in page.text
        assert pages.get("/dashboard", params={"channel": "web"}).status_code == 403


def test_a_warehouse_operators_dashboard_shows_its_parcels_and_withholds_the_rest(stack):
    _, token = _person(stack, ["operator"], warehouses=["BER"])
    with _api(stack, token) as client:
        board = _board(client)
    assert board["sales"]["by_day"] == [] and board["audit"]["audited"] == 0
    assert {r["warehouse"] for r in board["on_time"]} <= {"BER"}
    assert [w["section"] for w in board["scope"]["withheld"]] == [
        "sales",
        "audit",
        "funnel",
        "cycle_times",
        "returns",
        "stock",
        "forecast",
    ]
