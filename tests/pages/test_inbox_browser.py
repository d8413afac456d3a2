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
    expect(_notice(page, f"Order {order_id}: rejected.")).to_be_visible()
    expect(page.locator("table.tasks tbody")).to_contain_text("No open tasks match these filters.")

    stack.wait_status(order_id, "rejected")
    page.goto(f"/orders/{order_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("rejected")
    why = page.locator("section", has=page.get_by_role("heading", name="Why was this order held?"))
    expect(why).to_contain_text("high_value_new_address")
    expect(why).to_contain_text("amount 5196 to a first-time address")
    expect(why.locator("dl.facts")).to_contain_text("First-time address")
    decisions = page.locator("section", has=page.get_by_role("heading", name="Decisions (audit log)"))
    expect(decisions.locator("tbody tr")).to_have_count(1)
    expect(decisions).to_contain_text("address is a parcel locker")
    timeline = page.locator("ol.timeline li")
    expect(timeline.filter(has_text="task_decided")).to_contain_text(
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
    expect(page.get_by_role("heading", level=1)).to_contain_text("shipped")
    expect(page.locator("ol.timeline li").filter(has_text="task_decided")).to_contain_text(
        "Review held order: approve by operator"
    )
    stock = page.locator("section", has=page.get_by_role("heading", name="Allocations and stock"))
    expect(stock.locator("tbody tr td:last-child")).to_have_text(["reserve", "ship"])
    expect(page.locator(".stock-state")).to_have_text(
        "This order holds no reserved stock: every reservation was released or shipped."
    )
    expect(page.locator("section", has=page.get_by_role("heading", name="Shipments"))).to_contain_text("tracking")


def test_reject_without_a_comment_is_refused_and_the_task_stays_open(stack, slow_review, signed_in):
    channel, [order_id], [task_id] = _held_orders(stack, slow_review)
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    _row(page, order_id).get_by_role("button", name="Reject").click()
    refused = f"Could not reject the task on order {order_id}: a comment is required to reject"
    expect(_notice(page, refused)).to_be_visible()
    expect(_row(page, order_id)).to_have_count(1)
    assert _task(stack, task_id)["status"] == "open"

    # Enter in the comment field submits nothing (the form's default button is disabled), so
    # typing a reason and pressing Enter never approves by accident. Submission would be
    # synchronous with the key press; the listener records it and keeps the page here.
    comment = _row(page, order_id).get_by_label(f"Comment on order {order_id}")
    page.evaluate("""document.querySelectorAll('form.decide').forEach((form) =>
        form.addEventListener('submit', (event) => { window.submitted = true; event.preventDefault(); }))""")
    comment.fill("pressing enter")
    comment.press("Enter")
    assert page.evaluate("window.submitted === undefined")

    page.reload()
    _row(page, order_id).get_by_label(f"Comment on order {order_id}").fill("customer asked to cancel")
    _row(page, order_id).get_by_role("button", name="Reject").click()
    expect(_notice(page, f"Order {order_id}: rejected.")).to_be_visible()


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
    expect(page.get_by_role("heading", level=1)).to_contain_text("on_hold")
    expect(page.locator("main button")).to_have_count(0)


def test_bulk_approve_shows_one_result_per_order(stack, slow_review, signed_in):
    channel, order_ids, task_ids = _held_orders(stack, slow_review, count=2)
    with stack.client("admin") as admin:
        assert admin.post(f"/api/tasks/{task_ids[1]}/claim").status_code == 200
    page = signed_in("operator")
    _filter_by_channel(page, channel)
    for order_id in order_ids:
        _row(page, order_id).get_by_label(f"Select order {order_id}").check()
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
