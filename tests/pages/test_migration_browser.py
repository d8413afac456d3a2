"""The designer's migration page in a real browser, on SQLite and PostgreSQL (issue 15).

Three orders wait for their payment on v1 of a test flow; v2 lengthens that
wait (restarted on the move) and adds a fraud check. An analyst goes from the
flow's history to the migration page, sees 3 movable with the mapped step
highlighted on both diagrams, starts, and watches the progress reach done; each
order's timeline says it moved. The publish log lists the migration with its
plan and result; an operator may not open the page.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.conftest import fast_flow, order_payload
from tests.integration.test_migration import UNPAID, _name, order_v2

# Screenshots of the page, for a person to look at (not compared).
SHOTS = Path(os.environ.get("OMS_TEST_SHOTS", "/tmp/oms-shots"))


def test_analyst_previews_and_moves_three_waiting_orders_from_the_migration_page(stack, signed_in_at):
    name = _name("mig_page")
    stack.publish(fast_flow(name, payment_timeout="10m", review_due="10m", escalation_due="10m"))
    waiting = [stack.submit(order_payload(payment=UNPAID), flow=name).json()["id"] for _ in range(3)]
    for order_id in waiting:
        stack.wait_status(order_id, "awaiting_payment")
    assert stack.publish(order_v2(name))["version"] == 2

    page = signed_in_at("analyst", f"/definitions/flow/{name}/history")
    page.get_by_role("link", name="Move waiting instances to another version").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Move waiting instances of flow {name}")
    expect(page.locator("[data-role=preview-counts]")).to_contain_text("3 movable, 0 staying of 3 waiting on v1")
    step = page.locator("table.migrate-steps tr[data-step=await_payment]")
    expect(step).to_contain_text("await_payment on v2")
    expect(step).to_contain_text("restarted: 20 min from the move (was 10 min)")
    expect(page.locator("table.migrate-steps tr[data-step=manual_review]")).to_contain_text("stays")
    for order_id in waiting:
        expect(page.locator(f"tr[data-instance='{order_id}']")).to_contain_text("moves to await_payment")
    expect(page.locator("[data-role=source-diagram] g.node.mapped[data-step=await_payment]")).to_have_count(1)
    expect(page.locator("[data-role=source-diagram] g.node.blocked[data-step=manual_review]")).to_have_count(1)
    expect(page.locator("[data-role=target-diagram] g.node.mapped[data-step=await_payment]")).to_have_count(1)

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"migrate-preview-{stack.name}.png", full_page=True)
    page.get_by_role("button", name="Start moving 3 to v2").click()
    expect(page.locator(".notice.ok")).to_contain_text("started: 3 to move from v1 to v2")
    migration = page.locator("table.migrations tbody tr").first
    expect(migration.locator("[data-role=migration-status]")).to_have_text("done", timeout=60_000)
    expect(migration.locator("[data-role=moved]")).to_have_text("3")

    for order_id in waiting:
        order = stack.order(order_id)
        assert order["flow"]["version"] == 2
        assert [e["message"] for e in order["timeline"] if e["type"] == "moved"] == [
            "moved from v1 to v2 at step await_payment by analyst"
        ]
    page.goto(f"/orders/{waiting[0]}")
    expect(page.locator("ol.timeline li[data-type=moved]")).to_contain_text(
        "moved from v1 to v2 at step await_payment by analyst"
    )

    admin = signed_in_at("admin", f"/definitions/log?name={name}")
    logged = admin.locator("table.migrations tbody tr")
    expect(logged).to_have_count(1)
    expect(logged).to_contain_text("3 movable, 0 staying; 3 await_payment -> await_payment")
    expect(logged).to_contain_text("done")
    expect(logged).to_contain_text("moved 3, already moved 0, stayed 0, failed 0")
    with stack.client("admin") as client:
        entry = client.get("/api/definitions/log", params={"name": name}).json()["migrations"][0]
    assert (entry["from"], entry["to"], entry["status"], entry["moved"]) == (1, 2, "completed", 3)
    assert entry["plan"]["movable"] == 3

    operator = signed_in_at("operator", f"/definitions/flow/{name}/migrate")
    expect(operator.get_by_text("migrations need analyst or admin")).to_be_visible()
