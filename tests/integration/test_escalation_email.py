"""An escalated task is announced by e-mail to every active holder of the escalation role with an address.

Real SMTP server (tests/mail.py), real worker and dev server, SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
import uuid

from tests.conftest import PASSWORD, fast_flow, order_payload
from tests.integration.test_returns import delivered_order, fast_return_flow, post_return, wait_return

HELD = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a new address: held for review


def _admin_with_email(stack, active: bool = True) -> tuple[str, str]:
    name = "esc." + uuid.uuid4().hex[:8]
    email = f"{name}@shop.test"
    with stack.client("admin") as client:
        added = client.post(
            "/api/users", json={"username": name, "password": PASSWORD * 2, "roles": ["admin"], "email": email}
        )
        assert added.status_code == 201, added.text
        assert added.json()["email"] == email
        if not active:
            assert client.patch(f"/api/users/{name}", json={"active": False}).status_code == 200
    return name, email


def _retire(stack, name: str) -> None:
    """Other tests of the session should not mail this admin."""
    with stack.client("admin") as client:
        client.patch(f"/api/users/{name}", json={"active": False, "email": ""})


def _mail_to(mailbox, task_id: str, email: str, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in mailbox.about(task_id) if m["X-Envelope-To"] == email]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _subject(message) -> str:
    return " ".join(str(message["Subject"]).split())  # a long subject comes folded


def test_an_escalated_order_review_is_mailed_to_the_escalation_role(stack, mailbox):
    name, email = _admin_with_email(stack)
    quiet, quiet_email = _admin_with_email(stack, active=False)
    try:
        flow = "esc_" + uuid.uuid4().hex[:8]
        stack.publish(fast_flow(flow, review_due="1s", escalation_due="10m"))
        payload = order_payload(lines=HELD, customer={"name": "Ann Example", "email": "ann@example.com"})
        order_id = stack.submit(payload, flow=flow).json()["id"]
        task = stack.open_task(order_id)
        order = stack.wait_for(order_id, lambda o: any(e["type"] == "task_escalated" for e in o["timeline"]))

        [message] = _mail_to(mailbox, task["id"], email)
        assert _subject(message) == (
            f"Escalated to admin: Review held order, order {payload['external_id']} (Ann Example)"
        )
        assert message["To"].addresses[0].addr_spec == email
        body = message.get_content()
        assert "Nobody with the role operator decided this task in time; it is now waiting for admin." in body
        assert "Amount:    5,196.00 EUR" in body
        assert "amount 5196 to a first-time address" in body
        assert f"/orders/{order_id}" in body
        assert _mail_to(mailbox, task["id"], quiet_email, timeout=0) == []  # disabled: not told

        [line] = [e for e in order["timeline"] if e["type"] == "task_escalated"]
        assert line["message"].startswith(
            "Review held order: no decision by operator in time; escalated to admin; e-mailed "
        )
        assert email in line["message"] and quiet_email not in line["message"]
        with stack.client("admin") as client:
            client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "reject", "comment": "test clean-up"})
    finally:
        _retire(stack, name)
        _retire(stack, quiet)


def test_an_escalated_return_review_is_mailed_too(stack, mailbox):
    name, email = _admin_with_email(stack)
    try:
        flow = "esc_ret_" + uuid.uuid4().hex[:8]
        stack.publish(
            fast_return_flow(flow, review_due="1s").replace(
                "escalation: {role: admin, due: 3d}", "escalation: {role: admin, due: 10m}"
            )
        )
        order = delivered_order(stack, lines=[{"sku": "LAPTOP-14", "qty": 1, "price": 1299.0}])
        response = post_return(
            stack, {"order_id": order["id"], "lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}, flow=flow
        )
        assert response.status_code == 201, response.text
        return_id = response.json()["id"]
        ret = wait_return(stack, return_id, lambda r: any(e["type"] == "task_escalated" for e in r["timeline"]))
        task_id = next(t["id"] for t in ret["tasks"] if t["status"] == "open")

        [message] = _mail_to(mailbox, task_id, email)
        assert _subject(message) == (
            f"Escalated to admin: Review return request, return {return_id} of order {order['external_id']} "
            "(Ann Example)"
        )
        body = message.get_content()
        assert f"Return:    {return_id} (changed_mind)" in body and "Amount:    1,299.00 EUR" in body
        assert f"/returns/{return_id}" in body
        with stack.client("admin") as client:
            client.post(f"/api/returns/{return_id}/decision", json={"decision": "reject", "comment": "test clean-up"})
    finally:
        _retire(stack, name)
