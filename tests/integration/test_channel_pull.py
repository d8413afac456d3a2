"""Pull connectors against a local server shaped like WooCommerce's REST API.

The server follows WooCommerce's documented order list
(https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-orders, source
github.com/woocommerce/woocommerce-rest-api-docs, wp-api-v3/_orders.md and
"Pagination"): ``GET /wp-json/wc/v3/orders?modified_after=<ISO 8601>&orderby=modified&order=asc
&page=N&per_page=M`` answers a JSON list of orders (the same order objects its
webhooks carry) with ``X-WP-Total`` and ``X-WP-TotalPages`` headers, and
authenticates with HTTP Basic (the consumer key and secret) in ``Authorization``.
It answers one 503 and one 429 with ``Retry-After: 1``, both retried by the
activity's retry policy; one listed order does not fit the mapping and is
rejected naming the field while the rest are taken; the cursor (the greatest
``date_modified_gmt``) reaches the next run as ``modified_after``; an order
listed again (it was modified) finds the order it made.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from tests.http_fakes import Answer, FakeServer
from workflows.contracts import PullRun, PullSummary

ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = "OMS_CHANNEL_SECRET_PULL_TEST"
# Set before the stacks start (at collection): the worker reads the credential from its environment.
CREDENTIAL = os.environ.setdefault(SECRET_ENV, "Y2tfdGVzdDpjc190ZXN0")  # base64("ck_test:cs_test")


class WooShop(FakeServer):
    """An in-memory WooCommerce order list; ``faults`` maps a page number to the answers it gives first."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.faults: dict[int, list[tuple[int, dict[str, str]]]] = {}
        super().__init__()
        self.url = f"{self.base_url}/wp-json/wc/v3/orders"

    def refuse(self, request: dict[str, Any]) -> Answer | None:
        if request["path"] != "/wp-json/wc/v3/orders":
            return 404, {}, {"code": "error", "message": "try again"}
        if request["headers"].get("authorization") != f"Basic {CREDENTIAL}":
            return 401, {}, {"code": "error", "message": "try again"}
        return None

    def scripted(self, request: dict[str, Any]) -> Answer | None:
        fault = self.faults.get(int(request["query"].get("page", "1")), [])
        if not fault:
            return None
        status, headers = fault.pop(0)
        return status, headers, {"code": "error", "message": "try again"}

    def route(self, request: dict[str, Any]) -> Answer:
        query = request["query"]
        page, per_page = int(query.get("page", "1")), int(query.get("per_page", "10"))
        listed = self.listed(query)
        pages = max(1, -(-len(listed) // per_page))
        body = listed[(page - 1) * per_page : page * per_page]
        return 200, {"X-WP-Total": str(len(listed)), "X-WP-TotalPages": str(pages)}, body

    def listed(self, query: dict[str, str]) -> list[dict[str, Any]]:
        after = query.get("modified_after", "")
        return sorted((o for o in self.orders if o["date_modified_gmt"] > after), key=lambda o: o["date_modified_gmt"])


@pytest.fixture(scope="module")
def shop() -> Iterator[WooShop]:
    server = WooShop()
    yield server
    server.close()


def woo_order(order_id: int, modified: str, **overrides: Any) -> dict[str, Any]:
    """An order as WooCommerce's REST API lists it (the fields the shipped mapping reads)."""
    order = {
        "id": order_id,
        "status": "processing",
        "currency": "EUR",
        "date_modified_gmt": modified,
        "billing": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
        "shipping": {
            "first_name": "Ann",
            "last_name": "Lee",
            "address_1": f"Hauptstr. {order_id % 100000}",
            "address_2": "",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        },
        "payment_method": "bacs",
        "date_paid": modified,
        "line_items": [{"product_id": 5, "quantity": 1, "sku": "MUG-LOGO", "price": 9.5}],
        "shipping_lines": [{"method_id": "flat_rate", "total": "4.90"}],
    }
    order.update(overrides)
    return order


def pull_channel(name: str, url: str) -> str:
    """The shipped WooCommerce channel under another name, polling ``url`` as its REST API is polled."""
    text = (ROOT / "definitions" / "channels" / "woocommerce.yaml").read_text(encoding="utf-8")
    assert "name: woocommerce\n" in text
    text = text.replace("name: woocommerce\n", f"name: {name}\n", 1).replace(
        "channel: woocommerce\n", f"channel: {name}\n"
    )
    return text + (
        "# WooCommerce REST API v3, GET /wp-json/wc/v3/orders: HTTP Basic with the consumer key and secret,\n"
        "# pages by `page` up to X-WP-TotalPages, changes since the greatest date_modified_gmt seen.\n"
        "pull:\n"
        f"  url: {url}\n"
        "  interval: 1h\n"
        f"  auth: {{header: Authorization, prefix: 'Basic ', secret_env: {SECRET_ENV}}}\n"
        "  query: {per_page: 2, orderby: modified, order: asc}\n"
        "  cursor: {param: modified_after, item: date_modified_gmt, initial: '2024-01-01T00:00:00'}\n"
        "  paging: {page_param: page, total_pages_header: X-WP-TotalPages}\n"
        "  rate_limit: {per_second: 5}\n"
    )


async def _scheduled_run(stack, schedule_id: str) -> PullSummary:
    """The result of the run the schedule started (once the schedule lists it)."""
    client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
    handle = client.get_schedule_handle(schedule_id)
    deadline = time.monotonic() + 30
    while True:
        described = await handle.describe()
        if described.info.recent_actions:
            break
        assert time.monotonic() < deadline, f"schedule {schedule_id} started no run"
        await asyncio.sleep(0.2)
    workflow_id = described.info.recent_actions[-1].action.workflow_id
    return await client.get_workflow_handle(workflow_id, result_type=PullSummary).result()


async def _run_directly(stack, channel: str) -> PullSummary:
    """A run as the schedule starts it, without waiting for the interval."""
    client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
    return await client.execute_workflow(
        "ChannelPull",
        PullRun(channel=channel),
        id=f"channel-pull-{channel}-test-{uuid.uuid4().hex[:6]}",
        task_queue=stack.env["OMS_TASK_QUEUE"],
        result_type=PullSummary,
    )


async def _schedule_exists(stack, schedule_id: str) -> bool:
    client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
    try:
        await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND, exc
        return False
    return True


def _wait_schedule(stack, schedule_id: str, exists: bool) -> None:
    """Publishing syncs the schedule just after its answer: wait (bounded) until it does."""
    deadline = time.monotonic() + 30
    while asyncio.run(_schedule_exists(stack, schedule_id)) != exists:
        assert time.monotonic() < deadline, f"schedule {schedule_id} {'never made' if exists else 'still there'}"
        time.sleep(0.2)


async def _drop_schedule(stack, schedule_id: str) -> None:
    client = await Client.connect(stack.env["OMS_TEMPORAL_ADDRESS"])
    await client.get_schedule_handle(schedule_id).delete()


def test_a_pull_connector_pages_retries_rejects_and_carries_its_cursor(stack, shop):
    name = "pull_" + uuid.uuid4().hex[:8]
    base = uuid.uuid4().int % 10**9 * 10
    first, bad, third, fourth = base + 1, base + 2, base + 3, base + 4
    shop.orders = [
        woo_order(first, "2025-03-01T10:00:00"),
        woo_order(bad, "2025-03-01T10:05:00", billing={"first_name": "Bo"}),  # no last name
        woo_order(third, "2025-03-01T10:10:00"),
    ]
    shop.requests.clear()
    # The first try of page 1 meets a 503, the first try of page 2 a 429: both are retried.
    shop.faults = {1: [(503, {})], 2: [(429, {"Retry-After": "1"})]}
    text = pull_channel(name, shop.url)
    stack.publish(text)
    _wait_schedule(stack, f"channel-pull-{name}", exists=True)  # publishing the channel made its schedule

    with stack.client("analyst") as analyst:
        response = analyst.post(f"/api/channels/{name}/pull")
    assert response.status_code == 202, response.text
    schedule_id = response.json()["schedule_id"]
    try:
        summary = asyncio.run(_scheduled_run(stack, schedule_id))
        assert (summary.pages, summary.items, summary.created, summary.existing) == (2, 3, 2, 0)
        pages = [r["query"]["page"] for r in shop.requests]
        assert pages == ["1", "1", "2", "2"], pages  # each fault answered once, then retried
        assert shop.requests[0]["query"]["modified_after"] == "2024-01-01T00:00:00"
        assert shop.requests[0]["query"]["per_page"] == "2"
        assert [(r["external_id"], r["field"]) for r in summary.rejected] == [(str(bad), "customer.name")]
        assert "billing.last_name is missing" in summary.rejected[0]["message"]
        assert summary.cursor == "2025-03-01T10:10:00"

        with stack.client("operator") as operator:
            state = operator.get(f"/api/channels/{name}/pull").json()
            made = operator.get("/api/orders", params={"channel": name}).json()
        assert state["cursor"] == "2025-03-01T10:10:00" and state["runs"] == 1
        assert state["last_rejected"][0]["field"] == "customer.name"
        assert state["schedule_id"] == schedule_id and state["interval_seconds"] == 3600
        assert sorted(o["external_id"] for o in made["orders"]) == sorted([str(first), str(third)])

        # The next run starts from the cursor: the first order, modified since, comes again (the same
        # order, nothing new), and a new one is taken.
        shop.orders[0]["date_modified_gmt"] = "2025-03-02T08:00:00"
        shop.orders.append(woo_order(fourth, "2025-03-02T09:00:00"))
        shop.requests.clear()
        again = asyncio.run(_run_directly(stack, name))
        assert shop.requests[0]["query"]["modified_after"] == "2025-03-01T10:10:00"
        assert (again.pages, again.items, again.created, again.existing, again.rejected) == (1, 2, 1, 1, [])
        assert again.cursor == "2025-03-02T09:00:00"

        # A version without `pull:` removes the schedule.
        stack.publish(text.split("# WooCommerce REST API v3")[0])
        _wait_schedule(stack, schedule_id, exists=False)
        schedule_id = ""
    finally:
        if schedule_id:
            asyncio.run(_drop_schedule(stack, schedule_id))
