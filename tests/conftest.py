"""One Temporal dev server per test session; a worker and web app per database.

The `stack` fixture is parametrized over SQLite and PostgreSQL: every test that
uses it runs against both, through a real HTTP client, a real worker process
and a real Temporal dev server.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from oms.temporal.dev_server import free_port
from oms.temporal.stack import EmbeddedStack, prepare_dev_data

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("OMS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "test-pass"


@pytest.fixture(scope="session")
def temporal_address(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("temporal")
    port = free_port()
    with EmbeddedStack(log_dir=folder, handle_signals=False) as server:
        server.start_temporal(folder / "temporal.db", port)
        yield f"127.0.0.1:{port}"


@dataclass
class Stack:
    """A running worker + web app on one database; helpers for tests."""

    name: str
    base_url: str
    env: dict[str, str]
    log_dir: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Each process in its own group, output in <log_dir>/<command>.log; pytest keeps its signal handling.
        self.embedded = EmbeddedStack(self.env, log_dir=self.log_dir, cwd=ROOT, handle_signals=False)

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return {name: child.process for name, child in self.embedded.children.items()}

    def start(self, command: str) -> None:
        self.embedded.start(command)

    def kill(self, command: str) -> None:
        self.embedded.kill(command)

    def stop(self) -> None:
        self.embedded.stop_all()

    def token(self, role: str) -> str:
        if role not in self._tokens:
            response = httpx.post(f"{self.base_url}/api/auth/token", data={"username": role, "password": PASSWORD})
            response.raise_for_status()
            self._tokens[role] = response.json()["access_token"]
        return self._tokens[role]

    def client(self, role: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(role)}"} if role else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    def order(self, order_id: str) -> dict[str, Any]:
        with self.client("operator") as client:
            response = client.get(f"/api/orders/{order_id}")
            response.raise_for_status()
            return response.json()

    def wait_for(self, order_id: str, predicate: Callable[[dict], bool], timeout: float = 30) -> dict:
        """Poll the read model until ``predicate(order)`` holds; fail with the last state."""
        deadline = time.monotonic() + timeout
        order = self.order(order_id)
        while not predicate(order):
            if time.monotonic() > deadline:
                timeline = [(e["type"], e["message"]) for e in order["timeline"]]
                raise AssertionError(f"order {order_id} stuck in {order['status']!r}: {timeline}")
            time.sleep(0.1)
            order = self.order(order_id)
        return order

    def wait_status(self, order_id: str, status: str, timeout: float = 30) -> dict:
        return self.wait_for(order_id, lambda o: o["status"] == status, timeout)

    def publish(self, text: str) -> dict:
        with self.client("analyst") as client:
            response = client.post("/api/definitions", json={"text": text})
            assert response.status_code in (200, 201), response.text
            return response.json()

    def submit(self, payload: dict, flow: str | None = None, role: str = "channel") -> httpx.Response:
        with self.client(role) as client:
            return client.post("/api/orders", json=payload, params={"flow": flow} if flow else None)

    def open_task(self, order_id: str, timeout: float = 30) -> dict:
        order = self.wait_for(order_id, lambda o: any(t["status"] == "open" for t in o["tasks"]), timeout)
        return next(t for t in order["tasks"] if t["status"] == "open")


def _database(kind: str, tmp: Path) -> tuple[str, Callable[[], None]]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'oms.db'}", lambda: None
    name = f"oms_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", drop


@pytest.fixture(scope="session")
def mailbox():
    """A real SMTP server every stack sends customer e-mail to; yields its Mailbox."""
    from tests.mail import start_smtp

    controller, box, _ = start_smtp()
    yield box
    controller.stop()


@pytest.fixture(scope="session")
def notify_hooks():
    """The receiver of every stack's signed notification webhooks."""
    from tests.mail import HookReceiver

    receiver = HookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def stack(request, temporal_address, tmp_path_factory, mailbox, notify_hooks) -> Stack:
    kind = request.param
    folder = tmp_path_factory.mktemp(f"stack-{kind}")
    url, drop = _database(kind, folder)
    port = free_port()
    env = {
        **os.environ,
        "OMS_DATABASE_URL": url,
        "OMS_DATA_DIR": str(folder),
        "OMS_TEMPORAL_ADDRESS": temporal_address,
        "OMS_TASK_QUEUE": f"oms-test-{kind}-{uuid.uuid4().hex[:6]}",
        "OMS_WEB_HOST": "127.0.0.1",
        "OMS_WEB_PORT": str(port),
        "OMS_DEV_MODE": "true",
        "OMS_DEV_PASSWORD": PASSWORD,
        "OMS_LOG_LEVEL": "WARNING",
        "OMS_SMTP_HOST": "127.0.0.1",
        "OMS_SMTP_PORT": str(mailbox.port),
        "OMS_SMTP_FROM": "Shop <orders@shop.test>",
        "OMS_NOTIFY_WEBHOOK_URL": notify_hooks.url,
        "OMS_NOTIFY_WEBHOOK_SECRET": "notify-test-secret",
        "OMS_INTAKE_SWEEP_SECONDS": "1",
        # Outbound webhooks refuse internal addresses; the suite's own receivers listen on loopback.
        "OMS_OUTBOUND_ALLOWLIST": "127.0.0.1,localhost",
    }
    stack = Stack(kind, f"http://127.0.0.1:{port}", env, folder)
    # The web app prepares the database (tables, users, shipped definitions)
    # before the worker starts using it.
    stack.embedded.start_app("127.0.0.1", port, seed=True)
    yield stack
    stack.stop()
    drop()


def _seed(env: dict[str, str]) -> None:
    """As `oms up` does: dev users (with OMS_DEV_PASSWORD) and demo warehouses, SKUs, stock and customers."""
    prepare_dev_data(env, cwd=ROOT)


def unique(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def order_payload(**overrides: Any) -> dict[str, Any]:
    """An ordinary, prepaid web order that the shipped rules approve."""
    payload = {
        "channel": "web",
        "external_id": unique(),
        "customer": {"name": "Ann Example", "email": "ann@example.com"},
        "shipping_address": {
            "street": f"Hauptstr. {uuid.uuid4().int % 10**9}",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}],
        "payment": {"method": "card", "status": "paid"},
        # A fresh address and IP per order keep the address and velocity rules out of tests that do not test them.
        "client_ip": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}",
    }
    payload.update(overrides)
    return payload


def fast_flow(
    name: str,
    payment_timeout: str = "2s",
    review_due: str = "1s",
    escalation_due: str = "1s",
    delivery_timeout: str = "30d",
) -> str:
    """The shipped order flow under another name, with test-sized waits."""
    text = (ROOT / "definitions" / "flows" / "order.yaml").read_text(encoding="utf-8")
    replacements = {
        "name: order\n": f"name: {name}\n",
        "timeout: 3d": f"timeout: {payment_timeout}",
        "due: 4h": f"due: {review_due}",
        "escalation: {role: admin, due: 20h}": f"escalation: {{role: admin, due: {escalation_due}}}",
        "timeout: 30d": f"timeout: {delivery_timeout}",
    }
    for old, new in replacements.items():
        assert old in text, f"shipped flow no longer contains {old!r}"
        text = text.replace(old, new)
    return text
