"""Order intake: idempotent, and every bad input refused with the field named."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import order_payload


def test_same_order_posted_concurrently_makes_one_order_and_one_workflow(stack):
    payload = order_payload()
    token = stack.token("channel")

    def post(_):
        return httpx.post(
            f"{stack.base_url}/api/orders", json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(post, range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 19 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    order = stack.wait_for(ids.pop(), lambda o: o["status"] == "shipped" and len(o["timeline"]) >= 5)
    # One workflow: the timeline is written by it once, step by step (notifications: confirmed, shipped).
    assert [e["type"] for e in order["timeline"]] == [
        "audited",
        "stock_reserved",
        "notification",
        "shipped",
        "notification",
    ]
    assert [a["state"] for a in order["allocations"]] == ["reserve", "ship"]
    with stack.client("operator") as client:
        listed = client.get("/api/orders", params={"channel": "web", "limit": 500}).json()["orders"]
    assert [o["external_id"] for o in listed].count(payload["external_id"]) == 1


def test_retried_order_returns_the_existing_one(stack):
    payload = order_payload()
    first = stack.submit(payload)
    second = stack.submit(payload)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def _errors(response: httpx.Response) -> list[tuple[str, str]]:
    return [(e["field"], e["message"]) for e in response.json()["errors"]]


def test_malformed_json_is_refused(stack):
    with stack.client("channel") as client:
        response = client.post(
            "/api/orders", content=b'{"channel": "web",', headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    ((field, message),) = _errors(response)
    assert field == ""
    assert message.startswith("malformed JSON")


def test_wrong_types_name_each_field(stack):
    payload = order_payload(
        lines=[{"sku": "MUG-LOGO", "qty": "two", "price": 9.5}, {"sku": "MUG-LOGO", "qty": 0, "price": -1}]
    )
    payload["customer"] = {"name": "", "email": "not-an-email"}
    response = stack.submit(payload)
    assert response.status_code == 422
    assert _errors(response) == [
        ("customer.name", "Customer name is required"),
        ("customer.email", "Email must be a valid email address"),
        ("lines[0].qty", "Line 1: quantity must be a whole number"),
        ("lines[1].qty", "Line 2: quantity must be at least 1"),
        ("lines[1].price", "Line 2: price must be at least 0"),
    ]


def test_missing_required_fields_are_named(stack):
    response = stack.submit({"channel": "web"})
    assert response.status_code == 422
    fields = [f for f, _ in _errors(response)]
    assert fields == ["external_id", "customer", "shipping_address", "lines"]


def test_unknown_sku_is_refused_and_nothing_is_stored(stack):
    payload = order_payload(
        lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 9.5}, {"sku": "NOPE-1", "qty": 1, "price": 1}]
    )
    response = stack.submit(payload)
    assert response.status_code == 422
    assert _errors(response) == [("lines[1].sku", "Line 2: unknown SKU 'NOPE-1'")]
    with stack.client("operator") as client:
        listed = client.get("/api/orders", params={"limit": 500}).json()["orders"]
    assert payload["external_id"] not in [o["external_id"] for o in listed]


def test_unknown_flow_is_refused(stack):
    response = stack.submit(order_payload(), flow="no_such_flow")
    assert response.status_code == 422
    assert _errors(response) == [("flow", "unknown flow 'no_such_flow'")]


def test_not_an_object_is_refused(stack):
    with stack.client("channel") as client:
        response = client.post("/api/orders", json=[1, 2])
    assert response.status_code == 422
    assert _errors(response) == [("", "The order must be a JSON object")]


def test_intake_needs_a_signed_in_channel(stack):
    anonymous = httpx.post(f"{stack.base_url}/api/orders", json=order_payload())
    assert anonymous.status_code == 401
    with stack.client("analyst") as client:
        response = client.post("/api/orders", json=order_payload())
    assert response.status_code == 403


def test_unknown_order_is_404(stack):
    with stack.client("operator") as client:
        assert client.get("/api/orders/ord_missing").status_code == 404
        assert client.post("/api/orders/ord_missing/events", json={"type": "delivered"}).status_code == 404
        bad_event = client.post("/api/orders/ord_missing/events", json={"type": "Not A Type"})
    assert bad_event.status_code == 422
    assert bad_event.json()["errors"][0]["field"] == "type"


def test_wrong_password_is_refused(stack):
    response = httpx.post(f"{stack.base_url}/api/auth/token", data={"username": "operator", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


def test_health(stack):
    assert httpx.get(f"{stack.base_url}/healthz").json() == {"status": "ok"}


def _store_without_workflow(stack, payload, hidden_from_sweep: bool = False) -> str:
    """What a crash between the insert and the workflow start leaves: the row, no workflow.

    ``hidden_from_sweep`` dates the row an hour ahead, so the sweep (which
    starts rows older than OMS_INTAKE_SWEEP_SECONDS) leaves it to the retry.
    """
    import json

    script = (
        "import json, sys\n"
        "from sqlmodel import Session\n"
        "from oms.db import get_read_engine, session_scope\n"
        "from services.orders.intake import prepare\n"
        "with Session(get_read_engine(), expire_on_commit=False) as s:\n"
        "    prepared = prepare(s, json.loads(sys.argv[1]), None)\n"
        "from datetime import datetime, timedelta, timezone\n"
        "if sys.argv[2] == 'hidden':\n"
        "    prepared.order.created_at = datetime.now(timezone.utc) + timedelta(hours=1)\n"
        "with session_scope() as s:\n"
        "    s.add(prepared.order)\n"
        "print(prepared.order.id)\n"
    )
    return _in_stack(stack, script, json.dumps(payload), "hidden" if hidden_from_sweep else "visible").strip()


def _in_stack(stack, script: str, *argv: str) -> str:
    """What ``script`` prints, run by Python with the stack's settings (database, Temporal)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    command = [sys.executable, "-c", script, *argv]
    return subprocess.run(command, cwd=ROOT, env=stack.env, check=True, capture_output=True, text=True).stdout


def test_an_order_whose_workflow_cannot_start_is_removed_with_its_search_keys(stack):
    """Without the web app's outbox (the importer's way), intake starts the workflow itself and removes
    the order again when Temporal refuses the start: nothing half-written, its search keys included."""
    import json

    script = (
        "import asyncio, json, sys\n"
        "from sqlmodel import Session, func, select\n"
        "from temporalio.client import Client\n"
        "from oms.db import get_read_engine\n"
        "from oms.models import Order, OrderKey\n"
        "from services.orders.intake import IntakeUnavailable, order_id_for, submit_order\n"
        "payload = json.loads(sys.argv[1])\n"
        "async def main():\n"
        "    client = await Client.connect(sys.argv[2], namespace='no-such-namespace')\n"
        "    try:\n"
        "        await submit_order(client, payload)\n"
        "    except IntakeUnavailable as exc:\n"
        "        print('refused:', str(exc).split(':')[0])\n"
        "asyncio.run(main())\n"
        "order_id = order_id_for(payload['channel'], payload['external_id'])\n"
        "with Session(get_read_engine()) as s:\n"
        "    print('orders', s.exec(select(func.count()).where(Order.id == order_id)).one())\n"
        "    print('keys', s.exec(select(func.count()).where(OrderKey.order_id == order_id)).one())\n"
    )
    payload = order_payload()
    out = _in_stack(stack, script, json.dumps(payload), stack.env["OMS_TEMPORAL_ADDRESS"]).splitlines()
    assert out == ["refused: the order could not be started", "orders 0", "keys 0"]
    assert stack.submit(payload).status_code == 201  # and the same order is taken afresh later


def test_an_order_stored_without_its_workflow_starts_on_the_retry(stack):
    payload = order_payload()
    stored = _store_without_workflow(stack, payload, hidden_from_sweep=True)
    assert stack.order(stored)["status"] == "received"

    retry = stack.submit(payload)
    assert (retry.status_code, retry.json()["id"]) == (200, stored)
    stack.wait_status(stored, "shipped")


def test_an_order_stored_without_its_workflow_is_started_by_the_sweep(stack):
    """No retry needed: intake's sweep (every OMS_INTAKE_SWEEP_SECONDS, 1 s here) starts it."""
    stored = _store_without_workflow(stack, order_payload())
    order = stack.wait_status(stored, "shipped", timeout=30)
    assert [e["type"] for e in order["timeline"]][:2] == ["audited", "stock_reserved"]


def test_a_stricter_form_does_not_reject_a_retried_order(stack):
    payload = order_payload()
    assert stack.submit(payload).status_code == 201
    stricter = dict(payload, customer={"name": "", "email": "not-an-email"})  # the retry body differs in detail
    assert stack.submit(stricter).status_code == 200
