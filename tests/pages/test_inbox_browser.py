"""The operator inbox and order page in a real browser (Debian's Chromium via Playwright).

Every test runs on both stacks (SQLite and PostgreSQL) like the integration
tests. Each test submits its orders on a channel of its own and filters the
inbox by it, so tests never see each other's tasks.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, fast_flow, order_payload, unique

HELD = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a new address: review


@pytest.fixture(scope="module")
def slow_review(stack) -> str:
    """The shipped flow with reviews that wait long enough for people to act."""
    name = "pages_" + unique("f").lower().replace("-", "_")
    stack.publish(fast_flow(name, review_due="10m", escalation_due="10m"))
    return name


@pytest.fixture
def signed_in(browser, stack) -> Callable[[str], Page]:
    """A function: a fresh browser context signed in to the pages as ``role``."""
    contexts = []

    def open_as(role: str) -> Page:
        context = browser.new_context(base_url=stack.base_url)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/inbox")
        expect(page).to_have_url(re.compile(r"/login\?next=%2Finbox$"))
        page.get_by_label("Username").fill(role)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Inbox")
        return page

    yield open_as
    for context in contexts:
        context.close()


def _new_channel(stack) -> str:
    """A channel of the test's own (channels are definitions; unknown ones are refused)."""
    name = "pages_" + uuid.uuid4().hex[:10]
    stack.publish(f"kind: channel\nname: {name}\ntitle: Browser test orders\ntype: phone\nflow: order\n")
    return name


def _held_orders(stack, flow: str, count: int = 1, **overrides) -> tuple[str, list[str], list[str]]:
    """``count`` orders held for review on a new channel: (channel, order ids, task ids)."""
    channel = _new_channel(stack)
    order_ids = []
    for _ in range(count):
        response = stack.submit(order_payload(lines=HELD, channel=channel, **overrides), flow=flow)
        assert response.status_code == 201, response.text
        order_ids.append(response.json()["id"])
    return channel, order_ids, [stack.open_task(order_id)["id"] for order_id in order_ids]


def _filter_by_channel(page: Page, channel: str) -> None:
    page.get_by_label("Channel").select_option(channel)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"/inbox\?.*\bchannel={channel}&"))


def _row(page: Page, order_id: str):
    return page.locator("table.tasks tbody tr").filter(has=page.get_by_role("link", name=order_id, exact=True))


def _notice(page: Page, text: str):
    return page.locator(".notices .notice").filter(has_text=text)


def _task(stack, task_id: str) -> dict:
    with stack.client("operator") as client:
        return client.get(f"/api/tasks/{task_id}").json()


def test_operator_filters_claims_and_rejects_with_a_comment(stack, slow_review, signed_in):
    channel, [order_id], [_task_id] = _held_orders(stack, slow_review)
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    expect(page.locator("table.tasks tbody tr")).to_have_count(1)
    row = _row(page, order_id)
    expect(row).to_contain_text("amount 5196 to a first-time address")
    expect(row).to_contain_text("5,196.00")

    row.get_by_role("button", name=f"Claim order {order_id}", exact=True).click()
    expect(_notice(page, f"You claimed the task on order {order_id}.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/inbox\?channel={channel}$"))
    expect(row.locator("td.claimed > span")).to_have_text("operator")
    expect(row.get_by_role("button", name=f"Unclaim order {order_id}")).to_be_visible()

    row.get_by_label(f"Comment on order {order_id}").fill("address is a parcel locker")
    row.get_by_role("button", name="Reject").click()
    row.get_by_role("button", name="Yes, reject").click()
    expect(_notice(page, f"Order {order_id}: rejected.")).to_be_visible()
    expect(page.locator("table.tasks tbody")).to_contain_text("No open tasks match these filters.")

    stack.wait_status(order_id, "rejected")
    page.goto(f"/orders/{order_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("rejected", re.IGNORECASE))
    why = page.locator("section", has=page.get_by_role("heading", name="Why was this order held?"))
    expect(why).to_contain_text("high_value_new_address")
    expect(why).to_contain_text("amount 5196 to a first-time address")
    expect(why.locator("dl.facts")).to_contain_text("First-time address")
    decisions = page.locator("section", has=page.get_by_role("heading", name="Decisions (audit log)"))
    expect(decisions.locator("tbody tr")).to_have_count(1)
    expect(decisions).to_contain_text("address is a parcel locker")
    timeline = page.locator("ol.timeline li")
    expect(timeline.filter(has=page.locator("[title=task_decided]"))).to_contain_text(
        "Review held order: reject by operator (address is a parcel locker)"
    )
    expect(timeline.last).to_contain_text("ended: rejected")
    expect(page.locator(".stock-state")).to_have_text("No stock was reserved for this order.")
    expect(page.get_by_role("link", name="Open in Temporal UI")).to_have_attribute(
        "href", re.compile(r"/namespaces/default/workflows/order-")
    )


def test_held_order_approved_from_the_inbox_ships_and_uses_its_stock(stack, slow_review, signed_in):
    channel, [order_id], _ = _held_orders(stack, slow_review)
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    _row(page, order_id).get_by_role("button", name="Approve").click()
    expect(_notice(page, f"Order {order_id}: approved.")).to_be_visible()

    stack.wait_status(order_id, "shipped")
    page.goto(f"/orders/{order_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("shipped", re.IGNORECASE))
    expect(page.locator("ol.timeline li").filter(has=page.locator("[title=task_decided]"))).to_contain_text(
        "Review held order: approve by operator"
    )
    stock = page.locator("section", has=page.get_by_role("heading", name="Allocations and stock"))
    expect(stock.locator("tbody tr td:last-child")).to_have_text(["reserve", "ship"])
    expect(page.locator(".stock-state")).to_have_text(
        "This order holds no reserved stock: every reservation was released or shipped."
    )
    expect(page.locator("section", has=page.get_by_role("heading", name="Shipments"))).to_contain_text("tracking")


def test_reject_asks_for_a_comment_in_the_row_and_confirms(stack, slow_review, signed_in):
    channel, [order_id], [task_id] = _held_orders(stack, slow_review)
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    row = _row(page, order_id)
    comment = row.get_by_label(f"Comment on order {order_id}")

    # No comment: the row asks for one, and nothing is sent.
    row.get_by_role("button", name="Reject").click()
    ask = row.locator(".confirm-reject")
    expect(ask).to_have_text(re.compile(f"Write in the comment why order {order_id} is rejected"))
    expect(comment).to_be_focused()
    expect(comment).to_have_attribute("aria-invalid", "true")
    expect(row.get_by_role("button", name="Yes, reject")).to_be_hidden()
    assert _task(stack, task_id)["status"] == "open"

    # With a comment: a confirmation in the row; "Keep it" sends nothing.
    comment.fill("customer asked to cancel")
    expect(ask).to_be_hidden()
    row.get_by_role("button", name="Reject").click()
    expect(ask).to_contain_text(f"Reject order {order_id} with the comment “customer asked to cancel”?")
    row.get_by_role("button", name="Keep it").click()
    expect(ask).to_be_hidden()
    assert _task(stack, task_id)["status"] == "open"

    # Enter in the comment field submits nothing (the form's default button is disabled), so
    # typing a reason and pressing Enter never approves by accident. Submission would be
    # synchronous with the key press; the listener records it and keeps the page here.
    page.evaluate("""document.querySelectorAll('form.decide').forEach((form) =>
        form.addEventListener('submit', (event) => { window.submitted = true; event.preventDefault(); }))""")
    comment.press("Enter")
    assert page.evaluate("window.submitted === undefined")

    page.reload()
    row = _row(page, order_id)
    row.get_by_label(f"Comment on order {order_id}").fill("customer asked to cancel")
    row.get_by_role("button", name="Reject").click()
    row.get_by_role("button", name="Yes, reject").click()
    expect(_notice(page, f"Order {order_id}: rejected.")).to_be_visible()
    assert _task(stack, task_id)["comment"] == "customer asked to cancel"


def test_without_javascript_a_reject_without_a_comment_is_refused_by_the_server(stack, slow_review, signed_in_at):
    channel, [order_id], [task_id] = _held_orders(stack, slow_review)
    page = signed_in_at("operator", f"/inbox?channel={channel}", javascript=False)
    _row(page, order_id).get_by_role("button", name="Reject").click()
    refused = f"Could not reject the task on order {order_id}: a comment is required to reject"
    expect(_notice(page, refused)).to_be_visible()
    assert _task(stack, task_id)["status"] == "open"
    with stack.client("operator") as client:
        client.post(f"/api/tasks/{task_id}/decision", json={"decision": "reject", "comment": "test clean-up"})


def test_a_task_claimed_by_someone_else_shows_who_has_it_and_offers_no_decision(stack, slow_review, signed_in):
    channel, [mine, theirs], [_, their_task] = _held_orders(stack, slow_review, count=2)
    with stack.client("admin") as admin:
        assert admin.post(f"/api/tasks/{their_task}/claim").status_code == 200
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    held = _row(page, theirs)
    expect(held.locator("td.claimed > span")).to_have_text("admin")
    expect(held.locator("td.task-actions")).to_have_text("Claimed by admin")
    expect(held.get_by_role("button")).to_have_count(0)  # no approve, reject, claim
    expect(held.get_by_role("checkbox")).to_have_count(0)  # and not in a bulk approval
    free = _row(page, mine)
    expect(free.get_by_role("button", name=f"Approve order {mine}")).to_be_visible()
    expect(free.get_by_role("checkbox")).to_have_count(1)
    with stack.client("admin") as admin:
        for task_id in _held_task_ids(stack, [mine, theirs]):
            admin.post(f"/api/tasks/{task_id}/decision", json={"decision": "reject", "comment": "test clean-up"})


def _held_task_ids(stack, order_ids: list[str]) -> list[str]:
    return [stack.open_task(order_id)["id"] for order_id in order_ids]


def test_rows_show_customer_amount_and_due_time_and_sort_by_due_amount_or_age(stack, slow_review, signed_in):
    sooner = "pages_" + unique("f").lower().replace("-", "_")
    stack.publish(fast_flow(sooner, review_due="5m", escalation_due="10m"))
    channel = _new_channel(stack)
    first = stack.submit(
        order_payload(lines=HELD, channel=channel, customer={"name": "Ann Example", "email": "a@example.com"}),
        flow=slow_review,
    ).json()["id"]
    stack.open_task(first)  # its task is the older one
    bigger = [{"sku": "LAPTOP-14", "qty": 5, "price": 1299.0}]  # 6495, due in 5 minutes
    second = stack.submit(
        order_payload(lines=bigger, channel=channel, customer={"name": "Bo Buyer", "email": "b@example.com"}),
        flow=sooner,
    ).json()["id"]
    _held_task_ids(stack, [first, second])
    page = signed_in("operator")
    _filter_by_channel(page, channel)

    row = _row(page, first)
    expect(row.locator("td.customer")).to_have_text("Ann Example")
    expect(row.locator("td.amount")).to_have_text("5,196.00 EUR")
    expect(row.locator("span.external")).to_have_text(stack.order(first)["external_id"])
    expect(row.locator("td.due")).to_have_class(re.compile(r"\bsla-soon\b"))  # due within the hour: amber
    expect(row.locator("td.due")).to_contain_text(re.compile(r"in \d+ min"))
    orders = page.locator("table.tasks tbody tr td:nth-child(2) > a")

    expect(orders).to_have_text([second, first])  # due soonest first, by default
    page.get_by_role("link", name="Amount").click()
    expect(page).to_have_url(re.compile(r"[?&]sort=amount\b"))
    expect(orders).to_have_text([second, first])
    expect(page.locator("th[aria-sort]")).to_have_text(re.compile("Amount"))
    page.get_by_role("link", name="Age").click()
    expect(orders).to_have_text([first, second])  # oldest first
    page.get_by_label("Sort by").select_option("due")
    page.get_by_role("button", name="Filter").click()
    expect(orders).to_have_text([second, first])

    # "My tasks": the ones I claimed.
    _row(page, first).get_by_role("button", name=f"Claim order {first}", exact=True).click()
    page.get_by_role("link", name="My tasks").click()
    expect(page).to_have_url(re.compile(rf"channel={channel}.*claimed=me"))
    expect(orders).to_have_text([first])
    expect(page.get_by_role("link", name="My tasks")).to_have_attribute("aria-current", "page")
    with stack.client("admin") as admin:
        for task_id in _held_task_ids(stack, [first, second]):
            admin.post(f"/api/tasks/{task_id}/decision", json={"decision": "reject", "comment": "test clean-up"})


def test_forms_without_a_valid_csrf_token_are_refused(stack, slow_review, signed_in):
    _, [order_id], [task_id] = _held_orders(stack, slow_review)
    page = signed_in("operator")
    forged = {"decision": "reject", "comment": "forged"}
    for form in (forged, {**forged, "csrf_token": "not-the-token"}):
        response = page.request.post(f"/inbox/tasks/{task_id}/decision", form=form, max_redirects=0)
        assert response.status == 403
        assert "CSRF check failed" in response.text() and "nothing was changed" in response.text()
    claim = page.request.post(f"/inbox/tasks/{task_id}/claim", form={}, max_redirects=0)
    assert claim.status == 403
    task = _task(stack, task_id)
    assert (task["status"], task["claimed_by"]) == ("open", None)
    assert stack.order(order_id)["decisions"] == []

    # The same form with the page's token goes through (the token is what was missing).
    page.goto("/inbox")
    token = page.locator('header form input[name="csrf_token"]').get_attribute("value")
    response = page.request.post(
        f"/inbox/tasks/{task_id}/decision", form={**forged, "comment": "test clean-up", "csrf_token": token}
    )
    assert response.ok and f"Order {order_id}: rejected." in response.text()


def test_analyst_sees_the_inbox_read_only(stack, slow_review, signed_in):
    channel, [order_id], [task_id] = _held_orders(stack, slow_review)
    page = signed_in("analyst")
    _filter_by_channel(page, channel)
    expect(_row(page, order_id)).to_contain_text("amount 5196 to a first-time address")
    expect(page.locator("main").get_by_text("the inbox is read-only for you")).to_be_visible()
    expect(page.locator("table.tasks button")).to_have_count(0)
    expect(page.locator("table.tasks input")).to_have_count(0)
    expect(page.get_by_role("button", name="Approve selected")).to_have_count(0)

    # Acting anyway, with a valid token, is refused by role.
    token = page.locator('header form input[name="csrf_token"]').get_attribute("value")
    response = page.request.post(f"/inbox/tasks/{task_id}/claim", form={"csrf_token": token}, max_redirects=0)
    assert response.status == 403
    assert "Role &#39;analyst&#39; can look at the inbox but not act on it" in response.text()
    assert _task(stack, task_id)["claimed_by"] is None

    page.goto(f"/orders/{order_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("on.hold|held", re.IGNORECASE))
    # No order action; the one button is the designer's: this order as a test case of the audit rules.
    expect(page.locator("main button")).to_have_count(1)
    expect(page.locator("main button")).to_have_text("Make this a test case")


def test_bulk_approve_shows_one_result_per_order(stack, slow_review, signed_in):
    channel, order_ids, task_ids = _held_orders(stack, slow_review, count=2)
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    for order_id in order_ids:
        _row(page, order_id).get_by_label(f"Select order {order_id}").check()
    # Someone else takes the second one while this page is open.
    with stack.client("admin") as admin:
        assert admin.post(f"/api/tasks/{task_ids[1]}/claim").status_code == 200
    page.get_by_role("button", name="Approve selected").click()

    results = page.locator("table.results tbody tr")
    expect(results).to_have_count(2)
    expect(results.nth(0)).to_contain_text(f"{order_ids[0]} ok approved")
    expect(results.nth(1)).to_contain_text(f"{order_ids[1]} refused task is claimed by admin")
    expect(_notice(page, "Approved 1 of 2 selected tasks.")).to_be_visible()
    expect(_notice(page, "1 of 2 selected tasks were refused; see below.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/inbox\?channel={channel}$"))
    stack.wait_status(order_ids[0], "shipped")
    assert _task(stack, task_ids[1])["status"] == "open"

    # The result list is shown once, not again on the next page view.
    page.reload()
    expect(page.locator("table.results")).to_have_count(0)
    with stack.client("admin") as admin:
        admin.post(f"/api/tasks/{task_ids[1]}/decision", json={"decision": "reject", "comment": "test clean-up"})


def test_text_from_orders_is_shown_as_text(stack, slow_review, signed_in):
    coupon = '<img src=x onerror="window.pwned=1">'
    channel, [order_id], [task_id] = _held_orders(
        stack, slow_review, coupon=coupon, customer={"name": "<b>Bold</b> & Co", "email": "b@example.com"}
    )
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    expect(_row(page, order_id).locator("td.reason")).to_contain_text(f"coupon {coupon} is unknown")
    expect(page.locator("table.tasks img")).to_have_count(0)
    page.goto(f"/orders/{order_id}")
    expect(page.locator("dl.summary")).to_contain_text("<b>Bold</b> & Co")
    expect(page.locator("main b, main img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    with stack.client("operator") as client:
        client.post(f"/api/tasks/{task_id}/decision", json={"decision": "reject", "comment": "test clean-up"})


def test_signing_out_ends_the_page_session(stack, signed_in):
    page = signed_in("operator")
    page.get_by_role("button", name="Sign out").click()
    expect(_notice(page, "You are signed out.")).to_be_visible()
    page.goto("/inbox?claimed=me")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Finbox%3Fclaimed%3Dme$"))
    # Wrong password: the form again, with the reason.
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox\?claimed=me$"))
    # The API stays bearer-only: the page cookie does not sign anyone in there.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert httpx.get(f"{stack.base_url}/api/auth/me", cookies=cookies).status_code == 401
    # Signing out revoked every operator token, the one the stack's API helpers hold too.
    stack._tokens.pop("operator", None)
