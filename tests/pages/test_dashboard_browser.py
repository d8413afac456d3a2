"""The dashboard in a real browser: each figure shown under filters equals a count made from the database.

The counts here read the orders, their timelines, parcels, returns and stock
directly (never the dashboard's counters), and write them in the page's one
format (``1,234``, ``5,196.00 EUR``, ``33.3 %``) to compare with what the
page shows.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from statistics import median_low

from playwright.sync_api import Page, expect
from sqlalchemy import bindparam, create_engine, text

from tests.conftest import order_payload
from tests.integration.test_returns import delivered_order, post_return

CURRENCY = "EUR"  # the shop's (OMS_CURRENCY is not set for the tests)
DASH = "\u2013"  # a figure that cannot be computed (no units, no stock)
NOT_SOLD = {"rejected", "cancelled", "out_of_stock"}
HIGH_VALUE = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a new address: held for review
STAGES = {
    "capture to approved": (None, "reserved"),
    "approved to shipped": ("reserved", "shipped"),
    "shipped to delivered": ("shipped", "delivered"),
}


def _address(country: str) -> dict:
    street = f"Rue {uuid.uuid4().int % 100000}"
    if country == "FR":
        return {"street": street, "city": "Paris", "postal_code": "75001", "country": "FR"}
    return {"street": street, "city": "Berlin", "postal_code": "10115", "country": country}


def _orders_of_a_new_channel(stack) -> tuple[str, dict[str, str]]:
    """A channel of the test's own with sold, returned, rejected and cancelled orders to FR and DE."""
    channel = "dash_" + uuid.uuid4().hex[:8]
    stack.publish(f"kind: channel\nname: {channel}\ntitle: Dashboard page orders\ntype: phone\nflow: order\n")

    def order(country: str, **overrides) -> dict:
        return order_payload(channel=channel, shipping_address=_address(country), **overrides)

    fr_sold = delivered_order(stack, **order("FR", lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}]))["id"]
    de_sold = delivered_order(stack, **order("DE", lines=[{"sku": "MUG-LOGO", "qty": 3, "price": 9.5}]))["id"]
    for order_id, reason in ((fr_sold, "changed_mind"), (de_sold, "wrong_size")):
        body = {"order_id": order_id, "lines": [{"sku": "MUG-LOGO", "qty": 1}], "reason": reason, "kind": "refund"}
        assert post_return(stack, body).status_code == 201
    rejected = stack.submit(order("FR", lines=HIGH_VALUE)).json()["id"]
    cancelled = stack.submit(order("FR", lines=HIGH_VALUE)).json()["id"]
    task = stack.open_task(rejected)
    with stack.client("operator") as client:
        decided = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "reject", "comment": "fraud"})
        assert decided.status_code == 200, decided.text
    stack.open_task(cancelled)
    with stack.client("channel") as client:
        asked = client.post(f"/api/orders/{cancelled}/events", json={"type": "cancel_requested"})
        assert asked.status_code == 202, asked.text
    stack.wait_status(rejected, "rejected")
    stack.wait_status(cancelled, "cancelled")
    return channel, {"fr_sold": fr_sold, "de_sold": de_sold, "rejected": rejected, "cancelled": cancelled}


# -- the page's one format, as the issue states it ------------------------------------------------


def number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def money(value: float) -> str:
    return f"{value:,.2f} {CURRENCY}"


def share(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f} %" if whole else DASH


def seconds_of(shown: str) -> float:
    value, unit = re.fullmatch(r"([\d,.]+) (s|min|h|d)", shown).groups()  # type: ignore[union-attr]
    return float(value.replace(",", "")) * {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]


# -- counted from the database --------------------------------------------------------------------


def _utc(moment) -> datetime:
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def direct_count(stack, channel: str, country: str | None, start: date, end: date) -> dict:
    """Every figure of the dashboard for these filters, from the orders' own rows."""
    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    with engine.connect() as db:
        rows = db.execute(
            text("SELECT id, total, document, created_at FROM orders WHERE channel = :c"), {"c": channel}
        ).all()
        orders = {}
        for order_id, total, document, created in rows:
            document = document if isinstance(document, dict) else json.loads(document)
            if country is None or document["shipping_address"]["country"] == country:
                orders[order_id] = {"total": total, "document": document, "created": _utc(created)}
        ids = {"ids": list(orders) or [""]}
        expanding = bindparam("ids", expanding=True)
        reached: dict[str, dict[str, datetime]] = defaultdict(dict)
        audited: dict[str, dict] = {}
        events = db.execute(
            text(
                "SELECT order_id, type, status, data, at FROM order_events WHERE order_id IN :ids ORDER BY seq"
            ).bindparams(expanding),
            ids,
        ).all()
        for order_id, kind, status, data, moment in events:
            data = data if isinstance(data, dict) else json.loads(data)
            if kind == "audited" and order_id not in audited:
                audited[order_id] = data
            if status and status not in reached[order_id]:
                reached[order_id][status] = _utc(moment)
        parcels = db.execute(
            text("SELECT order_id, warehouse FROM shipments WHERE order_id IN :ids").bindparams(expanding), ids
        ).all()
        cutoffs = dict(db.execute(text("SELECT code, cutoff FROM warehouses")).all())
        returned = db.execute(
            text(
                "SELECT r.created_at, r.reason, l.sku, l.qty, l.price FROM returns r "
                "JOIN return_lines l ON l.return_id = r.id WHERE r.order_id IN :ids"
            ).bindparams(expanding),
            ids,
        ).all()
        on_hand = dict(db.execute(text("SELECT sku, SUM(on_hand) FROM stock GROUP BY sku")).all())
    engine.dispose()

    def within(moment: datetime | None) -> bool:
        return moment is not None and start <= moment.date() <= end

    captured = [i for i, o in orders.items() if within(o["created"])]
    sold = [i for i in captured if not NOT_SOLD & set(reached[i])]
    units, revenue_by_sku = Counter(), Counter()
    for i in sold:
        for line in orders[i]["document"]["lines"]:
            units[line["sku"]] += line["qty"]
            revenue_by_sku[line["sku"]] += line["qty"] * line["price"]
    funnel = Counter()
    for i, o in orders.items():
        funnel.update(s for s, moment in {"received": o["created"], **reached[i]}.items() if within(moment))
    stages = {}
    for label, (begin, end_status) in STAGES.items():
        durations = []
        for i, o in orders.items():
            began = o["created"] if begin is None else reached[i].get(begin)
            ended = reached[i].get(end_status)
            if began and within(ended):
                durations.append((ended - began).total_seconds())
        stages[label] = durations
    on_time: dict[str, Counter] = defaultdict(Counter)
    for order_id, warehouse in parcels:
        shipped = reached[order_id].get("shipped")
        if not within(shipped):
            continue
        ready = max(reached[order_id][s] for s in ("reserved", "paid") if s in reached[order_id])
        hours, minutes = cutoffs[warehouse].split(":")
        due = (
            ready.date()
            if ready <= ready.replace(hour=int(hours), minute=int(minutes))
            else ready.date() + timedelta(1)
        )
        on_time[warehouse]["on_time" if shipped.date() <= due else "late"] += 1
    returns: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0.0])
    for created, reason, sku, qty, price in returned:
        if within(_utc(created)):
            returns[(sku, reason)][0] += qty
            returns[(sku, reason)][1] += qty * price
    outcomes = Counter(audited[i]["action"] for i in captured)
    reasons = Counter(
        (rule["rule"], audited[i]["action"])
        for i in captured
        for rule in audited[i].get("fired") or []
        if audited[i]["action"] != "approve" and rule.get("action") == audited[i]["action"]
    )
    return {
        "sold": sold,
        "orders": len(sold),
        "revenue": sum(orders[i]["total"] for i in sold),
        "unsold": [i for i in captured if i not in sold],
        "unsold_value": sum(orders[i]["total"] for i in captured if i not in sold),
        "by_day": Counter(orders[i]["created"].date().isoformat() for i in sold),
        "units": units,
        "revenue_by_sku": revenue_by_sku,
        "outcomes": outcomes,
        "reasons": reasons,
        "funnel": funnel,
        "stages": stages,
        "on_time": on_time,
        "returns": returns,
        "on_hand": on_hand,
        "orders_by_id": orders,
    }


# -- read from the page ---------------------------------------------------------------------------


def shown_table(page: Page, name: str) -> dict[str, list[str]]:
    """A table of the page: row key -> the texts of its cells."""
    table = page.locator(f'table[data-table="{name}"]')
    expect(table).to_be_visible()
    return {
        row.get_attribute("data-key") or "": [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in table.locator("tbody tr[data-key]").all()
    }


def shown_figure(page: Page, key: str) -> str:
    """A key figure and what it counts, as one line (the figure stands above its words)."""
    return " ".join(page.locator(f'[data-figure="{key}"]').inner_text().split("\n"))


def test_a_filtered_dashboards_figures_equal_a_direct_count(stack, signed_in_at):
    channel, ids = _orders_of_a_new_channel(stack)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=1)  # a test that runs over midnight stays in the range
    path = f"/dashboard?from={start}&to={today}&channel={channel}&country=FR"
    page = signed_in_at("operator", path)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Dashboard {start} to {today}")
    want = direct_count(stack, channel, "FR", start, today)
    # The filters matter: the DE order is in the channel's figures, not in these.
    assert want["sold"] == [ids["fr_sold"]] and sorted(want["unsold"]) == sorted([ids["rejected"], ids["cancelled"]])
    assert direct_count(stack, channel, None, start, today)["orders"] == 2

    # Key figures: sold orders, units and revenue leave out the rejected and cancelled orders.
    units = sum(want["units"].values())
    assert shown_figure(page, "orders") == f"{number(want['orders'])} orders sold"
    assert shown_figure(page, "units") == f"{number(units)} units sold"
    assert shown_figure(page, "revenue") == f"{money(want['revenue'])} revenue"
    assert shown_figure(page, "unsold") == (
        f"{number(len(want['unsold']))} rejected or cancelled ({money(want['unsold_value'])})"
    )
    audited = sum(want["outcomes"].values())
    assert shown_figure(page, "approval_rate") == f"{share(want['outcomes']['approve'], audited)} approved by the rules"
    assert shown_figure(page, "hold_rate") == f"{share(want['outcomes']['review'], audited)} held for review"
    expect(page.locator("#definitions")).to_contain_text("did not end rejected, cancelled or out of stock")

    # Sales tables.
    revenue_by_day = Counter()
    for order_id in want["sold"]:
        revenue_by_day[want["orders_by_id"][order_id]["created"].date().isoformat()] += want["orders_by_id"][order_id][
            "total"
        ]
    assert shown_table(page, "sales_by_day") == {
        day: [day, number(n), money(revenue_by_day[day])] for day, n in want["by_day"].items()
    }
    assert shown_table(page, "sales_by_channel") == {channel: [channel, number(1), money(want["revenue"])]}
    assert shown_table(page, "sales_by_country") == {"FR": ["FR", number(1), money(want["revenue"])]}
    assert shown_table(page, "sales_by_sku") == {
        sku: [sku, number(n), money(want["revenue_by_sku"][sku])] for sku, n in want["units"].items()
    }

    # Audit: outcomes and the rules that held.
    outcomes = shown_table(page, "audit_outcomes")
    assert {key: cells[1] for key, cells in outcomes.items()} == {k: number(n) for k, n in want["outcomes"].items()}
    reasons = shown_table(page, "hold_reasons")
    assert {key: cells[2] for key, cells in reasons.items()} == {
        f"{rule}/{action}": number(n) for (rule, action), n in want["reasons"].items()
    }

    # Flow: the funnel, cycle times and parcels.
    funnel = shown_table(page, "funnel")
    assert {key: cells[1] for key, cells in funnel.items()} == {s: number(n) for s, n in want["funnel"].items()}
    assert {"received", "on_hold", "shipped", "rejected", "cancelled"} <= set(funnel)
    cycle = shown_table(page, "cycle_times")
    for stage, durations in want["stages"].items():
        assert cycle[stage][1] == number(len(durations))
        if durations:  # read from durations counted in buckets 1.25 times wider each
            exact, p50 = median_low(durations), seconds_of(cycle[stage][2])
            assert exact / 1.25 - 1 <= p50 <= exact * 1.25 + 1, (stage, exact, p50)
    parcels = shown_table(page, "on_time_shipments")
    assert parcels == {
        warehouse: [
            warehouse,
            number(sum(c.values())),
            number(c["on_time"]),
            share(c["on_time"], sum(c.values())),
        ]
        for warehouse, c in want["on_time"].items()
    }
    assert parcels, "the FR order's parcel is shown"

    # Returns, with the return rate over the units sold.
    by_sku = shown_table(page, "returns_by_sku")
    returned_by_sku: dict[str, list] = defaultdict(lambda: [0, 0.0])
    for (sku, _), (n, value) in want["returns"].items():
        returned_by_sku[sku][0] += n
        returned_by_sku[sku][1] += value
    assert by_sku == {
        sku: [sku, number(n), money(v), number(want["units"][sku]), share(n, want["units"][sku])]
        for sku, (n, v) in returned_by_sku.items()
    }
    assert {key: cells[1] for key, cells in shown_table(page, "returns_by_reason").items()} == {
        reason: number(n) for (_, reason), (n, _) in want["returns"].items()
    }
    assert set(shown_table(page, "returns_by_reason")) == {"changed_mind"}  # wrong_size: the DE order's

    # Stock: units sold obey the filters; on hand cannot, and the page says so beside it.
    movers = shown_table(page, "stock_movers")
    for sku, n in want["units"].items():
        on_hand = int(want["on_hand"][sku])
        turnover = number(round(n / on_hand, 2)) if on_hand else DASH
        assert movers[sku][2:] == [number(n), number(on_hand), turnover]
    expect(page.locator("#unfiltered-stock")).to_contain_text("on hand is today's stock over all warehouses")
    forecast = shown_table(page, "forecast")
    assert {sku: sum(int(v) for v in cells[1].split()) for sku, cells in forecast.items()} == dict(want["units"])

    # Charts sit under their headings, and their amounts carry the currency.
    for heading, chart in (
        ("Revenue per day", "Revenue per day"),
        ("Revenue by channel", "Revenue by channel"),
        ("Orders by destination country", "Orders by country"),
        ("Revenue by SKU", "Revenue by SKU"),
        ("Orders reaching each status", "Orders reaching each status"),
    ):
        above = page.get_by_role("heading", name=heading, exact=True).bounding_box()
        picture = page.get_by_role("img", name=chart, exact=True).bounding_box()
        assert above and picture and 0 <= picture["y"] - (above["y"] + above["height"]) < 40, heading
    expect(page.get_by_role("img", name="Revenue by channel")).to_contain_text(money(want["revenue"]))

    # Without the country, the channel's DE order is back in the figures.
    page.get_by_label("Country", exact=True).fill("")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"/dashboard\?from={start}&to={today}&channel={channel}&country=$"))
    assert shown_figure(page, "orders") == f"{number(2)} orders sold"


def test_csv_downloads_carry_the_filters(stack, signed_in_at):
    channel = "dash_" + uuid.uuid4().hex[:8]
    stack.publish(f"kind: channel\nname: {channel}\ntitle: Dashboard page orders\ntype: phone\nflow: order\n")
    order_id = stack.submit(order_payload(channel=channel)).json()["id"]
    stack.wait_status(order_id, "shipped")
    today = datetime.now(UTC).date().isoformat()

    page = signed_in_at("operator", "/dashboard")
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(today)
    page.get_by_label("Channel", exact=True).select_option(channel)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"/dashboard\?from={today}&to={today}&channel={channel}"))
    by_channel = page.get_by_role("table", name=re.compile("^By channel"))
    expect(by_channel.get_by_role("row")).to_have_count(2)
    expect(by_channel).to_contain_text("19.00 EUR")
    with page.expect_download() as download:
        by_channel.get_by_role("link", name="CSV").click()
    path = download.value.path()
    assert path.read_text(encoding="utf-8").splitlines() == ["channel,orders,revenue", f"{channel},1,19.0"]


def test_reversed_dates_get_a_field_error_and_the_page_still_renders(stack, signed_in_at):
    page = signed_in_at("operator", "/dashboard")
    response = page.goto("/dashboard?from=2026-02-01&to=2026-01-01&country=FR")
    assert response is not None and response.status == 422
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    to = page.get_by_label("To", exact=True)
    expect(to).to_have_attribute("aria-invalid", "true")
    expect(to).to_have_value("2026-01-01")
    expect(page.locator("#e-to")).to_have_text("To (2026-01-01) is before From (2026-02-01)")
    expect(page.get_by_label("Country", exact=True)).to_have_value("FR")
    expect(page.locator("[data-figure]")).to_have_count(0)
    expect(page.get_by_role("alert")).to_contain_text("once the filters above are corrected")

    # Put right in the form, the figures are back.
    page.get_by_label("From", exact=True).fill("2025-12-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-figure="orders"]')).to_be_visible()
    expect(page.get_by_label("To", exact=True)).not_to_have_attribute("aria-invalid", "true")


def test_a_bad_date_or_country_is_named_beside_its_field(stack, signed_in_at):
    page = signed_in_at("operator", "/dashboard")
    response = page.goto("/dashboard?from=someday&country=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response is not None and response.status == 422
    expect(page.locator("#e-from")).to_have_text("'someday' is not a date (YYYY-MM-DD)")
    expect(page.locator("#e-country")).to_have_text(
        "'<SCRIPT>ALERT(1)</SCRIPT>' is not a country code (two letters, like FR)"
    )


def test_names_from_definitions_are_shown_not_run(stack, signed_in_at):
    channel = "dash_" + uuid.uuid4().hex[:8]
    stack.publish(f"kind: channel\nname: {channel}\ntitle: Escaping\ntype: phone\nflow: order\n")
    payload = order_payload(channel=channel, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 9.5}])
    stack.wait_status(stack.submit(payload).json()["id"], "shipped")
    page = signed_in_at("operator", "/dashboard")
    alerts = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.goto(f"/dashboard?channel={channel}&country=%3Cscript%3Ealert(1)%3C/script%3E")
    expect(page.get_by_label("Country", exact=True)).to_have_value("<script>alert(1)</script>")
    assert alerts == []
