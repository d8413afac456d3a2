"""The dashboard's figures move with the orders: counted as the timeline is written, equal to a recount."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import create_engine
from sqlmodel import Session, select

from oms.models import DailyMetric
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
    today = datetime.now(UTC).date().isoformat()
    ordinary = [stack.submit(order_payload(channel=channel)).json()["id"] for _ in range(2)]
    held = stack.submit(order_payload(channel=channel, lines=HELD)).json()["id"]
    for order_id in ordinary:
        stack.wait_status(order_id, "shipped")
    stack.open_task(held)

    board = _board(stack, **{"from": today, "to": today, "channel": channel})
    sales = board["sales"]
    assert sales["by_day"] == [{"day": today, "orders": 3, "revenue": 19.0 + 19.0 + 5196.0}]
    assert sales["by_channel"] == [{"channel": channel, "orders": 3, "revenue": 5234.0}]
    assert sales["totals"] == {"orders": 3, "units": 8, "revenue": 5234.0, "unsold_orders": 0, "unsold_value": 0.0}
    assert {r["sku"]: (r["units"], r["revenue"]) for r in sales["by_sku"]} == {
        "LAPTOP-14": (4, 5196.0),
        "MUG-LOGO": (4, 38.0),
    }
    assert board["currency"] == "EUR"
    audit = board["audit"]
    assert audit["outcomes"] == {"approve": 2, "review": 1}
    assert (audit["auto_approval_rate"], audit["hold_rate"]) == (round(2 / 3, 4), round(1 / 3, 4))
    assert [(r["rule"], r["action"], r["orders"]) for r in audit["top_reasons"]] == [
        ("high_value_new_address", "review", 1)
    ]
    # The funnel, cycle times and parcels are the channel's own.
    funnel = {row["status"]: row["orders"] for row in board["funnel"]}
    assert (funnel["received"], funnel["audited"], funnel["on_hold"], funnel["shipped"]) == (3, 3, 1, 2)
    stages = {row["stage"]: row for row in board["cycle_times"]}
    assert (stages["capture to approved"]["orders"], stages["approved to shipped"]["orders"]) == (2, 2)
    assert stages["capture to approved"]["p50_seconds"] is not None
    assert sum(row["parcels"] for row in board["on_time"]) == 2

    # The counters kept as the orders moved equal a recount from the timelines.
    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    with Session(engine) as session:
        recounted = recount(session)
        kept = session.exec(select(DailyMetric).where(DailyMetric.day == date.fromisoformat(today))).all()
    engine.dispose()

    def mine(metric: str, k1: str) -> bool:  # (the day counters also hold every other test's orders)
        return (metric in ("orders", "unsold") and k1 == channel) or f"c={channel}" in metric

    live = {(c.metric, c.k1, c.k2): (c.count, round(c.amount, 2)) for c in kept if mine(c.metric, c.k1)}
    again = {
        (m, k1, k2): (c, round(a, 2))
        for (d, m, k1, k2), (c, a) in recounted.items()
        if d.isoformat() == today and mine(m, k1)
    }
    assert live == again
    assert live[("orders", channel, "DE")] == (3, 5234.0)
    assert live[(f"audit|c={channel}", "review", "")] == (1, 0.0)
    assert live[(f"status|c={channel},n=DE", "shipped", "")] == (2, 0.0)


def test_each_filter_narrows_the_figures_of_live_orders(stack):
    channel = _channel(stack)
    today = datetime.now(UTC).date().isoformat()

    def france() -> dict:  # a new address each time: a high value to a first-time address is held
        return {"street": f"Rue {uuid.uuid4().hex[:6]}", "city": "Paris", "postal_code": "75001", "country": "FR"}

    to_france = stack.submit(order_payload(channel=channel, shipping_address=france())).json()["id"]
    to_germany = stack.submit(order_payload(channel=channel, lines=[{"sku": "MUG-LOGO", "qty": 3, "price": 9.5}]))
    for order_id in (to_france, to_germany.json()["id"]):
        stack.wait_status(order_id, "shipped")
    cancelled = stack.submit(order_payload(channel=channel, shipping_address=france(), lines=HELD)).json()["id"]
    stack.open_task(cancelled)
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{cancelled}/events", json={"type": "cancel_requested"}).status_code == 202
    stack.wait_status(cancelled, "cancelled")

    both = _board(stack, **{"from": today, "to": today, "channel": channel})
    fr = _board(stack, **{"from": today, "to": today, "channel": channel, "country": "FR"})
    de = _board(stack, **{"from": today, "to": today, "channel": channel, "country": "de"})
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    before = _board(stack, **{"from": yesterday, "to": yesterday, "channel": channel})

    def figures(board: dict) -> tuple:
        funnel = {r["status"]: r["orders"] for r in board["funnel"]}
        return (
            board["sales"]["totals"],
            board["audit"]["outcomes"],
            (funnel.get("received", 0), funnel.get("shipped", 0), funnel.get("cancelled", 0)),
            sum(r["orders"] for r in board["cycle_times"]),
            sum(r["parcels"] for r in board["on_time"]),
        )

    assert figures(fr) == (
        {"orders": 1, "units": 2, "revenue": 19.0, "unsold_orders": 1, "unsold_value": 5196.0},
        {"approve": 1, "review": 1},
        (2, 1, 1),
        2,  # captured to approved, approved to shipped
        1,
    )
    assert figures(de) == (
        {"orders": 1, "units": 3, "revenue": 28.5, "unsold_orders": 0, "unsold_value": 0.0},
        {"approve": 1},
        (1, 1, 0),
        2,
        1,
    )
    assert figures(both)[0] == {"orders": 2, "units": 5, "revenue": 47.5, "unsold_orders": 1, "unsold_value": 5196.0}
    assert figures(both)[1:] == ({"approve": 2, "review": 1}, (3, 2, 1), 4, 2)
    assert figures(before) == (EMPTY_TOTALS, {}, (0, 0, 0), 0, 0)
    assert de["filters"]["country"] == "DE"


EMPTY_TOTALS = {"orders": 0, "units": 0, "revenue": 0.0, "unsold_orders": 0, "unsold_value": 0.0}


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


def test_bad_filters_are_refused_by_name(stack):
    with stack.client("operator") as client:
        not_a_date = client.get("/api/analytics", params={"from": "yesterday"})
        assert not_a_date.status_code == 422 and not_a_date.json()["errors"][0]["field"] == "from"
        backwards = client.get("/api/analytics", params={"from": "2026-02-01", "to": "2026-01-01"})
        assert (backwards.status_code, backwards.json()) == (
            422,
            {
                "detail": "To (2026-01-01) is before From (2026-02-01)",
                "errors": [{"field": "to", "message": "To (2026-01-01) is before From (2026-02-01)"}],
            },
        )
        too_long = client.get("/api/analytics", params={"from": "2020-01-01", "to": "2026-01-01"})
        assert too_long.status_code == 422 and too_long.json()["errors"][0]["field"] == "from"
        country = client.get("/api/analytics/funnel.csv", params={"country": "FRA"})
        assert country.status_code == 422 and country.json()["errors"] == [
            {"field": "country", "message": "'FRA' is not a country code (two letters, like FR)"}
        ]
    assert stack.client().get("/api/analytics").status_code == 401


def test_default_range_is_the_last_thirty_days(stack):
    board = _board(stack)
    today = datetime.now(UTC).date()
    assert board["filters"]["to"] == today.isoformat()
    assert board["filters"]["from"] == (today - timedelta(days=29)).isoformat()


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
