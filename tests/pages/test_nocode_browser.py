"""No-code editing in a real browser: the rule builder and the form builder, as an analyst who never saw YAML.

Each story starts from the live definition, changes it only by clicking and
typing into the builders, switches to the YAML text and back (the text is
valid and every comment that was there is still there), publishes, and sees
the change take effect on the next order. Each story puts the live text back
at its end, so the other tests find the definitions as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from engine.definitions import load
from engine.yaml_edit import apply_edits, parse_edits
from tests.conftest import order_payload, unique
from tests.pages.conftest import editor_text

BIG_LINES = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299}]  # 5196: over 5000


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.lstrip().startswith("#")]


def _live(stack, kind: str, name: str) -> str:
    with stack.client("analyst") as client:
        return client.get(f"/api/definitions/{kind}/{name}").json()["live"]["text"]


@pytest.fixture
def restored(stack) -> Iterator[Callable[[str, str], None]]:
    """A function: remember a definition's live text; after the test it is published again, whatever happened."""
    before: dict[tuple[str, str], str] = {}

    def remember(kind: str, name: str) -> None:
        before[(kind, name)] = _live(stack, kind, name)

    yield remember
    for (kind, name), text in before.items():
        if _live(stack, kind, name) != text:
            stack.publish(text)


def _switch_to_text_and_back(page: Page, comments: list[str], builder_tab: str) -> str:
    """The YAML text tab shows a valid text with every comment; the builder comes back. Returns the text."""
    page.get_by_role("tab", name="YAML text").click()
    expect(page.locator(".cm-editor")).to_be_visible()
    expect(page.locator("[data-role=builder]")).to_be_hidden()
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    text = editor_text(page)
    missing = [c for c in comments if c not in _comments(text)]
    assert not missing, f"comments lost: {missing}"
    page.get_by_role("tab", name=builder_tab).click()
    expect(page.locator("[data-role=builder]")).to_be_visible()
    expect(page.locator(".cm-editor")).to_be_hidden()
    return text


def test_analyst_builds_the_big_order_to_a_new_address_rule_by_clicking(stack, signed_in_at, restored):
    restored("rules", "order_audit")
    live = _live(stack, "rules", "order_audit")
    raw = load(live).raw
    # The rule set as it would be without the seeds' rule: the analyst builds it again.
    rule_at = next(i for i, r in enumerate(raw["rules"]) if r.get("id") == "high_value_new_address")
    cases = [i for i, case in enumerate(raw.get("tests") or []) if "high_value_new_address" in str(case.get("expect"))]
    edits = [{"op": "delete", "path": ["tests", i]} for i in reversed(cases)]
    edits.append({"op": "delete", "path": ["rules", rule_at]})
    without = apply_edits(live, parse_edits(edits))
    stack.publish(without)
    comments = _comments(without)

    # A big order to a new address passes unheld: the analyst wants such orders held.
    recorded = stack.submit(order_payload(lines=BIG_LINES)).json()["id"]
    audit = stack.wait_for(recorded, lambda o: o.get("audit") is not None)["audit"]
    assert audit["action"] == "approve"
    external = stack.order(recorded)["external_id"]

    page = signed_in_at("analyst", "/definitions/rules/order_audit")
    expect(page.locator(".cm-editor")).to_be_visible()
    page.get_by_role("tab", name="Rule builder").click()
    builder = page.locator("[data-role=builder]")
    expect(builder.locator(".rule-card").first).to_be_visible()
    expect(builder.locator(".rule-card[data-rule='high_value_new_address']")).to_have_count(0)
    # A rule whose condition is more than the builder shows is there, read-only.
    velocity = builder.locator(".rule-card[data-rule='ip_velocity']")
    expect(velocity.locator(".read-only")).to_contain_text("read-only here")
    expect(velocity.get_by_role("button", name="Edit rule ip_velocity")).to_have_count(0)

    # 1. The recorded order becomes a test case expecting review: it fails until the rule exists.
    row = builder.locator(f"table.recent-orders tr[data-order='{recorded}']")
    expect(row).to_contain_text(external)
    row.get_by_label(f"Expected outcome of {external}").select_option("review")
    row.get_by_role("button", name=f"Make order {external} a test case").click()
    status = builder.locator("[data-role=builder-status]")
    expect(status).to_contain_text(f"Test case from {recorded} added, expecting review.")
    expect(status).to_contain_text("1 problem to fix")
    failing = page.locator("table.tests tr.refused")
    expect(failing).to_have_count(1)
    expect(failing).to_contain_text(f"order {external}")

    # 2. The rule, by picking: order total is more than 5000, and first-time address is true.
    builder.get_by_role("button", name="Add a rule").click()
    form = builder.locator(".rule-form")
    form.get_by_label("Rule name").fill("high_value_new_address")
    first = form.locator("ol.terms li").nth(0)
    first.get_by_label("Field").select_option("order.total")
    # The sample comes from the newest audited order, which other orders in a shared stack may be.
    expect(first.get_by_label("Field").locator("option[value='order.total']")).to_have_text(
        re.compile(r"^Order total \(e\.g\. \d+(\.\d+)?\)\s*$")
    )
    first.get_by_label("Operator").select_option(label="is more than")
    first.get_by_label("Value").fill("5000")
    form.get_by_role("button", name="Add a condition").click()
    second = form.locator("ol.terms li").nth(1)
    second.get_by_label("Field").select_option("facts.first_time_address")
    expect(second.get_by_label("Field").locator("option[value='facts.first_time_address']")).to_have_text(
        "First-time address (no earlier order went to it) (e.g. true)"
    )
    expect(second.get_by_label("Operator")).to_have_value("is true")
    expect(second.get_by_label("Value")).to_have_count(0)
    form.get_by_label("Then").select_option("review")
    form.get_by_label("Reason (recorded on the order)").fill("amount ")
    form.get_by_label("Insert a field into the reason").select_option(label="Order total")
    form.get_by_label("Reason (recorded on the order)").press("End")
    form.get_by_label("Reason (recorded on the order)").type(" to a first-time address")
    form.get_by_role("button", name="Add rule").click()
    expect(status).to_have_text("Rule high_value_new_address added. The definition is valid.")
    card = builder.locator(".rule-card[data-rule='high_value_new_address']")
    expect(card).to_contain_text("When Order total is more than 5000 and First-time address")
    expect(card).to_contain_text("then review: amount {{ order.total }} to a first-time address")
    expect(page.locator("table.tests tr.refused")).to_have_count(0)
    expect(page.locator("table.tests")).to_contain_text(f"order {external}")

    text = _switch_to_text_and_back(page, comments, "Rule builder")
    assert '    when: "order.total > 5000 and facts.first_time_address"\n' in text
    assert '    reason: "amount {{ order.total }} to a first-time address"\n' in text
    assert "    expect: {action: review}\n" in text
    assert load(text).raw["tests"][-1]["facts"]["first_time_address"] is True

    # 3. What-if: the recorded order would now be held, by the new rule.
    page.get_by_label("Run the draft over the last").fill("500")
    page.get_by_role("button", name="Run what-if").click()
    result = page.locator("[data-role=whatif] section.whatif")
    expect(result.locator("h3")).to_contain_text("would now be held")
    expect(result.locator(f"table.whatif-orders tr[data-order='{recorded}']")).to_contain_text(
        "high_value_new_address review: amount 5196"
    )

    # 4. Publish, with a note, and the next such order is held for review.
    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("table.diff tr.added").first).to_be_visible()
    dialog.get_by_label("Note: why this change").fill("big orders to new addresses are checked")
    dialog.get_by_role("button", name=re.compile(r"^Publish v\d+$")).click()
    expect(page.locator(".notices .notice.ok")).to_contain_text("Published rules order_audit")
    assert _live(stack, "rules", "order_audit") == text

    held = stack.submit(order_payload(lines=BIG_LINES)).json()["id"]
    audit = stack.wait_for(held, lambda o: o.get("audit") is not None)["audit"]
    assert audit["action"] == "review"
    fired = {f["rule"]: f for f in audit["fired"]}
    assert fired["high_value_new_address"]["action"] == "review"
    assert re.fullmatch(r"amount 5196(\.0+)? to a first-time address", fired["high_value_new_address"]["reason"])
    stack.open_task(held)


def test_analyst_adds_a_required_field_to_the_order_form_by_clicking(stack, signed_in_at, restored):
    restored("form", "order")
    live = _live(stack, "form", "order")
    comments = _comments(live)
    field_id = "purchase_order"

    page = signed_in_at("analyst", "/definitions/form/order")
    page.get_by_role("tab", name="Form builder").click()
    builder = page.locator("[data-role=builder]")
    expect(builder.locator(".field-card[data-field='delivery_method']")).to_be_visible()
    preview = builder.locator(".form-preview-frame")
    expect(preview.locator("#f-customer-name")).to_have_count(1)

    builder.get_by_role("button", name="Add a field").click()
    form = builder.locator(".field-form")
    form.get_by_label("Field id").fill(field_id)
    form.get_by_label("Type").select_option("text")
    form.get_by_label("Label in English").fill("Purchase order number")
    form.get_by_label("Label in Chinese").fill("采购订单号")
    form.get_by_label("Required").check()
    form.get_by_label("Most characters").fill("30")
    form.get_by_label("Ask only when").select_option(label="Customer: Customer type")
    form.get_by_label("Value of the condition").select_option("b2b")
    form.get_by_role("button", name="Add field").click()
    status = builder.locator("[data-role=builder-status]")
    expect(status).to_have_text(f"Field {field_id} added. The definition is valid.")
    card = builder.locator(f".field-card[data-field='{field_id}']")
    expect(card).to_contain_text("Purchase order number · 采购订单号")
    expect(card).to_contain_text("purchase_order · text · required · shown when customer.type == 'b2b'")
    expect(preview.locator(f"#f-{field_id}")).to_have_count(1)  # the live preview of the entry page

    text = _switch_to_text_and_back(page, comments, "Form builder")
    assert (
        f"  - id: {field_id}\n    type: text\n    label: {{en: Purchase order number, zh: 采购订单号}}\n"
        "    required: true\n    visible_if: \"customer.type == 'b2b'\"\n    max_length: 30\n"
    ) in text
    # Moved up a place by clicking, then back down: the text is the same again.
    last = len(load(text).raw["fields"]) - 1
    cards = builder.locator(".field-card")
    expect(cards.nth(last)).to_have_attribute("data-field", field_id)
    card.get_by_role("button", name=f"Move field {field_id} up").click()
    expect(cards.nth(last - 1)).to_have_attribute("data-field", field_id)
    cards.nth(last - 1).get_by_role("button", name=f"Move field {field_id} down").click()
    expect(cards.nth(last)).to_have_attribute("data-field", field_id)
    assert editor_text(page) == text

    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Note: why this change").fill("business orders need their purchase order number")
    dialog.get_by_role("button", name=re.compile(r"^Publish v\d+$")).click()
    expect(page.locator(".notices .notice.ok")).to_contain_text("Published form order")

    # The entry page asks for it once the customer is a business.
    entry = signed_in_at("operator", "/orders/new")
    field = entry.get_by_label("Purchase order number")
    expect(field).to_be_hidden()
    entry.get_by_label("Customer type").select_option("b2b")
    expect(field).to_be_visible()
    expect(entry.locator(f"#f-{field_id}")).to_have_attribute("required", "")

    # The API refuses a business order without it, naming the field; with it, the order is taken.
    business = {"name": "Bea Business", "email": "bea@example.com", "type": "b2b"}
    refused = stack.submit(order_payload(customer=business))
    assert refused.status_code == 422, refused.text
    assert any(e.get("field") == field_id for e in refused.json()["errors"]), refused.text
    taken = stack.submit(order_payload(customer=business, **{field_id: f"PO-{unique()}"}))
    assert taken.status_code == 201, taken.text
    assert stack.submit(order_payload()).status_code == 201  # consumers are not asked
