"""The order list and the order page's actions in a real browser (Chromium), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import order_payload, unique


def _unpaid(stack, **overrides) -> tuple[str, dict]:
    """An order waiting for its payment (the flow's await_payment takes cancel, hold and payment there)."""
    payload = order_payload(payment={"method": "invoice", "status": "pending"}, **overrides)
    response = stack.submit(payload)
    assert response.status_code == 201, response.text
    order_id = response.json()["id"]
    stack.wait_status(order_id, "awaiting_payment", timeout=60)
    return order_id, payload


def _search(page: Page, **fields: str) -> None:
    page.goto("/orders")
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Search").click()


def _row(page: Page, order_id: str):
    return page.locator(f"table.orders tr[data-order='{order_id}']")


def test_find_an_order_by_customer_name_and_cancel_it(stack, signed_in_at):
    surname = f"Nightingale{uuid.uuid4().hex[:6]}"
    order_id, payload = _unpaid(stack, customer={"name": f"Florence {surname}", "email": "f@example.com"})
    page = signed_in_at("operator", "/orders")
    _search(page, Search=f"florence {surname.lower()}")
    expect(_row(page, order_id)).to_contain_text(payload["external_id"])
    expect(_row(page, order_id)).to_contain_text("Waiting for payment")  # the status in words
    _row(page, order_id).get_by_role("link", name=order_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(payload["external_id"])
    expect(page.locator("dd.total")).to_have_text("19.00 EUR")

    page.get_by_label("Cancel the order").fill("customer called")
    page.get_by_role("button", name="Cancel order…").click()
    # It cannot be undone: the page asks first, and going back changes nothing.
    expect(page.get_by_role("alert")).to_contain_text("This cannot be undone")
    page.get_by_role("button", name="Yes, go ahead").click()
    expect(page.locator(".notices .notice.ok")).to_contain_text("Sent: cancelled")
    stack.wait_status(order_id, "cancelled", timeout=60)
    page.reload()
    expect(page.locator("ol.timeline li[data-type='event']").filter(has_text="cancel_requested")).to_contain_text(
        "by operator"
    )
    expect(page.locator(".actions [data-action='cancel']")).to_contain_text("Not offered")
    expect(page.locator("form[data-action='cancel']")).to_have_count(0)


def test_search_by_external_id_phone_sku_and_status(stack, signed_in_at):
    phone = f"+49 170 {uuid.uuid4().int % 10**7:07d}"
    order_id, payload = _unpaid(
        stack,
        customer={"name": "Sam Search", "email": "sam@example.com", "phone": phone},
        lines=[{"sku": "BACKPACK-20L", "qty": 1, "price": 49.0}],
    )
    page = signed_in_at("operator", "/orders")
    _search(page, Search=payload["external_id"])
    expect(page.locator("table.orders tbody tr")).to_have_count(1)
    expect(_row(page, order_id)).to_be_visible()
    _search(page, Search=phone.replace(" ", ""))
    expect(_row(page, order_id)).to_be_visible()
    _search(page, SKU="BACKPACK-20L", Status="awaiting_payment")
    expect(_row(page, order_id)).to_be_visible()
    _search(page, Search=payload["external_id"], Status="shipped")
    expect(page.locator("td.empty")).to_have_text("No order matches this search.")
    # The external id a customer quotes opens the order too.
    page.goto(f"/orders/{payload['external_id']}")
    expect(page).to_have_url(re.compile(f"/orders/{order_id}$"))


def test_a_saved_view_and_the_csv_export(stack, signed_in_at):
    word = f"Formula{uuid.uuid4().hex[:6]}"
    order_id, payload = _unpaid(stack, customer={"name": f"=HYPERLINK {word}", "email": "x@example.com"})
    page = signed_in_at("operator", "/orders")
    # The shipped presets are there for everyone.
    expect(page.get_by_role("link", name="Unpaid older than 2 days")).to_be_visible()
    expect(page.get_by_role("link", name="Shipping problems")).to_be_visible()
    _search(page, Search=word)
    expect(_row(page, order_id)).to_be_visible()
    name = f"mine {word}"
    page.get_by_label("Save this search as").fill(name)
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".notices")).to_contain_text(f"Saved the view “{name}”")
    page.goto("/orders")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_label("Search", exact=True)).to_have_value(word)
    expect(_row(page, order_id)).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == [order_id]
    assert rows[0]["external_id"] == payload["external_id"]
    assert rows[0]["customer"] == f"'=HYPERLINK {word}"  # a formula is not run by a spreadsheet

    # Someone else does not see it.
    other = signed_in_at("admin", "/orders")
    expect(other.get_by_role("link", name=name)).to_have_count(0)
    page.get_by_role("button", name=f"Delete the view {name}").click()
    expect(page.locator(".notices")).to_contain_text("Deleted the view")


def test_an_action_is_not_offered_where_the_flow_does_not_take_it(stack, signed_in_at):
    response = stack.submit(order_payload(external_id=unique()))
    order_id = response.json()["id"]
    stack.wait_status(order_id, "shipped", timeout=60)
    page = signed_in_at("operator", f"/orders/{order_id}")
    # Shipped and waiting for the carrier: no hold (await_delivery takes no hold_requested), no cancel.
    expect(page.locator(".actions [data-action='hold']")).to_contain_text("Not offered: not at step 'await_delivery'")
    expect(page.locator("form[data-action='hold']")).to_have_count(0)
    expect(page.locator(".actions [data-action='cancel']")).to_contain_text("the order has shipped")
    expect(page.locator(".actions [data-action='retry']")).to_contain_text("no open repair task")
    # An approved order was never held: the page does not ask why.
    expect(page.get_by_role("heading", name="Why was this order held?")).to_have_count(0)
    # A note is always possible and names who wrote it.
    page.get_by_label("Internal note").fill("customer asked for gift wrap")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("ol.timeline li[data-type='note']")).to_contain_text("by operator")


def test_hold_and_release_by_hand(stack, signed_in_at):
    order_id, _ = _unpaid(stack)
    page = signed_in_at("operator", f"/orders/{order_id}")
    page.get_by_label("Hold by hand").fill("address looks odd")
    page.get_by_role("button", name="Hold", exact=True).click()
    stack.wait_status(order_id, "held", timeout=60)
    page.reload()
    expect(page.get_by_role("heading", name="Why was this order held?")).to_be_visible()
    expect(page.locator("form[data-action='hold']")).to_have_count(0)
    page.get_by_role("button", name="Release").click()
    stack.wait_status(order_id, "awaiting_payment", timeout=60)
    # Analysts see the order but no action forms.
    viewer = signed_in_at("analyst", f"/orders/{order_id}")
    expect(viewer.get_by_text("Changing an order needs the operator or admin role.")).to_be_visible()
    expect(viewer.locator("form[data-action]")).to_have_count(0)
