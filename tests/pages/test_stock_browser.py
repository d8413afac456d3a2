"""The stock page in a real browser (Debian's Chromium via Playwright), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.integration.test_stock import balances, new_sku, order


def _notice(page: Page, text: str):
    return page.locator(".notices .notice").filter(has_text=text)


def test_operator_receives_adjusts_and_transfers_on_the_stock_page(stack, signed_in_at):
    sku = new_sku(stack, {"BER": 5}, low_stock_threshold=8)
    page = signed_in_at("operator", "/stock")
    expect(page.get_by_role("link", name="Stock", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_label("SKU or name contains").fill(sku)
    page.get_by_role("button", name="Find").click()
    expect(page.locator("table.stock tbody tr")).to_have_count(1)
    row = page.locator(f"table.stock tbody tr[data-sku='{sku}']")
    expect(row.locator("td.num")).to_have_text(["5", "0", "5", "8"])
    row.get_by_role("link", name=sku).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(sku)

    receive = page.locator("form", has=page.get_by_role("heading", name="Receive goods"))
    receive.get_by_label("Warehouse").select_option("LYS")
    receive.get_by_label("Quantity received").fill("7")
    receive.get_by_label("Reference or reason").fill("PO 4711")
    receive.get_by_role("button", name="Receive").click()
    expect(_notice(page, f"Received 7 x {sku} into LYS.")).to_be_visible()
    expect(page.locator("table.stock-warehouses tr[data-warehouse='LYS'] td")).to_have_text(["7", "0", "7", "0"])
    first = page.locator("table.movements tbody tr").first
    expect(first).to_contain_text("receipt")
    expect(first).to_contain_text("PO 4711")
    expect(first).to_contain_text("operator")

    adjust = page.locator("form", has=page.get_by_role("heading", name=re.compile("^Adjust")))
    adjust.get_by_label("Warehouse").select_option("BER")
    adjust.get_by_label("Difference").fill("-9")
    adjust.get_by_label("Reason").fill("count")
    adjust.get_by_role("button", name="Adjust").click()
    expect(
        _notice(page, f"Could not adjust: {sku} in BER has too little unreserved stock to take 9. Nothing was changed.")
    ).to_be_visible()
    adjust = page.locator("form", has=page.get_by_role("heading", name=re.compile("^Adjust")))
    adjust.get_by_label("Warehouse").select_option("BER")
    adjust.get_by_label("Difference").fill("-4")
    adjust.get_by_label("Reason").fill("damaged in storage")
    adjust.get_by_role("button", name="Adjust").click()
    expect(_notice(page, f"Adjusted {sku} in BER by -4.")).to_be_visible()
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Replenishment")).locator(".notice.error")
    ).to_contain_text(f"{sku}: 8 available, at or below the threshold of 8")

    transfer = page.locator("form", has=page.get_by_role("heading", name="Transfer between warehouses"))
    transfer.get_by_label("From warehouse").select_option("LYS")
    transfer.get_by_label("To warehouse").select_option("NJ1")
    transfer.get_by_label("Quantity to move").fill("2")
    transfer.get_by_role("button", name="Transfer").click()
    expect(_notice(page, f"Transferred 2 x {sku} from LYS to NJ1.")).to_be_visible()
    expect(page.locator("table.movements tbody tr").nth(0)).to_contain_text("transfer from LYS")
    expect(page.locator("table.movements tbody tr").nth(1)).to_contain_text("transfer to NJ1")
    assert balances(stack, sku) == {"BER": (1, 0), "LYS": (5, 0), "NJ1": (2, 0)}

    page.goto("/stock?q=" + sku)
    expect(page.locator(f"table.stock tbody tr[data-sku='{sku}']")).to_contain_text("low stock")
    expect(page.locator("ul.alerts")).to_contain_text(sku)


def test_receipt_on_the_page_wakes_a_backordered_order(stack, signed_in_at):
    sku = new_sku(stack, {"BER": 0})
    order_id = stack.submit(order(sku, 3)).json()["id"]
    stack.wait_status(order_id, "backordered")
    page = signed_in_at("operator", f"/stock/{sku}")
    expect(page.locator("section", has=page.get_by_role("heading", name="Replenishment"))).to_contain_text(
        "1 order waiting for this SKU"
    )
    receive = page.locator("form", has=page.get_by_role("heading", name="Receive goods"))
    receive.get_by_label("Quantity received").fill("3")
    receive.get_by_role("button", name="Receive").click()
    expect(_notice(page, f"Received 3 x {sku} into BER. Woke 1 backordered order.")).to_be_visible()
    detail = stack.wait_for(order_id, lambda o: any(e["type"] == "stock_reserved" for e in o["timeline"]))
    assert [(a["warehouse"], a["qty"]) for a in detail["allocations"] if a["state"] == "reserve"] == [("BER", 3)]


def test_stock_is_read_only_for_analysts_and_forms_need_the_csrf_token(stack, signed_in_at):
    sku = new_sku(stack, {"BER": 5})
    page = signed_in_at("analyst", f"/stock/{sku}")
    expect(page.locator(".notice.info")).to_have_text("You are signed in as analyst: stock is read-only for you.")
    expect(page.locator("form[action$='/receive']")).to_have_count(0)
    refused = page.request.post(f"/stock/{sku}/receive", form={"warehouse": "BER", "qty": "5"})
    assert refused.status == 403
    operator = signed_in_at("operator", f"/stock/{sku}")
    forged = operator.request.post(f"/stock/{sku}/receive", form={"warehouse": "BER", "qty": "5", "csrf_token": "x"})
    assert forged.status == 403
    assert "CSRF check failed" in forged.text()
    assert balances(stack, sku) == {"BER": (5, 0)}


def test_operator_keeps_stock_for_a_channel_and_checks_the_ledger(stack, signed_in_at):
    sku = new_sku(stack, {"BER": 5})
    page = signed_in_at("operator", f"/stock/{sku}")
    keep = page.locator("form", has=page.get_by_role("heading", name="Keep stock for a channel"))
    keep.get_by_label("Channel").select_option("phone")
    keep.get_by_label("In warehouse").select_option("BER")
    # The browser refuses a non-number in a number field; make it a text field as an older browser would.
    keep.get_by_label("Units kept").evaluate("input => input.type = 'text'")
    keep.get_by_label("Units kept").fill("abc")
    keep.get_by_role("button", name="Keep for channel").click()
    expect(
        _notice(
            page, "Could not keep stock for the channel: qty must be a whole number, not 'abc'. Nothing was changed."
        )
    ).to_be_visible()
    keep = page.locator("form", has=page.get_by_role("heading", name="Keep stock for a channel"))
    keep.get_by_label("Channel").select_option("phone")
    keep.get_by_label("Units kept").fill("4")
    keep.get_by_role("button", name="Keep for channel").click()
    expect(_notice(page, f"4 x {sku} in BER are kept for channel phone.")).to_be_visible()
    expect(page.locator("table.stock-warehouses tr[data-warehouse='BER'] td")).to_have_text(["5", "0", "5", "4"])
    expect(page.locator(".channel-reserves")).to_have_text("Kept for channels: 4 in BER for phone.")

    web = stack.submit(order(sku, 2)).json()["id"]
    stack.wait_status(web, "backordered")  # only 1 is free for the web channel

    page.goto("/stock")
    page.get_by_role("button", name="Rebuild balances from the movements and compare").click()
    expect(page).to_have_url(re.compile(r"/stock\?check=1$"))
    expect(page.locator(".ledger-result")).to_contain_text("agree with the")
    expect(page.locator(".ledger-result")).to_contain_text("nothing is oversold")
