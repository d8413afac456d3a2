"""The dashboard's figures move with the orders: counted as the timeline is written, equal to a recount."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta

from sqlalchemy import create_engine
from sqlmodel import Session

from services.analytics import recount
from tests.conftest import order_payload

HELD = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a new address: review


def _channel(stack) -> str:
    name = "stats_" + uuid.uuid4().hex[:10]
    stack.publish(f"kind: channel\nname: {name}\ntitle: Dashboard test orders\ntype: phone\nflow: order\n")
    return name


def _board(stack, **params) -> dict:
    with stack.client("operator") as client:
        response = client.get("/api/analytics", params=params)
        assert response.status_code == 200, response.text
        return response.json()


def test_dashboard_counts_a_channels_orders_audits_and_stages(stack):
    channel = _channel(stack)
    today = date.today().isoformat()
    ordinary = [stack.submit(order_payload(channel=channel)).json()["id"] for _ in range(2)]
    held = stack.submit(order_payload(channel=channel, lines=HELD)).json()["id"]
    for order_id in ordinary:
        stack.wait_status(order_id, "shipped")
    stack.open_task(held)

    board = _board(stack, **{"from": today, "to": today, "channel": channel})
    sales = board["sales"]
    assert sales["by_day"] == [{"day": today, "orders": 3, "revenue": 19.0 + 19.0 + 5196.0}]
    assert sales["by_channel"] == [{"channel": channel, "orders": 3, "revenue": 5234.0}]
    assert {r["sku"]: (r["units"], r["revenue"]) for r in sales["by_sku"]} == {
        "LAPTOP-14": (4, 5196.0),
        "MUG-LOGO": (4, 38.0),
    }
    audit = board["audit"]
    assert audit["outcomes"] == {"approve": 2, "review": 1}
    assert (audit["auto_approval_rate"], audit["hold_rate"]) == (round(2 / 3, 4), round(1 / 3, 4))
    assert audit["top_reasons"] and audit["top_reasons"][0]["action"] == "review"
    # Funnel and cycle times are over all channels: at least this test's orders are in them.
    funnel = {row["status"]: row["orders"] for row in board["funnel"]}
    assert funnel["received"] >= 3 and funnel["shipped"] >= 2 and funnel["on_hold"] >= 1
    stages = {row["stage"]: row for row in board["cycle_times"]}
    assert stages["capture to approved"]["orders"] >= 2
    assert stages["capture to approved"]["p50_hours"] is not None
    parcels = {row["warehouse"]: row for row in board["on_time"]}
    assert sum(row["parcels"] for row in parcels.values()) >= 2

    # The counters kept as the orders moved equal a recount from the timelines.
    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    with Session(engine) as session:
        recounted = recount(session)
    engine.dispose()
    mine = {
        (m, k1, k2): (c, round(a, 2))
        for (d, m, k1, k2), (c, a) in recounted.items()
        if channel in (k1, k2) and d.isoformat() == today
    }
    # (the day counters also hold every other test's orders: compare this channel's)
    assert mine == {
        ("orders", channel, "DE"): (3, 5234.0),
        ("sku_channel", "MUG-LOGO", channel): (4, 38.0),
        ("sku_channel", "LAPTOP-14", channel): (4, 5196.0),
        ("audit", "approve", channel): (2, 0.0),
        ("audit", "review", channel): (1, 0.0),
    }


def test_every_table_downloads_as_csv(stack):
    channel = _channel(stack)
    order_id = stack.submit(order_payload(channel=channel)).json()["id"]
    stack.wait_status(order_id, "shipped")
    today = date.today().isoformat()
    with stack.client("operator") as client:
        response = client.get(
            "/api/analytics/sales_by_channel.csv", params={"from": today, "to": today, "channel": channel}
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert f"sales_by_channel_{today}_{today}.csv" in response.headers["content-disposition"]
        assert list(csv.DictReader(io.StringIO(response.text))) == [
            {"channel": channel, "orders": "1", "revenue": "19.0"}
        ]
        missing = client.get("/api/analytics/nothing.csv")
        assert missing.status_code == 404 and "sales_by_day" in missing.json()["detail"]


def test_bad_ranges_are_refused_by_name(stack):
    with stack.client("operator") as client:
        not_a_date = client.get("/api/analytics", params={"from": "yesterday"})
        assert not_a_date.status_code == 422 and not_a_date.json()["errors"][0]["field"] == "from"
        backwards = client.get("/api/analytics", params={"from": "2026-02-01", "to": "2026-01-01"})
        assert backwards.status_code == 422 and "after to" in backwards.json()["detail"]
        too_long = client.get("/api/analytics", params={"from": "2020-01-01", "to": "2026-01-01"})
        assert too_long.status_code == 422
    assert stack.client().get("/api/analytics").status_code == 401


def test_default_range_is_the_last_thirty_days(stack):
    board = _board(stack)
    assert board["filters"]["to"] == date.today().isoformat()
    assert board["filters"]["from"] == (date.today() - timedelta(days=29)).isoformat()


def test_rebuild_from_the_timelines_gives_the_same_counters(stack):
    import subprocess
    import sys

    from tests.conftest import ROOT

    channel = _channel(stack)
    order_id = stack.submit(order_payload(channel=channel)).json()["id"]
    stack.wait_status(order_id, "shipped")
    today = date.today().isoformat()
    before = _board(stack, **{"from": today, "to": today, "channel": channel})
    done = subprocess.run(
        [sys.executable, "-m", "oms.cli", "rebuild-analytics"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("day counters rebuilt from the orders' timelines")
    after = _board(stack, **{"from": today, "to": today, "channel": channel})
    assert after["sales"] == before["sales"] and after["audit"] == before["audit"]


def test_returns_are_counted_by_sku_and_reason_with_the_return_rate(stack):
    from tests.integration.test_returns import delivered_order, post_return
    from tests.integration.test_stock import new_sku

    sku = new_sku(stack, {"BER": 10}, price=10.0)
    order = delivered_order(stack, lines=[{"sku": sku, "qty": 3, "price": 10.0}])
    response = post_return(
        stack, {"order_id": order["id"], "lines": [{"sku": sku, "qty": 1}], "reason": "wrong_size", "kind": "refund"}
    )
    assert response.status_code == 201, response.text
    today = date.today().isoformat()
    board = _board(stack, **{"from": today, "to": today})
    by_sku = {row["sku"]: row for row in board["returns"]["by_sku"]}
    assert by_sku[sku] == {"sku": sku, "units_returned": 1, "value": 10.0, "units_sold": 3, "return_rate": 0.3333}
    assert {"sku": sku, "reason": "wrong_size", "units": 1, "value": 10.0} in board["returns"]["by_sku_and_reason"]
    assert "wrong_size" in {row["reason"] for row in board["returns"]["by_reason"]}

    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    with Session(engine) as session:
        recounted = recount(session)
    engine.dispose()
    assert {k: v for k, v in recounted.items() if k[1] == "return" and k[2] == sku} == {
        (date.today(), "return", sku, "wrong_size"): [1, 10.0]
    }
