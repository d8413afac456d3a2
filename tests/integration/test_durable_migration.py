"""A durable migration (``oms migrate-orders --durable``: the FlowMigration workflow) on the real stack.

The worker is killed while the migration moves orders waiting for their payment: after the restart the
migration completes, every waiting order moved exactly once (one "moved" line, counted once), the held
one stays, and paid, each order reserves once and ships once on v2.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

from tests.conftest import fast_flow, order_payload
from tests.integration.test_migration import HELD, ROOT, UNPAID, _name, _pay, order_v2


def durable(stack, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "oms.cli", "migrate-orders", "--durable", *args],
        cwd=ROOT,
        env={**stack.env, "OMS_LOG_LEVEL": "WARNING"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _moved(stack, order_ids: list[str]) -> int:
    return sum(1 for order_id in order_ids if stack.order(order_id)["flow"]["version"] == 2)


def test_a_durable_migration_completes_after_its_worker_is_killed_and_moves_nobody_twice(stack):
    name = _name("dmig")
    stack.publish(fast_flow(name, payment_timeout="10m", review_due="10m", escalation_due="10m"))
    waiting = [stack.submit(order_payload(payment=UNPAID), flow=name).json()["id"] for _ in range(36)]
    held = stack.submit(order_payload(lines=HELD), flow=name).json()["id"]
    for order_id in waiting:
        stack.wait_status(order_id, "awaiting_payment")
    stack.wait_status(held, "on_hold")
    assert stack.publish(order_v2(name))["version"] == 2

    process = durable(
        stack, "--flow", name, "--from", "1", "--to", "2", "--by", "ana", "--batch-size", "2", "--concurrency", "1"
    )
    # the migration takes orders by id: once the fourth has moved, kill the worker in the middle
    fourth = sorted(waiting)[3]
    deadline = time.monotonic() + 60
    while stack.order(fourth)["flow"]["version"] != 2:
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    stack.kill("worker")
    assert _moved(stack, waiting) < len(waiting), "the migration finished before the worker was killed"
    time.sleep(1)
    stack.start("worker")
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert out.splitlines()[-1] == f"moved {len(waiting)}, already moved 0, stayed 1, failed 0", err
    assert f"order {held} stayed at manual_review: the new version has no step 'manual_review'" in err
    assert " completed" in err.splitlines()[-1]

    for order_id in waiting:
        order = stack.order(order_id)
        assert order["flow"]["version"] == 2
        assert [e["message"] for e in order["timeline"] if e["type"] == "moved"] == [
            "moved from v1 to v2 at step await_payment by ana"
        ]
    assert stack.order(held)["flow"]["version"] == 1
    for order_id in waiting:
        _pay(stack, order_id)
    for order_id in waiting:
        order = stack.wait_status(order_id, "shipped", timeout=90)
        assert "fraud_check" in [e.get("step") for e in order["timeline"]]
        kinds = Counter(e["type"] for e in order["timeline"])
        assert (kinds["stock_reserved"], kinds["shipped"], kinds["moved"]) == (1, 1, 1), order["timeline"]
        assert Counter(a["state"] for a in order["allocations"]) == {"reserve": 1, "ship": 1}
        assert len(order["shipments"]) == 1


def test_analysts_preview_start_pause_resume_and_follow_a_migration_over_http(stack):
    name = _name("hmig")
    stack.publish(fast_flow(name, payment_timeout="10m", review_due="10m", escalation_due="10m"))
    waiting = [stack.submit(order_payload(payment=UNPAID), flow=name).json()["id"] for _ in range(6)]
    for order_id in waiting:
        stack.wait_status(order_id, "awaiting_payment")
    stack.publish(order_v2(name))
    base = f"/api/definitions/flow/{name}/migrations"
    with stack.client("operator") as client:
        assert client.post(f"{base}/preview", json={"from": 1, "to": 2}).status_code == 403
    with stack.client("analyst") as client:
        preview = client.post(f"{base}/preview", json={"from": 1, "to": 2, "where": ["status=awaiting_payment"]})
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert (body["from"], body["to"], body["movable"], body["blocked"]) == (1, 2, 6, 0)
        assert body["moves"] == {"await_payment -> await_payment": 6}
        assert client.post(f"{base}/preview", json={"from": 1, "to": 9}).status_code == 404
        refused = client.post(f"{base}/preview", json={"from": 1, "to": 2, "where": ["sku=x"]})
        assert refused.status_code == 422, refused.text
        assert "filter 'sku=x': expected status=VALUE[,VALUE]" in refused.text

        # With the worker stopped the migration cannot take a batch: the pause reaches it before the first.
        stack.kill("worker")
        try:
            started = client.post(base, json={"from": 1, "to": 2, "batch_size": 2, "concurrency": 1})
            assert started.status_code == 202, started.text
            migration = started.json()
            assert (migration["status"], migration["by"], migration["plan"]["movable"]) == ("running", "analyst", 6)
            second = client.post(base, json={"from": 1, "to": 2})
            assert second.status_code == 409, second.text
            assert second.json()["detail"] == f"flow {name} has a migration running ({migration['id']}): wait for it"
            paused = client.post(f"{base}/{migration['id']}/pause")
            assert paused.status_code == 200, paused.text
        finally:
            stack.start("worker")
        url = f"{base}/{migration['id']}"
        deadline = time.monotonic() + 60
        while (progress := client.get(url).json())["status"] != "paused":
            assert progress["status"] == "running" and time.monotonic() < deadline, progress
            time.sleep(0.2)
        assert (progress["moved"], progress["batches"]) == (0, 0), progress
        assert all(stack.order(order_id)["flow"]["version"] == 1 for order_id in waiting)
        resumed = client.post(f"{url}/resume")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["status"] == "running", resumed.text
        deadline = time.monotonic() + 60
        while (progress := client.get(url).json())["status"] != "completed":
            assert progress["status"] == "running" and time.monotonic() < deadline, progress
            time.sleep(0.2)
        assert (progress["moved"], progress["already"], progress["stayed"], progress["failed"]) == (6, 0, 0, 0)
        assert progress["finished_at"]
        assert client.get(f"{base}/mig_nope").status_code == 404
    assert all(stack.order(order_id)["flow"]["version"] == 2 for order_id in waiting)
