"""A return waiting for its parcel survives a restart of the Temporal dev server (its SQLite file kept).

This test runs its own dev server, so that stopping it touches no other test.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from oms.temporal.dev_server import free_port, start_dev_server, wait_for_port
from tests.conftest import PASSWORD, Stack, _database, _seed
from tests.integration.test_returns import (
    decide,
    delivered_order,
    post_return,
    return_event,
    wait_return,
)


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


@pytest.fixture(params=["sqlite", "postgresql"])
def own_server_stack(request, tmp_path, mailbox, notify_hooks):
    db_file, log_file, port = tmp_path / "temporal.db", tmp_path / "temporal.log", free_port()
    servers = [start_dev_server(db_file, port, ui_port=None, log_file=log_file)]
    url, drop = _database(request.param, tmp_path)
    web_port = free_port()
    env = {
        **os.environ,
        "OMS_DATABASE_URL": url,
        "OMS_DATA_DIR": str(tmp_path),
        "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "OMS_TASK_QUEUE": f"oms-restart-{uuid.uuid4().hex[:6]}",
        "OMS_WEB_HOST": "127.0.0.1",
        "OMS_WEB_PORT": str(web_port),
        "OMS_DEV_MODE": "true",
        "OMS_DEV_PASSWORD": PASSWORD,
        "OMS_LOG_LEVEL": "WARNING",
        "OMS_SMTP_HOST": "127.0.0.1",
        "OMS_SMTP_PORT": str(mailbox.port),
        "OMS_SMTP_FROM": "Shop <orders@shop.test>",
        "OMS_NOTIFY_WEBHOOK_URL": notify_hooks.url,
        "OMS_NOTIFY_WEBHOOK_SECRET": "notify-test-secret",
        "OMS_INTAKE_SWEEP_SECONDS": "1",
    }
    stack = Stack(request.param, f"http://127.0.0.1:{web_port}", env, tmp_path)
    stack.start("web")
    wait_for_port("127.0.0.1", web_port, timeout=60, process=stack.processes["web"])
    _seed(env)
    stack.start("worker")

    def restart_server(down: Callable[[], None] = lambda: None) -> None:
        """Stop the dev server, run ``down`` while it is away, start it again on the same file."""
        _stop(servers.pop())
        down()
        servers.append(start_dev_server(db_file, port, ui_port=None, log_file=log_file))

    yield stack, restart_server
    stack.stop()
    for server in servers:
        _stop(server)
    drop()


def _event_when_reachable(stack, return_id: str, type_: str, timeout: float = 60) -> None:
    """The web app's Temporal client reconnects by itself; until it has, the API answers 5xx."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if return_event(stack, return_id, type_).status_code == 202:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{type_} never reached return {return_id}"
        time.sleep(0.5)


def test_return_waiting_for_its_parcel_survives_a_temporal_server_restart(own_server_stack):
    stack, restart_server = own_server_stack
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}])
    return_id = post_return(
        stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}
    ).json()["id"]
    wait_return(stack, return_id, "awaiting_parcel")
    stack.kill("worker")

    def while_down() -> None:
        # A return asked for while Temporal is away: 503, and nothing is stored.
        response = post_return(
            stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}
        )
        assert response.status_code == 503, response.text
        with stack.client("operator") as client:
            assert client.get("/api/returns", params={"order_id": order["id"]}).json()["total"] == 1

    restart_server(while_down)
    stack.start("worker")
    _event_when_reachable(stack, return_id, "parcel_received")
    wait_return(stack, return_id, "inspecting")
    assert decide(stack, return_id, "inspected", qc=[{"line": 1, "result": "resellable"}]).status_code == 200
    done = wait_return(stack, return_id, "completed")
    assert done["refunded"] == 9.5 and len(done["stock_movements"]) == 1
    kinds = [e["type"] for e in done["timeline"]]
    assert (kinds.count("label_issued"), kinds.count("refunded")) == (1, 1)
