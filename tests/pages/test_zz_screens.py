# TEMPORARY: screenshots for a visual check; deleted after development.
from tests.pages.test_inbox_browser import HELD, _row, browser, signed_in, slow_review  # noqa
from tests.conftest import order_payload

def test_screens(stack, slow_review, signed_in):
    ids = []
    for channel in ("web", "phone", "marketplace"):
        for _ in range(2):
            ids.append(stack.submit(order_payload(lines=HELD, channel=channel), flow=slow_review).json()["id"])
    ids.append(stack.submit(order_payload(lines=HELD, coupon="WINTER-99"), flow=slow_review).json()["id"])
    tasks = [stack.open_task(i)["id"] for i in ids]
    with stack.client("operator") as c:
        c.post(f"/api/tasks/{tasks[1]}/claim")
    page = signed_in("operator")
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto("/inbox")
    page.screenshot(path="/tmp/inbox.png", full_page=True)
    _row(page, ids[0]).get_by_role("button", name="Reject").click()
    page.screenshot(path="/tmp/inbox_notice.png", full_page=True)
    for i in ids[2:4]:
        _row(page, i).get_by_label(f"Select order {i}").check()
    page.get_by_role("button", name="Approve selected").click()
    page.screenshot(path="/tmp/inbox_bulk.png", full_page=True)
    stack.wait_status(ids[2], "shipped")
    page.goto(f"/orders/{ids[2]}")
    page.screenshot(path="/tmp/order.png", full_page=True)
    page.goto(f"/orders/{ids[6]}")
    page.screenshot(path="/tmp/order_held.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/inbox")
    page.screenshot(path="/tmp/inbox_narrow.png", full_page=False)
    a = signed_in("analyst")
    a.set_viewport_size({"width": 1440, "height": 700})
    a.screenshot(path="/tmp/inbox_analyst.png")
    page.context.clear_cookies()
    page.goto("/login")
    page.set_viewport_size({"width": 1000, "height": 600})
    page.screenshot(path="/tmp/login.png")
