"""No-code editing in a real browser, continued: decision tables as a grid, the return policy's rule builder,
"Make this a test case" from an order's page, and the designer's scripts speaking Chinese.

As in test_nocode_browser.py, each story changes a definition only by clicking and typing, checks that the
YAML text is valid with every comment still there, and puts the live text back at its end.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from engine.definitions import load
from tests.conftest import order_payload
from tests.pages.conftest import editor_text
from tests.pages.test_language_browser import _context, _sign_in
from tests.pages.test_nocode_browser import _comments, _live, _switch_to_text_and_back, restored

__all__ = ["restored"]  # the fixture, shared with test_nocode_browser.py


def _publish(page, note: str, what: str) -> None:
    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("table.diff tr.added").first).to_be_visible()
    dialog.get_by_label("Note: why this change").fill(note)
    dialog.get_by_role("button", name=re.compile(r"^Publish v\d+$")).click()
    expect(page.locator(".notices .notice.ok")).to_contain_text(f"Published {what}")


def test_analyst_edits_the_carrier_table_in_its_grid_and_publishes_it(stack, signed_in_at, restored):
    restored("carriers", "default")
    live = _live(stack, "carriers", "default")
    comments = _comments(live)
    rows = len(load(live).raw["table"]["rows"])

    page = signed_in_at("analyst", "/definitions/carriers/default")
    page.get_by_role("tab", name="Table editor").click()
    builder = page.locator("[data-role=builder]")
    grid = builder.locator(".table-grid")
    status = builder.locator("[data-role=builder-status]")
    expect(grid.locator("tbody tr")).to_have_count(rows)
    weight = grid.get_by_label("Row 1, shipment.weight_kg", exact=True)
    expect(weight).to_have_value("<= 30")
    expect(grid.get_by_label("Row 1, Carrier", exact=True)).to_have_value("sim_express")

    # A test that does not compile is marked on its cell as it is typed, with the definition path it names.
    weight.fill("<== 25")
    expect(weight).to_have_attribute("aria-invalid", "true")
    expect(grid.locator("ul.grid-problems")).to_contain_text("$.table.rows[0].when[2]")
    expect(status).to_contain_text("1 problem to fix")
    weight.fill("<= 25")
    expect(weight).not_to_have_attribute("aria-invalid", "true")
    expect(grid.locator("ul.grid-problems li")).to_have_count(0)
    expect(status).to_have_text("Table changed. The definition is valid.")
    # The last row's price (no stored test case covers it), typed; the carrier of row 5, picked.
    last_price = grid.get_by_label(f"Row {rows}, Price", exact=True)
    last_price.fill("18.9 + shipment.weight_kg * 2.5")
    grid.get_by_label("Row 5, Service", exact=True).click()  # leaving the cell sends it at once
    page.wait_for_function("window.omsEditor?.state.doc.toString().includes('18.9 + shipment.weight_kg * 2.5')")
    expect(status).to_have_text("Table changed. The definition is valid.")
    expect(page.locator("table.tests tr.refused")).to_have_count(0)
    text_after_cells = editor_text(page)
    assert '    - when: ["\'express\'", "-", "<= 25"]\n' in text_after_cells

    # A row added below the last (a copy of its outputs, matching anything), moved up a place, then removed:
    # the text is what it was.
    grid.get_by_role("button", name=f"Add a row below row {rows}").click()
    expect(status).to_have_text(f"Row {rows + 1} added. The definition is valid.")
    expect(grid.locator("tbody tr")).to_have_count(rows + 1)
    expect(grid.get_by_label(f"Row {rows + 1}, Price", exact=True)).to_have_value("18.9 + shipment.weight_kg * 2.5")
    grid.get_by_role("button", name=f"Move row {rows + 1} up").click()
    expect(status).to_have_text(f"Row {rows + 1} moved up. The definition is valid.")
    remove = grid.get_by_role("button", name=f"Remove row {rows}", exact=True)
    remove.click()
    grid.get_by_role("button", name=f"Remove row {rows}: click again to confirm").click()
    expect(status).to_have_text(f"Row {rows} removed. The definition is valid.")
    expect(grid.locator("tbody tr")).to_have_count(rows)
    assert editor_text(page) == text_after_cells

    text = _switch_to_text_and_back(page, comments, "Table editor")
    assert text == text_after_cells
    assert '      price: "18.9 + shipment.weight_kg * 2.5"\n' in text
    expect(builder.get_by_label("Row 1, shipment.weight_kg", exact=True)).to_have_value("<= 25")

    _publish(page, "express up to 25 kg; worldwide a euro cheaper", "carriers default")
    assert _live(stack, "carriers", "default") == text
    rows_now = load(text).raw["table"]["rows"]
    assert rows_now[0]["when"] == ["'express'", "-", "<= 25"]
    assert rows_now[-1]["price"] == "18.9 + shipment.weight_kg * 2.5"


def test_analyst_builds_a_return_policy_rule_by_clicking(stack, signed_in_at, restored):
    restored("rules", "return_policy")
    live = _live(stack, "rules", "return_policy")
    comments = _comments(live)

    page = signed_in_at("analyst", "/definitions/rules/return_policy")
    page.get_by_role("tab", name="Rule builder").click()
    builder = page.locator("[data-role=builder]")
    # The policy's rules read in the return's own words: its facts and any returned line.
    expect(builder.locator(".rule-card[data-rule='return_window']")).to_contain_text(
        "When Days since the order was delivered is more than 30"
    )
    expect(builder.locator(".rule-card[data-rule='category_not_returnable']")).to_contain_text(
        "When Returned line: category is one of food, hygiene, gift_card"
    )
    expect(builder.locator(".read-only")).to_have_count(0)
    expect(builder.locator(".cases-from-orders")).to_have_count(0)  # recorded orders are no returns

    builder.get_by_role("button", name="Add a rule").click()
    form = builder.locator(".rule-form")
    form.get_by_label("Rule name").fill("damaged_without_photo")
    first = form.locator("ol.terms li").nth(0)
    field = first.get_by_label("Field")
    expect(
        field.locator("optgroup[label='Facts the audit computes'] option[value='facts.first_time_address']")
    ).to_have_count(0)
    field.select_option("return.reason")
    first.get_by_label("Operator").select_option(label="is")
    first.get_by_label("Value").select_option("damaged_on_arrival")  # the return form's reasons
    form.get_by_role("button", name="Add a condition").click()
    second = form.locator("ol.terms li").nth(1)
    second.get_by_label("Field").select_option("facts.photos")
    second.get_by_label("Operator").select_option(label="is less than")
    second.get_by_label("Value").fill("1")
    # Tagging offers the tags the return flow acts on, each with what it does.
    form.get_by_label("Then").select_option("tag")
    expect(form.get_by_label("Tag label")).to_be_visible()
    expect(form).to_contain_text("keep_item: refund or exchange at once; nothing is sent back")
    expect(form.locator("datalist option[value='refund_shipping']")).to_have_count(1)
    form.get_by_label("Then").select_option("review")
    form.get_by_label("Reason (recorded on the return)").fill("damaged on arrival and no photo sent")
    form.get_by_role("button", name="Add rule").click()
    status = builder.locator("[data-role=builder-status]")
    expect(status).to_have_text("Rule damaged_without_photo added. The definition is valid.")
    card = builder.locator(".rule-card[data-rule='damaged_without_photo']")
    expect(card).to_contain_text("When Reason for the return is damaged_on_arrival and Photos sent is less than 1")
    expect(card).to_contain_text("then review: damaged on arrival and no photo sent")

    text = _switch_to_text_and_back(page, comments, "Rule builder")
    assert "    when: \"return.reason == 'damaged_on_arrival' and facts.photos < 1\"\n" in text
    _publish(page, "damage needs a photo", "rules return_policy")
    assert _live(stack, "rules", "return_policy") == text


@pytest.fixture
def analysts_draft_discarded(stack) -> Iterator[None]:
    """The analyst's draft of the order audit goes after the test: other stories open the live text."""
    yield
    with stack.client("analyst") as client:
        client.delete("/api/definitions/drafts/rules/order_audit")


def test_analyst_makes_an_order_a_test_case_from_its_page_and_it_passes_in_the_designer(
    stack, signed_in_at, analysts_draft_discarded
):
    order_id = stack.submit(order_payload()).json()["id"]
    order = stack.wait_for(order_id, lambda o: o.get("audit") is not None)
    action, external = order["audit"]["action"], order["external_id"]

    operator = signed_in_at("operator", f"/orders/{order_id}")
    expect(operator.get_by_role("heading", name=re.compile("Audit|Why was this order held"))).to_be_visible()
    expect(operator.get_by_role("button", name="Make this a test case")).to_have_count(0)

    page = signed_in_at("analyst", f"/orders/{order_id}")
    page.get_by_role("button", name="Make this a test case").click()
    expect(page).to_have_url(re.compile(r"/definitions/rules/order_audit$"))
    expect(page.locator(".notices .notice.ok")).to_contain_text(
        f"The order is now a test case of your draft of order_audit, expecting {action}"
    )
    expect(page.locator(".draft-notice")).to_be_visible()
    case = page.locator("table.tests tr", has_text=f"order {external}")
    expect(case).to_have_count(1)
    expect(case).to_have_class(re.compile(r"\bok\b"))
    expect(case).to_contain_text("passes")
    expect(page.locator("table.tests tr.refused")).to_have_count(0)
    text = editor_text(page)
    stored = load(text).raw["tests"][-1]
    assert stored["expect"] == {"action": action}
    assert stored["order"]["external_id"] == external
    with stack.client("analyst") as client:
        draft = client.get("/api/definitions/drafts/rules/order_audit")
    assert draft.status_code == 200, draft.text
    assert draft.json()["text"] == text


def test_a_chinese_analyst_reads_the_designers_script_messages_in_chinese(stack, browser):
    username = f"zh-analyst-{uuid.uuid4().hex[:6]}"
    password = "a long enough password"
    with stack.client("admin") as admin:
        added = admin.post(
            "/api/users", json={"username": username, "password": password, "roles": ["analyst"], "language": "zh"}
        )
    assert added.status_code == 201, added.text
    with _context(browser, stack, locale="en-US") as context:
        page = context.new_page()
        _sign_in(page, username, password, "/definitions/rules/order_audit")
        expect(page.locator(".cm-editor")).to_be_visible()
        page.get_by_role("tab", name="规则构建器").click()
        builder = page.locator("[data-role=builder]")
        expect(builder.locator("h3").first).to_have_text("规则")
        seeds = builder.locator(".rule-card[data-rule='high_value_new_address']")
        expect(seeds).to_contain_text("当 订单总额 大于 5000 且 首次使用的地址")
        expect(seeds.get_by_role("button", name="编辑规则 high_value_new_address")).to_have_text("编辑")
        grid = builder.locator(".rule-card[data-rule='channel_risk'] .table-grid")
        expect(grid.locator("thead")).to_contain_text("操作")
        expect(grid.get_by_label("第 1 行\uff0corder.channel", exact=True)).to_have_value("'marketplace'")
        seeds.get_by_role("button", name="下移规则 high_value_new_address").click()
        status = builder.locator("[data-role=builder-status]")
        expect(status).to_have_text("规则已移动。 定义有效。")

        # The text editor's own checking, as the text changes.
        page.get_by_role("tab", name="YAML 文本").click()
        page.evaluate("window.omsEditor.dispatch({changes: {from: 0, insert: 'oops: [\\n'}})")
        expect(page.locator("[data-role=status]")).to_have_text(re.compile(r"^发现 \d+ 个问题。$"))

        # The flow editor and the diagram's zoom (in a page of their own: this one has unsaved edits).
        flow = context.new_page()
        flow.goto("/definitions/flow/order")
        flow.get_by_role("tab", name="流程编辑器").click()
        expect(flow.locator("[data-role=flow-step]")).to_have_text("点击一个步骤来修改它、在它之后添加步骤或删除它。")
        zoom = flow.locator("[data-role=zoom-level]")
        expect(zoom).to_have_attribute("title", re.compile(r"^按实际大小的 \d+% 显示$"))
