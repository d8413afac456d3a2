"""Stock sync to channels against a local server shaped like WooCommerce's REST API, on SQLite and PostgreSQL.

The server follows WooCommerce's documented "Batch update products"
(https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-products; source
github.com/woocommerce/woocommerce-rest-api-docs, wp-api-v3/_products.md): ``POST
/wp-json/wc/v3/products/batch`` with ``{"update": [{"id": 799, "stock_quantity": 12, ...}]}``,
HTTP Basic with the consumer key and secret in ``Authorization``; it answers 200 with
``{"update": [<each product as updated>]}``, a product it does not know as
``{"id": 0, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
"data": {"status": 400}}}`` in that list. A test makes it answer 503, 429 (``Retry-After: 1``) or
400 first. The channel is the shipped WooCommerce definition with its ``stock_sync`` section
pointed at the server and enabled.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from markupsafe import escape
from temporalio.client import Client, WorkflowExecutionStatus

from tests.conftest import ROOT, order_payload
from tests.http_fakes import Answer, FakeServer
from tests.integration.test_stock import new_sku
from web.deps import SESSION_COOKIE

SECRET_ENV = "OMS_CHANNEL_SECRET_STOCK_SYNC_TEST"
# Set before the stacks start (at collection): the worker reads the credential from its environment.
CREDENTIAL = os.environ.setdefault(SECRET_ENV, "Y2tfc3luYzpjc19zeW5j")  # base64("ck_sync:cs_sync")
PATH = "/wp-json/wc/v3/products/batch"
DEBOUNCE = "3s"


class WooProducts(FakeServer):
    """An in-memory WooCommerce product list taking batch updates; ``faults``: (status, headers) given first."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.products: dict[int, dict[str, Any]] = {}
        self.faults: list[tuple[int, dict[str, str]]] = []
        super().__init__(host)
        self.url = f"{self.base_url}{PATH}"

    def refuse(self, request: dict[str, Any]) -> Answer | None:
        if request["path"] != PATH:
            return 404, {}, {"code": "error", "message": "not now"}
        if request["headers"].get("authorization") != f"Basic {CREDENTIAL}":
            return 401, {}, {"code": "error", "message": "not now"}
        return None

    def scripted(self, request: dict[str, Any]) -> Answer | None:
        if not self.faults:
            return None
        status, headers = self.faults.pop(0)
        return status, headers, {"code": "error", "message": "not now"}

    def route(self, request: dict[str, Any]) -> Answer:
        return 200, {}, {"update": [self.update(item) for item in (request["body"] or {}).get("update", [])]}

    def update(self, item: dict[str, Any]) -> dict[str, Any]:
        product = self.products.get(item.get("id"))
        if product is None:
            error = {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 400}}
            return {"id": 0, "error": error}
        product.update({k: v for k, v in item.items() if k != "id"})
        return dict(product)


@pytest.fixture(scope="module")
def shop() -> Iterator[WooProducts]:
    server = WooProducts()
    yield server
    server.close()


def sync_channel(name: str, url: str, skus: dict[str, dict[str, Any]], safety_stock: int = 2) -> str:
    """The shipped WooCommerce channel under another name, its stock sync enabled and pointed at ``url``."""
    text = (ROOT / "definitions" / "channels" / "woocommerce.yaml").read_text(encoding="utf-8")
    listed = "".join(f"    {sku}: {json.dumps(listing)}\n" for sku, listing in skus.items())
    replacements = {
        "name: woocommerce\n": f"name: {name}\n",
        "channel: woocommerce\n": f"channel: {name}\n",
        "  enabled: false\n": "",
        "url: https://shop.example/wp-json/wc/v3/products/batch": f"url: {url}",
        "secret_env: OMS_CHANNEL_SECRET_WOOCOMMERCE_API": f"secret_env: {SECRET_ENV}",
        "debounce: 30s": f"debounce: {DEBOUNCE}",
        "safety_stock: 2\n": f"safety_stock: {safety_stock}\n",
        "    MUG-LOGO: {id: 5}\n    TSHIRT-BLK-M: {id: 22, safety_stock: 5}\n": listed,
    }
    for old, new in replacements.items():
        assert old in text, f"the shipped WooCommerce channel no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def without_stock_sync(text: str) -> str:
    """The channel of ``sync_channel`` without its stock sync section (and its comment)."""
    return text.split("# Stock sync: what the shop may sell")[0] + "tests:" + text.split("\ntests:", 1)[1]


def synced(stack, *skus: str) -> dict[str, dict[str, Any]]:
    with stack.client("operator") as client:
        response = client.get("/api/inventory/sync", params={"sku": list(skus)})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def wait_synced(stack, channel: str, sku: str, holds: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict:
    """Poll the stock sync state until ``holds(state of sku for channel)``; fail with the last state."""
    deadline = time.monotonic() + timeout
    while True:
        state = synced(stack, sku).get(sku, {}).get(channel)
        if state is not None and holds(state):
            return state
        assert time.monotonic() < deadline, f"{sku} for {channel}: {state}"
        time.sleep(0.2)


def pushed(qty: int) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s["pushed_qty"] == qty and s["error"] is None and s["waiting_since"] is None


def stock_change(stack, path: str, body: dict[str, Any], method: str = "post") -> None:
    with stack.client("operator") as client:
        response = client.request(method.upper(), path, json=body)
    assert response.status_code in (200, 201), response.text


def page(stack, path: str) -> str:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        client.cookies.set(SESSION_COOKIE, stack.token("operator"))
        response = client.get(path)
    assert response.status_code == 200, response.text
    return response.text


async def _workflow_status(stack, workflow_id: str) -> WorkflowExecutionStatus | None:
    client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
    return (await client.get_workflow_handle(workflow_id).describe()).status


def wait_workflow_ends(stack, workflow_id: str) -> None:
    deadline = time.monotonic() + 60
    while asyncio.run(_workflow_status(stack, workflow_id)) != WorkflowExecutionStatus.COMPLETED:
        assert time.monotonic() < deadline, f"{workflow_id} still runs"
        time.sleep(0.3)


def test_changes_are_pushed_batched_debounced_retried_and_failures_show_on_the_stock_page(stack, shop):
    name = "sync_" + uuid.uuid4().hex[:8]
    mug, shirt = new_sku(stack, {"BER": 10}), new_sku(stack, {"BER": 4, "LYS": 3})
    mug_id, shirt_id = 9000 + uuid.uuid4().int % 1000, 8000 + uuid.uuid4().int % 1000
    shop.products.update({mug_id: {"id": mug_id}, shirt_id: {"id": shirt_id}})
    start = len(shop.taken())
    # Safety stock: the channel's 2 for the mug, the shirt's own 5.
    text = sync_channel(name, shop.url, {mug: {"id": mug_id}, shirt: {"id": shirt_id, "safety_stock": 5}})
    stack.publish(text)

    # Publishing starts the channel's workflow; its first push tells the platform every listed SKU.
    wait_synced(stack, name, mug, pushed(8))  # 10 - 2
    wait_synced(stack, name, shirt, pushed(2))  # 4 + 3 - 5
    first = shop.taken(start)
    assert len(first) == 1 and first[0]["headers"]["authorization"] == f"Basic {CREDENTIAL}", first
    assert sorted(first[0]["body"]["update"], key=lambda i: i["id"]) == sorted(
        [
            {"id": mug_id, "manage_stock": True, "stock_quantity": 8},
            {"id": shirt_id, "manage_stock": True, "stock_quantity": 2},
        ],
        key=lambda i: i["id"],
    )

    # Several changes of both SKUs within the debounce: one batch with the last values. The platform
    # answers 503, then 429 (Retry-After: 1): both are retried and the same batch gets through.
    before = len(shop.taken())
    shop.faults = [(503, {}), (429, {"Retry-After": "1"})]
    stock_change(stack, "/api/inventory/receipts", {"warehouse": "BER", "sku": mug, "qty": 5})  # 15
    stock_change(stack, "/api/inventory/adjustments", {"warehouse": "BER", "sku": mug, "qty": -3, "reason": "broken"})
    stock_change(stack, f"/api/inventory/channels/phone/BER/{mug}", {"qty": 4}, "put")  # kept for another channel
    stock_change(stack, "/api/inventory/receipts", {"warehouse": "LYS", "sku": shirt, "qty": 6})  # 13
    stock_change(
        stack, "/api/inventory/transfers", {"from_warehouse": "LYS", "to_warehouse": "NJ1", "sku": shirt, "qty": 1}
    )
    wait_synced(stack, name, mug, pushed(6))  # 12 - 4 kept for phone - 2
    wait_synced(stack, name, shirt, pushed(8))  # 13 - 5
    batch = shop.taken(before)
    assert [r["status"] for r in batch] == [503, 429, 200], batch
    last = sorted(batch[0]["body"]["update"], key=lambda i: i["id"])
    assert all(sorted(r["body"]["update"], key=lambda i: i["id"]) == last for r in batch)
    assert {i["id"]: i["stock_quantity"] for i in last} == {mug_id: 6, shirt_id: 8}
    assert shop.products[mug_id]["stock_quantity"] == 6

    # Orders of another channel: an unpaid one reserves 2 mugs and is cancelled (released), a paid one
    # reserves 2 and ships them; each change is pushed.
    before = len(shop.taken())
    lines = [{"sku": mug, "qty": 2, "price": 9.5}]
    unpaid = stack.submit(order_payload(lines=lines, payment={"method": "card", "status": "pending"})).json()["id"]
    stack.wait_status(unpaid, "awaiting_payment")
    wait_synced(stack, name, mug, pushed(4))  # 12 - 2 reserved - 4 kept for phone - 2
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{unpaid}/cancel", json={"reason": "changed my mind"}).status_code == 202
    stack.wait_status(unpaid, "cancelled")
    wait_synced(stack, name, mug, pushed(6))  # released
    paid = stack.submit(order_payload(lines=lines)).json()["id"]
    stack.wait_status(paid, "shipped")
    wait_synced(stack, name, mug, pushed(4))  # 10 on hand after the shipment - 4 - 2
    assert all({i["id"] for i in r["body"]["update"]} == {mug_id} for r in shop.taken(before))

    # The platform refuses (400): the failure is stored and shown on the stock page; the mark is cleared.
    shop.faults = [(400, {})]
    stock_change(stack, "/api/inventory/receipts", {"warehouse": "BER", "sku": shirt, "qty": 1})  # 14 - 5
    failed = wait_synced(stack, name, shirt, lambda s: s["error"] is not None and s["waiting_since"] is None)
    assert (failed["error"], failed["attempted_qty"], failed["pushed_qty"], failed["failures"]) == (
        "the platform answered 400",
        9,
        8,
        1,
    )
    overview = page(stack, "/stock")
    row = re.search(rf'<tr data-sku="{shirt}">.*?</tr>', overview, re.S)
    assert row is not None
    cell = re.search(rf'<div data-channel="{name}">(.*?)</div>', row.group(0), re.S)
    assert cell is not None and "8" in cell.group(1)
    assert str(escape("9 not taken: the platform answered 400")) in cell.group(1), cell.group(1)
    assert re.search(rf'<li data-channel="{name}">.*?1 SKU failing', overview, re.S)
    detail = page(stack, f"/stock/{shirt}")
    assert str(escape("9 not taken: the platform answered 400")) in detail

    # Once the platform is fixed, an operator pushes every SKU again; the request names who asked.
    with stack.client("operator") as client:
        again = client.post(f"/api/inventory/sync/{name}")
    assert again.status_code == 202, again.text
    assert again.json()["skus"] == 2
    wait_synced(stack, name, shirt, pushed(9))
    with stack.client("analyst") as client:
        channels = client.get("/api/inventory/sync", params={"sku": shirt}).json()["channels"]
    mine = next(c for c in channels if c["channel"] == name)
    assert (mine["resync_by"], mine["failing"], mine["safety_stock"]) == ("operator", 0, 2)

    # A version without the section ends the channel's workflow.
    stack.publish(without_stock_sync(text))
    wait_workflow_ends(stack, f"stock-sync-{name}")


def test_a_stock_sync_to_an_internal_address_is_refused_and_shown(stack):
    """Outbound address rules: 127.0.0.2 is loopback and not on this stack's allowlist (127.0.0.1, localhost)."""
    inside = WooProducts("127.0.0.2")
    try:
        name = "sync_" + uuid.uuid4().hex[:8]
        mug = new_sku(stack, {"BER": 3})
        text = sync_channel(name, inside.url, {mug: {"id": 1}}, safety_stock=0)
        stack.publish(text)
        failed = wait_synced(stack, name, mug, lambda s: s["error"] is not None)
        assert "is an internal address; name it in OMS_OUTBOUND_ALLOWLIST to allow it" in failed["error"], failed
        assert (failed["attempted_qty"], failed["pushed_qty"]) == (3, None)
        assert inside.taken() == []  # nothing was sent
        stack.publish(without_stock_sync(text))
        wait_workflow_ends(stack, f"stock-sync-{name}")
    finally:
        inside.close()
