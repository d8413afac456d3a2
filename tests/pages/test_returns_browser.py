"""The returns pages in a real browser (Debian's Chromium via Playwright), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.integration.test_returns import delivered_order, return_event, wait_return


def _notice(page: Page, text: str):
    return page.locator(".notices .notice").filter(has_text=text)


def _error_of(page: Page, label: str):
    """The error shown beside the field ``label`` (its aria-describedby)."""
    return page.locator(f"#{page.get_by_label(label, exact=True).get_attribute('aria-describedby').split()[0]}")


def _new_channel(stack) -> str:
    """A channel of the test's own, so that the inbox can be filtered to its tasks."""
    name = "pages_" + uuid.uuid4().hex[:10]
    stack.publish(f"kind: channel\nname: {name}\ntitle: Browser test returns\ntype: phone\nflow: order\n")
    return name


def test_record_a_return_parcel_and_complete_qc_from_the_inbox(stack, signed_in_at):
    channel = _new_channel(stack)
    order = delivered_order(stack, channel=channel, lines=[{"sku": "MUG-LOGO", "qty": 3, "price": 9.5}])
    page = signed_in_at("operator", f"/orders/{order['id']}")
    page.get_by_role("link", name="Request a return").click()
    expect(page.get_by_role("link", name="Returns", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Return request form, version")
    expect(page.get_by_label("Order", exact=True)).to_have_value(order["id"])
    expect(page.get_by_label("Line 1: order line")).to_have_value("1")
    expect(page.get_by_label("Line 1: SKU")).to_have_value("MUG-LOGO")

    # Too many: the error is beside the quantity and nothing is stored.
    page.get_by_label("Line 1: quantity").fill("4")
    page.get_by_label("Reason").select_option("wrong_size")
    page.get_by_role("button", name="Request the return").click()
    expect(page.locator(".error-summary")).to_contain_text("The return was not requested: 1 problem to fix")
    expect(_error_of(page, "Line 1: quantity")).to_have_text(
        "order line 1 (MUG-LOGO): 4 asked back, but only 3 of 3 delivered are left to return"
    )
    expect(page.get_by_label("Line 1: quantity")).to_have_value("4")  # as typed

    page.get_by_label("Line 1: quantity").fill("2")
    page.get_by_label("Photo 1: link").fill("https://example.com/a.jpg")
    page.get_by_role("button", name="Request the return").click()
    expect(_notice(page, "requested")).to_be_visible()
    return_id = re.search(r"/returns/(ret_[0-9a-f]+)$", page.url).group(1)

    # The parcel comes back: a scan of another label is refused, the right one is recorded.
    ret = wait_return(stack, return_id, "awaiting_parcel")
    number = ret["label"]["tracking_number"]
    page.reload()
    waiting = page.locator("section.parcel-wait")
    expect(waiting.get_by_role("heading")).to_have_text("Waiting for the return parcel")
    expect(waiting).to_contain_text(f"Label {number}")
    page.get_by_label("Scanned tracking number (optional)").fill("SIM000000000000")
    page.get_by_role("button", name="Record the parcel as received").click()
    expect(_notice(page, f"Parcel SIM000000000000 is not the parcel of return {return_id}")).to_be_visible()
    page.get_by_label("Scanned tracking number (optional)").fill(number)
    page.get_by_role("button", name="Record the parcel as received").click()
    expect(_notice(page, f"Parcel {number} recorded as received by operator (scanned).")).to_be_visible()
    wait_return(stack, return_id, "inspecting")

    # The quality check waits in the inbox; its quick action opens the return's QC form.
    page.goto(f"/inbox?channel={channel}")
    row = page.locator("table.tasks tbody tr").filter(has=page.get_by_role("link", name=f"return {return_id}"))
    expect(row).to_contain_text("Quality check of a return")
    expect(row.locator("td.amount")).to_have_text("19.00 EUR")  # what comes back, not the order
    row.get_by_role("link", name=f"Inspected: record the quality check of return {return_id}").click()
    expect(page).to_have_url(re.compile(rf"/returns/{return_id}#qc$"))
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
    expect(page.locator("ol.timeline li[data-type='action']")).to_contain_text(
        f"parcel {number} recorded as received by operator (scanned)"
    )

    page.goto("/returns?status=completed&reason=wrong_size")
    expect(page.locator(f"tr[data-return='{return_id}']")).to_be_visible()
    page.get_by_label("Reason").select_option("damaged_on_arrival")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f"tr[data-return='{return_id}']")).to_have_count(0)
    page.goto("/returns?older_than_days=1")
    expect(page.locator(f"tr[data-return='{return_id}']")).to_have_count(0)


def test_a_return_is_started_by_external_id_with_the_generated_form(stack, signed_in_at):
    order = delivered_order(
        stack,
        lines=[{"sku": "TSHIRT-BLK-M", "qty": 1, "price": 19.9}, {"sku": "MUG-LOGO", "qty": 2, "price": 9.5}],
    )
    page = signed_in_at("operator", "/returns/new")
    page.get_by_label("Order id or external id").fill(order["external_id"])
    page.get_by_role("button", name="Show its lines").click()
    expect(page.locator("table.return-order-lines tbody tr")).to_have_count(2)
    expect(page.get_by_label("Order", exact=True)).to_have_value(order["id"])
    # The exchange's replacement only shows for an exchange (the form's visible_if).
    replacement = page.get_by_label("Replacement SKU")
    expect(replacement).to_be_hidden()
    page.get_by_label("Refund or exchange").select_option("exchange")
    expect(replacement).to_be_visible()

    # Nothing to return yet: said beside the lines, nothing stored.
    page.get_by_label("Reason").select_option("wrong_size")
    page.get_by_role("button", name="Request the return").click()
    expect(page.locator(".error-summary")).to_contain_text("give the quantity to return of at least one line")
    # The replacement is required for an exchange: the form says so beside it.
    page.get_by_label("Line 1: quantity").fill("1")
    page.get_by_role("button", name="Request the return").click()
    expect(_error_of(page, "Replacement SKU")).to_have_text("Replacement SKU is required")
    page.get_by_label("Replacement SKU").fill("TSHIRT-WHT-L")
    page.get_by_role("button", name="Request the return").click()
    expect(_notice(page, "requested")).to_be_visible()
    return_id = re.search(r"/returns/(ret_[0-9a-f]+)$", page.url).group(1)
    ret = wait_return(stack, return_id, "awaiting_parcel")
    assert (ret["kind"], ret["replacement_sku"], [(x["line"], x["qty"]) for x in ret["lines"]]) == (
        "exchange",
        "TSHIRT-WHT-L",
        [(1, 1)],
    )

    # More time for the parcel, then the return is cancelled (after a confirmation).
    page.reload()
    page.get_by_role("button", name="Extend the deadline by 7 days").click()
    expect(_notice(page, "Deadline extended by operator: 7 days more from now.")).to_be_visible()
    wait_return(stack, return_id, lambda r: any(e["step"] == "await_parcel_extended" for e in r["timeline"]))
    page.reload()
    page.get_by_label("Reason for cancelling").fill("customer keeps it")
    page.get_by_role("button", name="Cancel the return").click()
    expect(page).to_have_url(re.compile(rf"/returns/{return_id}$"))  # the browser asks for the tick first
    assert wait_return(stack, return_id, "awaiting_parcel")["status"] == "awaiting_parcel"
    page.get_by_label("Yes, cancel this return").check()
    page.get_by_role("button", name="Cancel the return").click()
    expect(_notice(page, "Return cancelled by operator (customer keeps it).")).to_be_visible()
    wait_return(stack, return_id, "cancelled")
    page.reload()
    expect(page.locator("section.parcel-wait")).to_have_count(0)


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
