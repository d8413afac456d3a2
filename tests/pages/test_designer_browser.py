"""The designer in a real browser (Debian's Chromium via Playwright), on SQLite and PostgreSQL.

The main story: an analyst opens the audit rules, introduces an error and sees
it on its line, fixes it, adds a rule with a test case, runs what-if and sees
the orders it would hold in place, publishes after reading the diff and
writing a note, and the next such order lands in the operator inbox. The new
rule only matches an e-mail address of the test's own, so other tests' orders
are never held by it. Then: unsaved edits are never lost silently, YAML
syntax errors are said in plain words at their line, the diagram zooms and
shows where an order is, and analysts land on the designer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, order_payload, unique
from tests.pages.conftest import editor_text

# Screenshots of the pages these tests visit, for a person to look at (not compared).
SHOTS = Path(os.environ.get("OMS_TEST_SHOTS", "/tmp/oms-shots"))
SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def signed_in(browser, stack) -> Callable[..., Page]:
    """A function: a fresh browser context signed in as ``role`` (optionally without JavaScript)."""
    contexts = []

    def open_as(role: str, javascript: bool = True) -> Page:
        context = browser.new_context(base_url=stack.base_url, java_script_enabled=javascript)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
        page.goto("/definitions")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fdefinitions$"))
        page.get_by_label("Username").fill(role)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Definitions")
        return page

    yield open_as
    for context in contexts:
        context.close()


def _replace_text(page: Page, text: str) -> None:
    """Select everything in the editor and type ``text`` over it (as a paste would)."""
    page.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_analyst_changes_the_audit_rules_and_the_next_order_is_held(stack, signed_in):
    email = f"{unique('watch').lower()}@example.com"
    recorded = [
        stack.submit(order_payload(customer={"name": "Wanda Watch", "email": email})).json()["id"] for _ in range(2)
    ]
    for order_id in recorded:
        assert stack.wait_for(order_id, lambda o: o.get("audit") is not None)["audit"]["action"] == "approve"
    with stack.client("analyst") as client:
        live = client.get("/api/definitions/rules/order_audit").json()["live"]

    page = signed_in("analyst")
    page.locator("tr[data-definition='rules/order_audit']").get_by_role("link", name="order_audit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("rules order_audit")
    expect(page.locator(".cm-editor")).to_be_visible()
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")

    # An error: the server's message appears at its line, in the editor and in the list.
    broken = live["text"].replace("hit_policy: collect", "hit_policy: all", 1)
    line = _line_of(broken, "hit_policy: all")
    _replace_text(page, broken)
    expect(page.locator("[data-role=status]")).to_have_text("1 problem found.")
    problem = page.locator("ol.problems li")
    expect(problem).to_have_count(1)
    expect(problem).to_have_attribute("data-line", str(line))
    expect(problem).to_contain_text(f"Line {line} $.hit_policy 'all' is not one of 'first', 'collect'")
    marked = page.locator(".cm-line", has=page.locator(".cm-lintRange-error"))
    expect(marked.first).to_be_visible()
    assert {text.split("#")[0].strip() for text in marked.all_inner_texts()} == {"hit_policy: all"}

    # Fixed, with a new rule and a test case for it.
    rule = (
        "rules:\n  - id: watched_customer\n"
        f"    when: \"order.customer.email == '{email}'\"\n"
        '    action: review\n    reason: "customer {{ order.customer.email }} is on the watch list"\n'
    )
    case = (
        "  - name: a watched customer is held\n"
        f"    order: {{customer: {{email: '{email}'}}}}\n"
        "    expect: {action: review, fired: [watched_customer]}\n"
    )
    draft = live["text"].replace("rules:\n", rule, 1)
    draft = (
        draft.replace("\ntests:\n", "\ntests:\n" + case, 1) if "\ntests:\n" in draft else draft + "\ntests:\n" + case
    )
    _replace_text(page, draft)
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    expect(page.locator("table.tests tr[data-case='0']")).to_contain_text("a watched customer is held")
    expect(page.locator("table.tests tr[data-case='0']")).to_contain_text("passes")
    expect(page.locator("table.tests tr.refused")).to_have_count(0)

    # What-if over the recorded orders, in place under its button: both would now be held, by the new rule.
    page.evaluate("window.__same_page = 1")
    page.get_by_label("Run the draft over the last").fill("500")
    page.get_by_role("button", name="Run what-if").click()
    result = page.locator("[data-role=whatif] section.whatif")
    expect(result.locator("h3")).to_contain_text("would now be held")
    for order_id in recorded:
        row = result.locator(f"table.whatif-orders tr[data-order='{order_id}']")
        expect(row).to_contain_text("approve")
        expect(row).to_contain_text(f"watched_customer review: customer {email} is on the watch list")
    assert page.evaluate("window.__same_page") == 1  # no page load: the editor keeps its text and place
    page.screenshot(path=str(SHOTS / "designer_whatif.png"))
    assert editor_text(page) == draft
    assert stack.order(recorded[0])["audit"]["action"] == "approve"  # what-if changed nothing

    # Publish: first the diff against the live version and a note; a new version only on confirm.
    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(f"Publish rules order_audit as v{live['version'] + 1}?")
    expect(dialog.locator("table.diff tr.added").first).to_contain_text("- id: watched_customer")
    expect(dialog).to_contain_text(f"Changes against the live version v{live['version']}")
    page.screenshot(path=str(SHOTS / "designer_publish.png"))
    dialog.get_by_role("button", name="Back to editing").click()
    expect(dialog).to_have_count(0)
    with stack.client("analyst") as client:  # nothing published by looking
        assert client.get("/api/definitions/rules/order_audit").json()["live"]["version"] == live["version"]
    page.get_by_role("button", name="Publish…").click()
    dialog.get_by_role("button", name=f"Publish v{live['version'] + 1}").click()  # without a note: asked for one
    expect(dialog.locator("[data-role=note-error]")).to_have_text("Write a note first: say why this change is made.")
    dialog.get_by_label("Note: why this change").fill("watch list")
    dialog.get_by_role("button", name=f"Publish v{live['version'] + 1}").click()
    expect(page.locator(".notices .notice.ok")).to_have_text(f"Published rules order_audit v{live['version'] + 1}.")
    expect(page).to_have_url(re.compile(r"/definitions/rules/order_audit$"))
    with stack.client("analyst") as client:
        assert client.get("/api/definitions/rules/order_audit").json()["live"]["note"] == "watch list"

    held = stack.submit(order_payload(customer={"name": "Wanda Watch", "email": email}))
    assert held.status_code == 201, held.text
    held_id = held.json()["id"]
    stack.open_task(held_id)
    inbox = signed_in("operator")
    inbox.goto("/inbox?reason=watch+list")
    row = inbox.locator("table.tasks tbody tr").filter(has=inbox.get_by_role("link", name=held_id, exact=True))
    expect(row).to_contain_text(f"customer {email} is on the watch list")


XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def test_definition_texts_are_shown_as_text_and_run_nothing(stack, signed_in):
    name = "xss_" + unique("f").lower().replace("-", "_")
    flow = (
        f"kind: flow\nname: {name}\ntitle: '{XSS}'\nform: order\nstart: audit\nsteps:\n"
        "  - id: audit\n    type: audit\n    rules: order_audit\n"
        "    on: {approve: done, review: check, reject: done}\n"
        f"  - id: check\n    type: approval\n    title: '{XSS}'\n    role: operator\n    due: 1h\n"
        "    on: {approve: done}\n    on_timeout: done\n"
        "  - id: done\n    type: end\n    status: completed\n"
        f"tests:\n  - name: '{XSS}'\n    audit: review\n    decisions: {{check: approve}}\n    expect: {{end: done}}\n"
    )
    stack.publish(flow)
    page = signed_in("analyst")
    expect(page.locator(f"tr[data-definition='flow/{name}']")).to_contain_text(XSS)
    page.goto(f"/definitions/flow/{name}")
    expect(page.locator("svg.flow-diagram g.node[data-step='check'] text.title")).to_have_text(XSS[:25] + "…")
    expect(page.locator("table.tests")).to_contain_text(XSS)
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)  # the browser's schema checks agree
    # The diagram follows the draft as it changes.
    _replace_text(page, flow.replace("status: completed", "status: finished"))
    expect(page.locator("svg.flow-diagram g.node[data-step='done'] text.detail")).to_have_text("end · finished")
    assert page.evaluate("window.__xss") is None
    _replace_text(page, flow)  # back to the saved text: leaving asks nothing
    expect(page.locator("svg.flow-diagram g.node[data-step='done'] text.detail")).to_have_text("end · completed")
    page.goto(f"/definitions/flow/{name}/history")
    assert page.evaluate("window.__xss") is None
    assert page.locator("script:not([src]):not([type='application/json'])").count() == 0


def test_without_javascript_the_editor_is_a_form(stack, signed_in):
    name = "nojs_" + unique("r").lower().replace("-", "_")
    text = (
        f'kind: rules\nname: {name}\n# held above 100\nrules:\n  - id: big\n    when: "order.total > 100"\n'
        "    action: review\n    reason: big\n"
    )
    stack.publish(text)
    page = signed_in("analyst", javascript=False)
    page.goto(f"/definitions/rules/{name}")
    editor = page.get_by_label("Definition text")
    expect(editor).to_have_value(text)
    editor.fill(text.replace("action: review", "action: hold"))
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("ol.problems li")).to_contain_text("Line 7 $.rules[0].action")
    # A failing test case refuses the publish and shows the case.
    failing = (
        text.replace("> 100", "> 200")
        + "tests:\n  - name: 150 is held\n    order: {total: 150}\n    expect: {action: review}\n"
    )
    page.get_by_label("Definition text").fill(failing)
    page.get_by_role("button", name="Publish…").click()
    expect(page.get_by_role("alert").first).to_contain_text("Not published: 1 problem")
    expect(page.locator("table.tests tr.refused")).to_contain_text("150 is held")
    expect(page.locator("ol.problems li")).to_contain_text(
        "Line 10 $.tests[0] test '150 is held' failed: expected action review, got approve"
    )
    page.get_by_label("Definition text").fill(text.replace("> 100", "> 200"))
    page.get_by_role("button", name="Publish…").click()
    # Without JavaScript the publish step is a page: the diff against v1 and the note.
    confirm = page.locator("section.publish-confirm")
    expect(confirm.get_by_role("heading")).to_have_text(f"Publish rules {name} as v2?")
    expect(confirm.locator("table.diff tr.removed")).to_contain_text('when: "order.total > 100"')
    expect(confirm.locator("table.diff tr.added")).to_contain_text('when: "order.total > 200"')
    page.get_by_role("button", name="Publish v2").click()
    expect(page.get_by_role("alert").first).to_have_text(
        "Write a note first: say why this change is made. Nothing was published."
    )
    page.get_by_label("Note: why this change").fill("raise to 200")
    page.get_by_role("button", name="Publish v2").click()
    expect(page.locator(".notices .notice.ok")).to_have_text(f"Published rules {name} v2.")
    expect(page.get_by_label("Definition text")).to_have_value(text.replace("> 100", "> 200"))

    # A draft is kept for its author and shown instead of the live text until discarded.
    page.get_by_label("Definition text").fill(text.replace("> 100", "> 300"))
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".notices .notice.ok")).to_contain_text("Draft saved.")
    expect(page.locator(".draft-notice")).to_contain_text("You are editing your draft")
    expect(page.get_by_label("Definition text")).to_have_value(text.replace("> 100", "> 300"))
    page.get_by_role("button", name="Discard draft").click()
    expect(page.locator(".notices .notice.ok")).to_have_text("Draft discarded; the editor shows the live version.")
    expect(page.get_by_label("Definition text")).to_have_value(text.replace("> 100", "> 200"))

    page.goto(f"/definitions/rules/{name}/history?from=1&to=2")
    expect(page.locator("table.diff tr.removed")).to_contain_text('when: "order.total > 100"')
    expect(page.locator("table.diff tr.added")).to_contain_text('when: "order.total > 200"')
    page.locator("tr[data-version='1']").get_by_role("button", name="Publish v1 again").click()
    expect(page.locator(".notices .notice.ok")).to_have_text("Rolled back: v1's text is live again as v3.")


def test_operators_read_but_cannot_publish(stack, signed_in):
    page = signed_in("operator")
    page.goto("/definitions/rules/order_audit")
    expect(page.locator(".notice.info")).to_contain_text("editing and publishing needs analyst or admin")
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    status = page.evaluate("""async () => {
        const form = new FormData(document.getElementById('definition-form'));
        form.set('action', 'publish');
        return (await fetch('/definitions/editor', {method: 'POST', body: form})).status;
    }""")
    assert status == 403
    page.goto("/definitions/log")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("alert")).to_have_text("The publish log is for admins.")


def test_a_new_rule_set_from_the_template_is_published(stack, signed_in):
    name = "new_" + unique("r").lower().replace("-", "_")
    page = signed_in("analyst")
    page.get_by_label("New definition of kind").select_option("rules")
    page.get_by_role("button", name="New definition").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New rules new_rules")
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    template = editor_text(page)
    _replace_text(page, template.replace("name: new_rules", f"name: {name}"))
    expect(page.locator("table.tests")).to_contain_text("a big order is held")
    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Nothing named {name} is live yet: this will be version 1")
    dialog.get_by_label("Note: why this change").fill("first rules")
    dialog.get_by_role("button", name="Publish v1").click()
    expect(page.locator(".notices .notice.ok")).to_have_text(f"Published rules {name} v1.")
    expect(page).to_have_url(re.compile(rf"/definitions/rules/{name}$"))


def _a_rule_set(stack, prefix: str) -> tuple[str, str]:
    name = prefix + "_" + unique("r").lower().replace("-", "_")
    text = (
        f'kind: rules\nname: {name}\nrules:\n  - id: big\n    when: "order.total > 100"\n'
        '    action: review\n    reason: "big order"\ntests:\n  - name: a big order is held\n'
        "    order: {total: 150}\n    expect: {action: review}\n  - name: a small one passes\n"
        "    order: {total: 50}\n    expect: {action: approve}\n"
    )
    stack.publish(text)
    return name, text


def test_leaving_with_unsaved_edits_warns_and_staying_keeps_them(stack, signed_in_at):
    name, text = _a_rule_set(stack, "leave")
    page = signed_in_at("analyst", f"/definitions/rules/{name}")
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    # Nothing edited: links simply go.
    page.get_by_role("link", name="All definitions").click()
    expect(page).to_have_url(re.compile(r"/definitions$"))
    page.goto(f"/definitions/rules/{name}")
    edited = text.replace("> 100", "> 120")
    _replace_text(page, edited)
    # A link in the page: asked first; staying keeps the edits.
    page.get_by_role("link", name="All definitions").click()
    leave = page.get_by_role("dialog")
    expect(leave.get_by_role("heading")).to_have_text("Leave with unsaved edits?")
    page.screenshot(path=str(SHOTS / "designer_leave.png"))
    leave.get_by_role("button", name="Stay on this page").click()
    expect(leave).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"/definitions/rules/{name}$"))
    assert editor_text(page) == edited
    # Closing or reloading the tab: the browser's own warning (dismissed: the page stays).
    seen: list[str] = []

    def answer(dialog):
        seen.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.close(run_before_unload=True)
    page.wait_for_timeout(300)
    assert seen == ["beforeunload"]
    assert not page.is_closed()
    assert editor_text(page) == edited
    page.remove_listener("dialog", answer)
    # Leaving on purpose, from the in-page warning, goes.
    page.get_by_role("link", name="All definitions").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave without saving").click()
    expect(page).to_have_url(re.compile(r"/definitions$"))
    # Saving a draft (a form post) is not leaving with unsaved edits: no warning.
    page.goto(f"/definitions/rules/{name}")
    _replace_text(page, edited)
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator(".notices .notice.ok")).to_contain_text("Draft saved.")
    page.get_by_role("link", name="All definitions").click()
    expect(page).to_have_url(re.compile(r"/definitions$"))


def test_a_yaml_syntax_error_is_said_in_plain_words_at_its_line_and_the_cases_stay_listed(stack, signed_in_at):
    name, text = _a_rule_set(stack, "syntax")
    page = signed_in_at("analyst", f"/definitions/rules/{name}")
    expect(page.locator("table.tests tr.ok")).to_have_count(2)
    broken = text.replace('reason: "big order"', 'reason: "big order')
    line = _line_of(broken, 'reason: "big order')
    _replace_text(page, broken)
    expect(page.locator("[data-role=status]")).to_have_text("1 problem found.")
    problem = page.locator("ol.problems li")
    expect(problem).to_have_attribute("data-line", str(line))
    expect(problem).to_contain_text(f"Line {line} $ the quote opened on line {line} is never closed")
    marked = page.locator(".cm-line", has=page.locator(".cm-lintRange-error"))
    expect(marked.first).to_contain_text('reason: "big order')
    # The stored test cases are still listed, as not run.
    cases = page.locator("table.tests tr.not-run")
    expect(cases).to_have_count(2)
    expect(cases.first).to_contain_text("a big order is held")
    expect(cases.first).to_contain_text("not run")
    page.screenshot(path=str(SHOTS / "designer_syntax_error.png"), full_page=True)
    # A schema error: the cases are listed too, not run.
    _replace_text(page, text.replace("action: review", "action: hold"))
    expect(page.locator("ol.problems li").first).to_contain_text("$.rules[0].action 'hold' is not one of")
    expect(page.locator("table.tests tr.not-run")).to_have_count(2)
    # Clicking a case goes to its line.
    page.locator("table.tests").get_by_role("link", name="a small one passes").click()
    cursor = page.evaluate("window.omsEditor.state.doc.lineAt(window.omsEditor.state.selection.main.head).number")
    assert cursor == _line_of(text, "- name: a small one passes")


def test_the_diagram_zooms_fits_and_shows_where_an_order_is(stack, signed_in_at):
    unpaid = stack.submit(order_payload(payment={"method": "invoice", "status": "pending"}))
    assert unpaid.status_code == 201, unpaid.text
    order_id = unpaid.json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    page = signed_in_at("analyst", f"/definitions/flow/order/diagram?order={order_id}")
    current = page.locator("svg.flow-diagram g.node.current")
    expect(current).to_have_count(1)
    expect(current).to_have_attribute("data-step", "await_payment")
    for step in ("audit", "reserve"):  # the steps its timeline names
        expect(page.locator(f"svg.flow-diagram g.node[data-step='{step}']")).to_have_class(re.compile(r"\bvisited\b"))
    expect(page.locator("svg.flow-diagram g.node[data-step='ship']")).not_to_have_class(re.compile(r"visited|current"))
    expect(page.locator("[data-role=order-position]")).to_contain_text(f"{order_id} runs v")
    expect(page.locator("[data-role=order-position]")).to_contain_text("is at step await_payment")
    expect(current).to_be_in_viewport()
    page.screenshot(path=str(SHOTS / "designer_diagram_order.png"))

    frame = page.locator("[data-role=diagram]")
    svg = page.locator("svg.flow-diagram")
    tools = page.get_by_role("toolbar", name="Diagram zoom")

    def width() -> float:
        return float(svg.get_attribute("width"))

    natural = float(svg.get_attribute("data-width"))
    tools.get_by_role("button", name="Fit to screen").click()
    fitted = svg.bounding_box()
    box = frame.bounding_box()
    assert fitted["width"] <= box["width"] + 1 and fitted["height"] <= page.viewport_size["height"]
    tools.get_by_role("button", name="Actual size").click()
    expect(tools.locator("[data-role=zoom-level]")).to_have_text("100%")
    assert width() == natural
    tools.get_by_role("button", name="Zoom in").click()
    expect(tools.locator("[data-role=zoom-level]")).to_have_text("125%")
    assert width() == round(natural * 1.25)
    tools.get_by_role("button", name="Zoom out").click()
    tools.get_by_role("button", name="Zoom out").click()
    expect(tools.locator("[data-role=zoom-level]")).to_have_text("80%")

    # An order that does not exist: said so, and the live version is shown.
    page.goto("/definitions/flow/order/diagram?order=no-such-order")
    expect(page.get_by_role("alert")).to_contain_text("No order 'no-such-order' that you may see")
    expect(page.locator("svg.flow-diagram g.node.current")).to_have_count(0)

    # In the editor the same controls, and the scale stays as the diagram follows the text.
    page.goto("/definitions/flow/order")
    tools = page.get_by_role("toolbar", name="Diagram zoom")
    tools.get_by_role("button", name="Actual size").click()
    tools.get_by_role("button", name="Zoom out").click()
    expect(tools.locator("[data-role=zoom-level]")).to_have_text("80%")
    text = editor_text(page)
    _replace_text(page, text.replace("status: completed", "status: finished"))
    expect(page.locator("svg.flow-diagram g.node[data-step='completed'] text.detail")).to_have_text("end · finished")
    assert float(page.locator("svg.flow-diagram").get_attribute("width")) == round(natural * 0.8)
    page.screenshot(path=str(SHOTS / "designer_editor_flow.png"), full_page=True)


@pytest.mark.parametrize(("role", "landing"), [("analyst", "/definitions"), ("operator", "/inbox")])
def test_people_land_on_their_work_after_signing_in(stack, browser, role, landing):
    context = browser.new_context(base_url=stack.base_url)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Username").fill(role)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(re.escape(landing) + "$"))
        page.goto("/login")  # signed in already: straight to the same place
        expect(page).to_have_url(re.compile(re.escape(landing) + "$"))
    finally:
        context.close()


def test_the_return_flow_counts_its_returns(stack, signed_in_at):
    page = signed_in_at("analyst", "/definitions")
    row = page.locator("tr[data-definition='flow/return']")
    expect(row.locator("td[data-count=orders]")).to_contain_text("returns")
    expect(row.locator("td[data-count=all]")).to_contain_text("returns")
    expect(page.locator("tr[data-definition='flow/order'] td[data-count=orders]")).not_to_contain_text("returns")
    page.screenshot(path=str(SHOTS / "designer_definitions.png"), full_page=True)
