"""The designer in a real browser (Debian's Chromium via Playwright), on SQLite and PostgreSQL.

The main story: an analyst opens the audit rules, introduces an error and sees
it on its line, fixes it, adds a rule with a test case, runs what-if and sees
the orders it would hold, publishes, and the next such order lands in the
operator inbox. The new rule only matches an e-mail address of the test's
own, so other tests' orders are never held by it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, order_payload, unique


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
    page.screenshot(path="/tmp/x/designer_error.png", full_page=True)

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

    # What-if over the recorded orders: both would now be held, by the new rule.
    page.get_by_label("Run the draft over the last").fill("500")
    page.get_by_role("button", name="Run what-if").click()
    expect(page.locator("section.whatif h2")).to_contain_text("would now be held")
    for order_id in recorded:
        row = page.locator(f"table.whatif-orders tr[data-order='{order_id}']")
        expect(row).to_contain_text("approve")
        expect(row).to_contain_text(f"watched_customer review: customer {email} is on the watch list")
    assert stack.order(recorded[0])["audit"]["action"] == "approve"  # what-if changed nothing

    # Publish: a new version, used by the next order.
    page.get_by_label("Note (why this change)").fill("watch list")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".notices .notice.ok")).to_have_text(f"Published rules order_audit v{live['version'] + 1}.")
    expect(page).to_have_url(re.compile(r"/definitions/rules/order_audit$"))

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
    expect(page.locator("svg.flow-diagram g.node[data-step='check'] text.title")).to_have_text(XSS[:35] + "…")
    expect(page.locator("table.tests")).to_contain_text(XSS)
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    expect(page.locator(".cm-lintRange-error")).to_have_count(0)  # the browser's schema checks agree
    # The diagram follows the draft as it changes.
    _replace_text(page, flow.replace("status: completed", "status: finished"))
    expect(page.locator("svg.flow-diagram g.node[data-step='done'] text.detail")).to_have_text("end · finished")
    assert page.evaluate("window.__xss") is None
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
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("alert").first).to_contain_text("Not published: 1 problem")
    expect(page.locator("table.tests tr.refused")).to_contain_text("150 is held")
    expect(page.locator("ol.problems li")).to_contain_text(
        "Line 10 $.tests[0] test '150 is held' failed: expected action review, got approve"
    )
    page.get_by_label("Definition text").fill(text.replace("> 100", "> 200"))
    page.get_by_label("Note (why this change)").fill("raise to 200")
    page.get_by_role("button", name="Publish").click()
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
    template = page.evaluate("window.omsEditor.state.doc.toString()")
    _replace_text(page, template.replace("name: new_rules", f"name: {name}"))
    expect(page.locator("table.tests")).to_contain_text("a big order is held")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".notices .notice.ok")).to_have_text(f"Published rules {name} v1.")
    expect(page).to_have_url(re.compile(rf"/definitions/rules/{name}$"))
