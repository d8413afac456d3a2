"""People sign in as themselves: roles, scopes and the active flag are read on every request;
sign-out and a password change revoke tokens; channel keys act for their own channel only."""

from __future__ import annotations

import uuid

import httpx
import jwt

from tests.conftest import fast_flow, order_payload
from tests.integration.test_fulfilment_tasks import picking_flow

PASSWORD = "a long enough password"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _add(stack, roles: list[str], **scopes) -> str:
    username = _name(roles[0])
    with stack.client("admin") as admin:
        response = admin.post("/api/users", json={"username": username, "password": PASSWORD, "roles": roles, **scopes})
    assert response.status_code == 201, response.text
    return username


def _token(stack, username: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/api/auth/token", data={"username": username, "password": password})


def _as(stack, token: str) -> httpx.Client:
    return httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _change(stack, username: str, **change) -> httpx.Response:
    with stack.client("admin") as admin:
        return admin.patch(f"/api/users/{username}", json=change)


def test_a_token_names_its_user_and_expires(stack):
    username = _add(stack, ["operator", "approver"], warehouses=["BER"])
    answer = _token(stack, username).json()
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert claims["sub"] == username and "exp" in claims and "iat" in claims
    assert (answer["role"], answer["roles"]) == ("operator", ["operator", "approver"])
    with _as(stack, answer["access_token"]) as client:
        me = client.get("/api/auth/me").json()
    assert (me["roles"], me["channels"], me["warehouses"]) == (["operator", "approver"], [], ["BER"])


def test_a_disabled_users_token_is_refused_at_once_and_works_again_after_enabling_and_signing_in(stack):
    username = _add(stack, ["operator"])
    token = _token(stack, username).json()["access_token"]
    with _as(stack, token) as client:
        assert client.get("/api/orders").status_code == 200
        assert _change(stack, username, active=False).json()["active"] is False
        refused = client.get("/api/orders")
    assert refused.status_code == 401
    assert _token(stack, username).status_code == 401
    _change(stack, username, active=True)
    with _as(stack, _token(stack, username).json()["access_token"]) as client:
        assert client.get("/api/orders").status_code == 200


def test_roles_changed_take_effect_on_the_next_request(stack):
    username = _add(stack, ["analyst"])
    token = _token(stack, username).json()["access_token"]
    with _as(stack, token) as client:
        assert client.put("/api/inventory/BER/MUG-LOGO", json={"on_hand": 500}).status_code == 403
        _change(stack, username, roles=["operator"])
        assert client.put("/api/inventory/BER/MUG-LOGO", json={"on_hand": 500}).status_code == 200
        _change(stack, username, roles=["analyst"])
        refused = client.put("/api/inventory/BER/MUG-LOGO", json={"on_hand": 500})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "role 'analyst' may not do this; needs operator"


def test_sign_out_revokes_the_token(stack):
    username = _add(stack, ["operator"])
    token = _token(stack, username).json()["access_token"]
    with _as(stack, token) as client:
        assert client.post("/api/auth/logout").status_code == 204
        assert client.get("/api/orders").status_code == 401


def test_a_password_change_revokes_every_token_and_the_old_password(stack):
    username = _add(stack, ["operator"])
    first, second = (_token(stack, username).json()["access_token"] for _ in range(2))
    with _as(stack, first) as client:
        wrong = client.post("/api/auth/password", json={"current_password": "nope", "new_password": "x" * 12})
        assert wrong.status_code == 403
        weak = client.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"})
        assert weak.status_code == 422
        assert weak.json()["detail"] == "the password needs at least 10 characters"
        changed = client.post("/api/auth/password", json={"current_password": PASSWORD, "new_password": "y" * 12})
        assert changed.status_code == 204
        assert client.get("/api/orders").status_code == 401
    with _as(stack, second) as client:
        assert client.get("/api/orders").status_code == 401
    assert _token(stack, username).status_code == 401
    assert _token(stack, username, "y" * 12).status_code == 200


def test_only_admins_manage_people(stack):
    with stack.client("operator") as client:
        assert client.get("/api/users").status_code == 403
        assert (
            client.post("/api/users", json={"username": "eve", "password": PASSWORD, "roles": ["admin"]}).status_code
            == 403
        )
        assert client.post("/api/channel-keys", json={"channel": "web"}).status_code == 403


def _picking_order(stack, flow: str, **overrides) -> tuple[str, dict, str]:
    order_id = stack.submit(order_payload(**overrides), flow=flow).json()["id"]
    task = stack.open_task(order_id)
    warehouses = {a["warehouse"] for a in stack.order(order_id)["allocations"]}
    assert len(warehouses) == 1, warehouses
    return order_id, task, warehouses.pop()


US = {"street": "1 Main St", "city": "Newark", "postal_code": "07102", "country": "US", "region": "NJ"}


def test_an_operator_limited_to_a_warehouse_sees_and_acts_on_its_orders_tasks_and_stock_only(stack):
    flow = "order_picked_by_scoped_operators"
    stack.publish(picking_flow(flow))
    here_order, here_task, here = _picking_order(stack, flow)
    there_order, there_task, there = _picking_order(stack, flow, shipping_address=US)
    assert here != there
    username = _add(stack, ["operator"], warehouses=[here])
    with _as(stack, _token(stack, username).json()["access_token"]) as client:
        orders = {o["id"] for o in client.get("/api/orders", params={"limit": 500}).json()["orders"]}
        assert here_order in orders and there_order not in orders
        tasks = {t["id"] for t in client.get("/api/tasks", params={"limit": 500}).json()["tasks"]}
        assert here_task["id"] in tasks and there_task["id"] not in tasks
        assert client.get(f"/api/orders/{there_order}").status_code == 404
        assert client.get(f"/api/tasks/{there_task['id']}").status_code == 404
        refused = client.post(f"/api/tasks/{there_task['id']}/decision", json={"decision": "done", "scans": []})
        assert (refused.status_code, refused.json()["detail"]) == (404, f"no task {there_task['id']!r}")
        assert client.post(f"/api/tasks/{there_task['id']}/claim").status_code == 404
        assert client.post(f"/api/orders/{there_order}/cancel").status_code == 404
        assert client.get(f"/api/orders/{here_order}").status_code == 200
        assert client.post(f"/api/tasks/{here_task['id']}/claim").status_code == 200
        stock = client.get("/api/inventory").json()["stock"]
        assert stock and {row["warehouse"] for row in stock} == {here}
        adjust = client.put(f"/api/inventory/{there}/MUG-LOGO", json={"on_hand": 100})
        assert adjust.status_code == 403
        assert adjust.json()["detail"] == f"{username} may change stock of {here} only, not {there}"
        move = client.post(
            "/api/inventory/transfers",
            json={"from_warehouse": here, "to_warehouse": there, "sku": "MUG-LOGO", "qty": 1},
        )
        assert move.status_code == 403
        assert (
            client.post("/api/inventory/receipts", json={"warehouse": here, "sku": "MUG-LOGO", "qty": 1}).status_code
            == 201
        )
    with stack.client("operator") as unscoped:
        assert unscoped.get(f"/api/orders/{there_order}").status_code == 200


def test_a_user_limited_to_a_channel_sees_that_channels_orders_only(stack):
    web = stack.submit(order_payload()).json()["id"]
    phone = stack.submit(order_payload(channel="phone")).json()["id"]
    username = _add(stack, ["channel"], channels=["phone"])
    with _as(stack, _token(stack, username).json()["access_token"]) as client:
        seen = {o["id"] for o in client.get("/api/orders", params={"limit": 500}).json()["orders"]}
        assert phone in seen and web not in seen
        assert client.get(f"/api/orders/{web}").status_code == 404
        refused = client.post("/api/orders", json=order_payload())
    assert refused.status_code == 403
    assert refused.json()["detail"] == f"{username} acts for channel phone only, not 'web'"


def test_four_eyes_between_two_operators(stack):
    flow = "order_four_eyes_" + uuid.uuid4().hex[:6]
    stack.publish(fast_flow(flow, review_due="10m", escalation_due="10m"))
    # 11,691 to a new address: above the shipped flow's four-eyes limit.
    order_id = stack.submit(order_payload(lines=[{"sku": "LAPTOP-14", "qty": 9, "price": 1299.0}]), flow=flow).json()[
        "id"
    ]
    task = stack.open_task(order_id)
    assert task["needs_approvals"] == 2
    first, second = _add(stack, ["operator"]), _add(stack, ["operator"])
    with _as(stack, _token(stack, first).json()["access_token"]) as client:
        once = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve"})
        assert once.status_code == 200, once.text
        stack.wait_for(order_id, lambda o: o["tasks"][0]["approvals"] == [first])
        again = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve"})
        assert again.status_code == 409
        assert again.json()["detail"] == f"{first} approved already; four-eyes needs a second person"
    with _as(stack, _token(stack, second).json()["access_token"]) as client:
        twice = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "approve"})
        assert twice.status_code == 200, twice.text
    order = stack.wait_for(order_id, lambda o: o["tasks"][0]["status"] == "decided")
    assert [(d["user"], d["role"], d["final"]) for d in order["decisions"]] == [
        (first, "operator", False),
        (second, "operator", True),
    ]


def test_an_event_records_who_sent_it(stack):
    order_id = stack.submit(order_payload(payment={"method": "invoice", "status": "pending"})).json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    username = _add(stack, ["operator"])
    with _as(stack, _token(stack, username).json()["access_token"]) as client:
        sent = client.post(
            f"/api/orders/{order_id}/events", json={"type": "payment_received", "data": {"by": "someone else"}}
        )
    assert sent.status_code == 202
    order = stack.wait_for(order_id, lambda o: any(e["type"] == "event" for e in o["timeline"]))
    event = next(e for e in order["timeline"] if e["type"] == "event")
    assert event["data"]["data"]["by"] == username
