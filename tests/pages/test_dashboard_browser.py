"""The dashboard in a real browser: filters in the URL, charts as pictures, CSV downloads, escaping."""

from __future__ import annotations

import re
import uuid
from datetime import date

from playwright.sync_api import expect

from tests.conftest import order_payload
from tests.pages.test_inbox_browser import signed_in  # noqa: F401  (fixture)


def test_dashboard_filters_by_channel_draws_charts_and_downloads_csv(stack, signed_in):  # noqa: F811
    channel = "dash_" + uuid.uuid4().hex[:8]
    stack.publish(f"kind: channel\nname: {channel}\ntitle: Dashboard page orders\ntype: phone\nflow: order\n")
    order_id = stack.submit(order_payload(channel=channel)).json()["id"]
    stack.wait_status(order_id, "shipped")
    today = date.today().isoformat()

    page = signed_in("operator")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dashboard")
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(today)
    page.get_by_label("Channel", exact=True).select_option(channel)
    page.get_by_role("button", name="Show").click()

    expect(page).to_have_url(re.compile(rf"/dashboard\?from={today}&to={today}&channel={channel}"))
    by_channel = page.get_by_role("table", name=re.compile("^By channel"))
    expect(by_channel.get_by_role("row")).to_have_count(2)
    expect(by_channel).to_contain_text(channel)
    expect(by_channel).to_contain_text("19.0")
    chart = page.get_by_role("img", name="Revenue by channel")
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).to_have_count(1)

    with page.expect_download() as download:
        by_channel.get_by_role("link", name="CSV").click()
    path = download.value.path()
    assert path.read_text(encoding="utf-8").splitlines() == ["channel,orders,revenue", f"{channel},1,19.0"]


def test_a_bad_date_gets_a_page_naming_the_field(stack, signed_in):  # noqa: F811
    page = signed_in("operator")
    response = page.goto("/dashboard?from=someday")
    assert response.status == 422
    expect(page.get_by_text("From: 'someday' is not a date (YYYY-MM-DD).")).to_be_visible()


def test_names_from_definitions_are_shown_not_run(stack, signed_in):  # noqa: F811
    channel = "dash_" + uuid.uuid4().hex[:8]
    stack.publish(f"kind: channel\nname: {channel}\ntitle: Escaping\ntype: phone\nflow: order\n")
    payload = order_payload(channel=channel, lines=[{"sku": "MUG-LOGO", "qty": 1, "price": 9.5}])
    stack.wait_status(stack.submit(payload).json()["id"], "shipped")
    page = signed_in("operator")
    alerts = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.goto(f"/dashboard?channel={channel}&country=%3Cscript%3Ealert(1)%3C/script%3E")
    expect(page.get_by_label("Country", exact=True)).to_have_value("<SCRIPT>ALERT(1)</SCRIPT>")
    assert alerts == []
