"""`oms up`: one command brings the stack up; Ctrl-C stops all of it; data and waiting orders survive."""

from __future__ import annotations

import os
import signal
import time

import httpx

from tests.cli.conftest import OmsUp, listening
from tests.conftest import order_payload


def _ctrl_c(up: OmsUp) -> None:
    os.killpg(up.pid, signal.SIGINT)  # what a terminal sends to the whole group
    up.wait(timeout=60)


def _order(base: str, token: str, order_id: str) -> dict:
    return httpx.get(f"{base}/api/orders/{order_id}", headers={"Authorization": f"Bearer {token}"}).json()


def _wait_status(base: str, token: str, order_id: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (order := _order(base, token, order_id))["status"] != status:
        assert time.monotonic() < deadline, order
        time.sleep(0.2)
    return order


def test_up_stops_on_ctrl_c_and_resumes_waiting_orders(tmp_path):
    up = OmsUp(tmp_path)
    base, ui = up.base, up.ui_port

    first = up.start()
    first.wait_healthy()
    printed = up.output()
    for expected in (
        base,
        f"{base}/docs",
        f"http://127.0.0.1:{ui}",
        "admin, analyst, operator, channel",
        "published: ",
        "seeded demo",
    ):
        assert expected in printed, printed
    signed_in = httpx.post(f"{base}/api/auth/token", data={"username": "channel", "password": "oms-dev"})
    token = signed_in.json()["access_token"]
    unpaid = order_payload(payment={"method": "invoice", "status": "pending"})
    order_id = httpx.post(f"{base}/api/orders", json=unpaid, headers={"Authorization": f"Bearer {token}"}).json()["id"]
    _wait_status(base, token, order_id, "awaiting_payment")

    _ctrl_c(first)
    assert first.wait() == 0, up.output()[-2000:]
    assert not any(listening(p) for p in up.ports), "a process outlived Ctrl-C"

    second = up.start()
    try:
        second.wait_healthy()
        assert "published: " not in up.output()[len(printed) :]  # definitions kept, not republished
        assert _order(base, token, order_id)["status"] == "awaiting_payment"
        response = httpx.post(
            f"{base}/api/orders/{order_id}/events",
            json={"type": "payment_received"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 202
        _wait_status(base, token, order_id, "shipped")
    finally:
        _ctrl_c(second)
        up.clean_up()  # after a failure: nothing may outlive the test
    assert not any(listening(p) for p in up.ports)
