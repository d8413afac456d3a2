"""Flow editing on the diagram in a real browser, as an analyst who never saw YAML.

The analyst inserts an approval step after the payment by clicking on the
diagram, switches to the YAML text and back (the text is valid, every comment is
still there), publishes, and sees a new order stop at the new step once its
payment arrives. The live flow is published again at the end.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.definitions import load
from tests.conftest import order_payload
from tests.pages.conftest import editor_text
from tests.pages.test_nocode_browser import _comments, _live, restored  # noqa: F401  (restored: a fixture)


def test_analyst_inserts_an_approval_step_after_payment_on_the_diagram(stack, signed_in_at, restored):  # noqa: F811
    restored("flow", "order")
    live = _live(stack, "flow", "order")
    comments = _comments(live)

    page = signed_in_at("analyst", "/definitions/flow/order")
    expect(page.locator(".cm-editor")).to_be_visible()
    page.get_by_role("tab", name="Flow editor").click()
    editor = page.locator("[data-role=flow-editor]")
    expect(page.locator(".cm-editor")).to_be_hidden()
    payment = editor.get_by_role("button", name="Step record_payment (activity)")
    expect(payment).to_be_visible()
    payment.click()
    side = editor.locator(".fe-step[data-step='record_payment']")
    expect(side.get_by_role("heading", name="Step record_payment")).to_be_visible()
    expect(side.locator(".fe-references")).to_contain_text("await_payment · payment_received")

    form = side.locator("form.fe-insert")
    form.get_by_label("Type of the new step").select_option("approval")
    form.get_by_label("Id of the new step").fill("approve_payment")
    form.get_by_label("Title").fill("Check the payment")
    form.get_by_label("Status shown on the order").fill("payment_check")
    form.get_by_label("Due in").fill("3 days")
    form.get_by_label("On reject go to").select_option("release_cancelled")
    form.get_by_role("button", name="Add step").click()
    status = editor.locator("[data-role=flow-status]")
    expect(status).to_have_text("Step approve_payment added after record_payment (next). The flow is valid.")
    added = editor.get_by_role("button", name="Step approve_payment (approval)")
    expect(added).to_be_visible()
    side = editor.locator(".fe-step[data-step='approve_payment']")
    expect(side.get_by_label("due of approve_payment")).to_have_value("3 days")
    expect(side.get_by_label("Outcome approve of approve_payment goes to")).to_have_value("delivery_method")
    expect(side.locator(".fe-references")).to_contain_text("record_payment · next")

    # A step deleted shows who led to it first; cancelling nothing is changed. A bad wait is refused by path.
    side.get_by_role("button", name="Delete step approve_payment…").click()
    expect(side.locator(".fe-delete")).to_contain_text("1 reference to approve_payment:")
    expect(side.locator(".fe-delete")).to_contain_text("$.steps[5].next (record_payment · next)")
    side.get_by_label("due of approve_payment").fill("3 dayz")
    side.locator("form.fe-duration").get_by_role("button", name="Set").click()
    expect(status).to_have_text(
        "Not changed: $.steps[6].due: 'dayz' is not a unit; write a number and a unit, "
        "e.g. '3 days', '4 hours' or '1 day 12 hours'"
    )

    # Text and back: valid, every comment still there.
    page.get_by_role("tab", name="YAML text").click()
    expect(page.locator(".cm-editor")).to_be_visible()
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    text = editor_text(page)
    assert [c for c in comments if c not in _comments(text)] == []
    assert "    next: approve_payment\n\n  - id: approve_payment\n    type: approval\n" in text
    assert "    due: 3d\n    on: {approve: delivery_method, reject: release_cancelled}\n" in text
    assert load(text).errors == ()
    page.get_by_role("tab", name="Flow editor").click()
    expect(editor.get_by_role("button", name="Step approve_payment (approval)")).to_be_visible()

    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Note: why this change").fill("payments are checked by a person")
    dialog.get_by_role("button", name=re.compile(r"^Publish v\d+$")).click()
    expect(page.locator(".notices .notice.ok")).to_contain_text("Published flow order")
    assert _live(stack, "flow", "order") == text

    # A new order, paid later: it stops at the new step, a task for an operator.
    order_id = stack.submit(order_payload(payment={"method": "invoice", "status": "pending"})).json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    with stack.client("operator") as client:
        answer = client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"})
        assert answer.status_code == 202, answer.text
    stack.wait_status(order_id, "payment_check")
    task = stack.open_task(order_id)
    assert task["step"] == "approve_payment"


def test_analyst_inserts_an_http_step_after_payment_connects_it_and_publishes(stack, signed_in_at, restored):  # noqa: F811
    restored("flow", "order")
    comments = _comments(_live(stack, "flow", "order"))

    page = signed_in_at("analyst", "/definitions/flow/order")
    expect(page.locator(".cm-editor")).to_be_visible()
    page.get_by_role("tab", name="Flow editor").click()
    editor = page.locator("[data-role=flow-editor]")
    status = editor.locator("[data-role=flow-status]")

    def add_http_after_payment(step_id: str, **fields: str) -> None:
        editor.get_by_role("button", name="Step record_payment (activity)").click()
        form = editor.locator(".fe-step[data-step='record_payment'] form.fe-insert")
        form.get_by_label("Type of the new step").select_option("http")
        form.get_by_label("Id of the new step").fill(step_id)
        for label, value in fields.items():
            control = form.get_by_label(re.compile("^" + re.escape(label)))  # its name goes on with its value
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(value)
            else:
                control.fill(value)
        form.get_by_role("button", name="Add step").click()

    # A plain-http URL to another machine is written, and validation marks it on the new node.
    add_http_after_payment("score", **{"Or an https URL": "http://risk.example.com/v1/score"})
    expect(status).to_have_text(
        "Step score added after record_payment (next). 1 problem to fix: see the steps marked ⚠."
    )
    marked = editor.get_by_role("button", name="Step score (http), 1 problem")
    expect(marked).to_be_visible()
    expect(marked.locator(".fe-warn")).to_have_text("⚠ 1")
    side = editor.locator(".fe-step[data-step='score']")
    expect(side.locator(".fe-errors")).to_contain_text("$.steps[6].url: must be https: plain http is accepted only")
    side.get_by_role("button", name="Delete step score…").click()
    expect(side.get_by_label("Steps that led to score now go to")).to_have_value("delivery_method")
    side.get_by_role("button", name="Delete score").click()
    expect(status).to_have_text("Step score deleted. The flow is valid.")

    # The analyst's http step: a named endpoint and its path, a body, a saved value, two error outcomes.
    add_http_after_payment(
        "fraud_check",
        **{
            "Title": "Ask the fraud service",
            "Method": "POST",
            "Endpoint (named in OMS_HTTP_ENDPOINTS)": "fraud",
            "Path after the endpoint": "/v1/score/{{ order.id | urlencode }}",
            "Body (optional)": '{"order": {{ order.id | tojson }},\n "total": {{ order.total }}}',
            "Name of saved value 1": "score",
            "Expression of saved value 1": "body.score",
            "Errors that go elsewhere": "5xx, timeout",
        },
    )
    expect(status).to_have_text("Step fraud_check added after record_payment (next). The flow is valid.")
    added = editor.get_by_role("button", name="Step fraud_check (http): Ask the fraud service")
    expect(added).to_be_visible()
    expect(added.locator(".fe-type")).to_have_text("http · POST")
    side = editor.locator(".fe-step[data-step='fraud_check']")
    expect(side.get_by_label("Outcome next of fraud_check goes to")).to_have_value("delivery_method")
    expect(side.get_by_label("Outcome error 5xx of fraud_check goes to")).to_have_value("delivery_method")
    expect(side.locator(".fe-references")).to_contain_text("record_payment · next")

    # Connected on the diagram: a failing fraud service sends the order to a person's review.
    side.get_by_label("Outcome error 5xx of fraud_check goes to").select_option("manual_review")
    expect(status).to_have_text("fraud_check error 5xx now goes to manual_review. The flow is valid.")
    side = editor.locator(".fe-step[data-step='fraud_check']")
    side.get_by_label("Outcome error timeout of fraud_check goes to").select_option("manual_review")
    expect(status).to_have_text("fraud_check error timeout now goes to manual_review. The flow is valid.")

    page.get_by_role("tab", name="YAML text").click()
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    text = editor_text(page)
    assert [c for c in comments if c not in _comments(text)] == []
    assert (
        "    next: fraud_check\n\n"
        "  - id: fraud_check\n"
        "    type: http\n"
        "    title: Ask the fraud service\n"
        "    method: POST\n"
        "    endpoint: fraud\n"
        '    path: "/v1/score/{{ order.id | urlencode }}"\n'
        "    body: |\n"
        '      {"order": {{ order.id | tojson }},\n'
        '       "total": {{ order.total }}}\n'
        "    save: {score: body.score}\n"
        "    next: delivery_method\n"
        "    on_error: {5xx: manual_review, timeout: manual_review}\n\n"
        "  # Store customers may take the goods with them.\n" in text
    )
    assert load(text).errors == ()

    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Note: why this change").fill("orders are scored by the fraud service once paid")
    dialog.get_by_role("button", name=re.compile(r"^Publish v\d+$")).click()
    expect(page.locator(".notices .notice.ok")).to_contain_text("Published flow order")
    assert _live(stack, "flow", "order") == text
