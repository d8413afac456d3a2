"""`oms up`: one command brings the stack up; Ctrl-C stops all of it; data and waiting orders survive."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from oms.temporal.dev_server import free_port
from tests.conftest import order_payload

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "oms.cli", "up"], cwd=ROOT, env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_healthy(base: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "oms up exited early"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("oms up did not become healthy")


def _ctrl_c(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends to the whole group
    process.wait(timeout=60)


def _order(base: str, token: str, order_id: str) -> dict:
    return httpx.get(f"{base}/api/orders/{order_id}", headers={"Authorization": f"Bearer {token}"}).json()


def _wait_status(base: str, token: str, order_id: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while (order := _order(base, token, order_id))["status"] != status:
        assert time.monotonic() < deadline, order
        time.sleep(0.2)
    return order


def test_up_stops_on_ctrl_c_and_resumes_waiting_orders(tmp_path):
    web, grpc, ui = free_port(), free_port(), free_port()
    env = {**os.environ, "OMS_DATA_DIR": str(tmp_path / "data"), "OMS_WEB_PORT": str(web),
           "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{grpc}", "OMS_TEMPORAL_UI_URL": f"http://127.0.0.1:{ui}",
           "OMS_DATABASE_URL": "", "OMS_TASK_QUEUE": "oms-up-test"}
    base, log = f"http://127.0.0.1:{web}", tmp_path / "up.log"

    first = _start(env, log)
    _wait_healthy(base, first)
    printed = log.read_text()
    for expected in (base, f"{base}/docs", f"http://127.0.0.1:{ui}", "admin, analyst, operator, channel",
                     "published: ", "seeded demo"):
        assert expected in printed, printed
    signed_in = httpx.post(f"{base}/api/auth/token", data={"username": "channel", "password": "oms-dev"})
    token = signed_in.json()["access_token"]
    unpaid = order_payload(payment={"method": "invoice", "status": "pending"})
    order_id = httpx.post(f"{base}/api/orders", json=unpaid, headers={"Authorization": f"Bearer {token}"}).json()["id"]
    _wait_status(base, token, order_id, "awaiting_payment")

    _ctrl_c(first)
    assert first.returncode == 0, log.read_text()[-2000:]
    assert not any(_listening(p) for p in (web, grpc, ui)), "a process outlived Ctrl-C"

    second = _start(env, log)
    try:
        _wait_healthy(base, second)
        assert "published: " not in log.read_text()[len(printed):]  # definitions kept, not republished
        assert _order(base, token, order_id)["status"] == "awaiting_payment"
        response = httpx.post(f"{base}/api/orders/{order_id}/events", json={"type": "payment_received"},
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 202
        _wait_status(base, token, order_id, "shipped")
    finally:
        _ctrl_c(second)
    assert not any(_listening(p) for p in (web, grpc, ui))
