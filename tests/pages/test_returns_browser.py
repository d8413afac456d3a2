"""The returns pages in a real browser (Debian's Chromium via Playwright), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.integration.test_returns import delivered_order, return_event, wait_return


def _notice(page: Page, text: str):
    return page.locator(".notices .notice").filter(has_text=text)


def test_operator_requests_a_return_checks_it_and_finds_it_by_filter(stack, signed_in_at):
    order = delivered_order(stack, lines=[{"sku": "MUG-LOGO", "qty": 3, "price": 9.5}])
    page = signed_in_at("operator", f"/orders/{order['id']}")
    page.get_by_role("link", name="Request a return").click()
    expect(page.get_by_role("link", name="Returns", exact=True)).to_have_attribute("aria-current", "page")

    # Too many: the form says so and nothing is stored.
    page.get_by_label("Quantity of line 1 to return").fill("4")
    page.get_by_label("Reason").select_option("wrong_size")
    page.evaluate("document.querySelector('#qty-1').removeAttribute('max')")
    page.get_by_role("button", name="Request the return").click()
    expect(_notice(page, "only 3 of 3 delivered are left to return")).to_be_visible()

    page.get_by_label("Quantity of line 1 to return").fill("2")
    page.get_by_label("Reason").select_option("wrong_size")
    page.get_by_label("Photo links, one per line").fill("https://example.com/a.jpg")
    page.get_by_role("button", name="Request the return").click()
    expect(_notice(page, "requested")).to_be_visible()
    return_id = re.search(r"/returns/(ret_[0-9a-f]+)$", page.url).group(1)

    wait_return(stack, return_id, "awaiting_parcel")
    assert return_event(stack, return_id, "parcel_received").status_code == 202
    wait_return(stack, return_id, "inspecting")
    page.reload()
    expect(page.get_by_role("heading", name=re.compile("Quality check of a return"))).to_be_visible()
    # One of the two is damaged; without a reason the workflow refuses it and nothing changes.
    page.get_by_label("Resellable of line 1").fill("1")
    page.get_by_label("Damaged of line 1").fill("1")
    page.get_by_role("button", name="Record the quality check").click()
    expect(_notice(page, "a damaged item needs a reason")).to_be_visible()
    page.get_by_label("Resellable of line 1").fill("1")
    page.get_by_label("Damaged of line 1").fill("1")
    page.get_by_label("Damage of line 1").fill("chipped handle")
    page.get_by_role("button", name="Record the quality check").click()
    expect(_notice(page, "Decided: inspected.")).to_be_visible()

    wait_return(stack, return_id, "completed")
    page.reload()
    expect(page.locator("tr[data-line='1'] td.qc")).to_have_text("1 resellable, 1 damaged (chipped handle)")
    expect(page.locator("dd.refunded")).to_contain_text("19.00")
    expect(page.locator("ol.timeline li[data-type='restocked']")).to_contain_text("1 x MUG-LOGO back to")

    page.goto("/returns?status=completed&reason=wrong_size")
    expect(page.locator(f"tr[data-return='{return_id}']")).to_be_visible()
    page.get_by_label("Reason").select_option("damaged_on_arrival")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"tr[data-return='{return_id}']")).to_have_count(0)
    page.goto("/returns?older_than_days=1")
    expect(page.locator(f"tr[data-return='{return_id}']")).to_have_count(0)


def test_the_quality_check_task_is_in_the_inbox(stack, signed_in_at):
    order = delivered_order(stack)
    with stack.client("operator") as client:
        return_id = client.post(
            "/api/returns", json={"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}
        ).json()["id"]
    wait_return(stack, return_id, "awaiting_parcel")
    assert return_event(stack, return_id, "parcel_received").status_code == 202
    wait_return(stack, return_id, "inspecting")
    page = signed_in_at("operator", "/inbox")
    expect(page.get_by_text("Quality check of a return").first).to_be_visible()
    with stack.client("operator") as client:
        response = client.post(
            f"/api/returns/{return_id}/decision",
            json={"decision": "inspected", "qc": [{"line": 1, "result": "resellable"}]},
        )
    assert response.status_code == 200
    wait_return(stack, return_id, "completed")
