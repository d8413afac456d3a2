"""Status push-back: signed webhooks to the channel, retried by Temporal, failures on the timeline."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from oms.temporal.dev_server import free_port
from services.orders.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.conftest import order_payload, unique


class Receiver:
    """A channel's callback endpoint on loopback that records what it gets."""

    def __init__(self, status_code: int):
        self.status_code = status_code
        self.received: list[tuple[dict, bytes, dict]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append((dict(self.headers), body, json.loads(body)))
                self.send_response(receiver.status_code)
                self.end_headers()

            def log_message(self, *_):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def statuses(self, order_id: str) -> list[str]:
        return [
            payload["status"]
            for _, _, payload in sorted(self.received, key=lambda r: r[2]["seq"])
            if payload["order_id"] == order_id
        ]

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = []

    def make(status_code: int = 200) -> Receiver:
        made.append(Receiver(status_code))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _channel(stack, port: int, expiry: str) -> str:
    name = "hook_" + unique("c").lower().replace("-", "_")
    stack.publish(
        f"kind: channel\nname: {name}\ntype: web_shop\nflow: order\nsecret_env: OMS_CHANNEL_SECRET_HOOK\n"
        f"callback_url: http://127.0.0.1:{port}/hook\ncallback_expiry: {expiry}\n"
    )
    return name


def test_every_status_change_is_pushed_signed(stack, receiver):
    hook = receiver(200)
    channel = _channel(stack, hook.port, "1m")
    order_id = stack.submit(order_payload(channel=channel)).json()["id"]
    stack.wait_status(order_id, "shipped")
    with stack.client("channel") as client:
        client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"})
    stack.wait_status(order_id, "completed")
    deadline = time.monotonic() + 30
    expected = ["audited", "reserved", "shipped", "delivered", "completed"]
    # Pushes run beside the flow, each with its own retries: they may arrive in any order (seq orders them).
    while len(hook.statuses(order_id)) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hook.statuses(order_id) == expected
    for headers, body, payload in hook.received:
        assert headers[SIGNATURE_HEADER] == sign(f"dev-secret-{channel}", body, int(headers[TIMESTAMP_HEADER]))
        assert payload["channel"] == channel


def test_a_channel_that_keeps_failing_is_on_the_timeline_and_the_order_goes_on(stack, receiver):
    hook = receiver(503)
    channel = _channel(stack, hook.port, "5s")
    order_id = stack.submit(order_payload(channel=channel)).json()["id"]
    order = stack.wait_for(
        order_id,
        lambda o: any(
            e["type"] == "webhook_failed" and e["message"].startswith("status audited not delivered to the channel")
            for e in o["timeline"]
        ),
        timeout=60,
    )
    assert order["status"] != "received"
    assert len(hook.received) >= 2  # retried before giving up
    stack.wait_status(order_id, "shipped")


def test_pushes_go_to_the_channel_version_the_order_pinned(stack, receiver):
    """A new channel version with another callback URL, published while an order waits, serves the next order."""
    old, new = receiver(200), receiver(200)
    channel = _channel(stack, old.port, "1m")
    waiting = stack.submit(order_payload(channel=channel, payment={"method": "invoice", "status": "pending"}))
    order_id = waiting.json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    moved = stack.publish(
        f"kind: channel\nname: {channel}\ntype: web_shop\nflow: order\nsecret_env: OMS_CHANNEL_SECRET_HOOK\n"
        f"callback_url: http://127.0.0.1:{new.port}/hook\ncallback_expiry: 1m\n"
    )
    assert moved["version"] == 2, moved
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"}).status_code == 202
    stack.wait_status(order_id, "shipped")
    fresh_id = stack.submit(order_payload(channel=channel)).json()["id"]
    stack.wait_status(fresh_id, "shipped")

    deadline = time.monotonic() + 30
    while not ("shipped" in old.statuses(order_id) and "shipped" in new.statuses(fresh_id)):
        assert time.monotonic() < deadline, (old.statuses(order_id), new.statuses(fresh_id))
        time.sleep(0.1)
    assert old.statuses(order_id) == ["audited", "reserved", "awaiting_payment", "paid", "shipped"]
    assert new.statuses(order_id) == []
    assert old.statuses(fresh_id) == []
