"""Fulfilment pages in a real browser: labels and packing slips from the order page; waves picked by scan."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.conftest import PASSWORD, order_payload
from tests.integration.test_fulfilment_tasks import picking_flow


def sign_in(browser, stack, path: str):
    context = browser.new_context(base_url=stack.base_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(path)
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return context, page


def test_operator_prints_label_and_packing_slip_from_the_order_page(browser, stack):
    order_id = stack.submit(order_payload()).json()["id"]
    order = stack.wait_for(order_id, lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    tracking = order["shipments"][0]["tracking_number"]

    context, page = sign_in(browser, stack, f"/orders/{order_id}")
    expect(page.get_by_text(tracking).first).to_be_visible()

    page.get_by_role("link", name="Print labels").click()
    expect(page).to_have_url(re.compile(rf"/orders/{order_id}/label$"))
    expect(page.locator(".label .tracking")).to_have_text(tracking)
    expect(page.get_by_role("button", name="Print")).to_be_visible()

    page.go_back()
    page.get_by_role("link", name="Print packing slip").click()
    expect(page.get_by_role("heading", name="Packing slip")).to_be_visible()
    expect(page.locator("table td").first).to_have_text("MUG-LOGO")
    context.close()


def test_printing_asks_anyone_not_signed_in_to_sign_in(browser, stack):
    context = browser.new_context(base_url=stack.base_url)
    page = context.new_page()
    page.goto("/orders/ord_x/label")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    context.close()


def test_operator_makes_a_wave_prints_its_pick_list_and_confirms_a_pick_by_scan(browser, stack):
    name = "order_picked_in_browser"
    stack.publish(picking_flow(name))
    order_id = stack.submit(order_payload(lines=[{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}]), flow=name).json()["id"]
    stack.open_task(order_id)
    warehouse = stack.order(order_id)["allocations"][0]["warehouse"]

    context, page = sign_in(browser, stack, "/waves")
    expect(page.get_by_role("heading", level=1)).to_have_text("Waves")
    page.get_by_label("Warehouse").select_option(warehouse)
    page.get_by_role("button", name="Make wave").click()
    expect(page.locator(".notice.ok")).to_contain_text("Wave wave_")
    expect(page.get_by_role("link", name=order_id)).to_be_visible()

    mine = page.locator("section.scan", has=page.get_by_role("link", name=order_id))
    mine.get_by_label(f"Scans for {order_id}").fill("MUG-LOGO")
    mine.get_by_role("button", name="Confirm pick").click()
    expect(page.locator(".notice.error")).to_have_text(
        f"Nothing was confirmed for order {order_id}: MUG-LOGO: scanned 1 of 2."
    )

    mine.get_by_label(f"Scans for {order_id}").fill("MUG-LOGO\nMUG-LOGO")
    mine.get_by_role("button", name="Confirm pick").click()
    expect(page.locator(".notice.ok")).to_have_text(f"Pick of order {order_id} confirmed: 1 x MUG-LOGO, 1 x MUG-LOGO.")
    stack.wait_status(order_id, "packing")

    page.get_by_role("link", name="Print the pick list").click()
    expect(page.locator("table td").first).to_have_text("MUG-LOGO")
    context.close()
