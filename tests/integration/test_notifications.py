"""Customer notifications: rendered per event and language, delivered to a real SMTP server and as signed webhooks."""

from __future__ import annotations

import json
import time

from services.orders.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.conftest import order_payload


def wait_for_mail(mailbox, order_id: str, count: int, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while len(mailbox.about(order_id)) < count:
        assert time.monotonic() < deadline, f"{len(mailbox.about(order_id))} of {count} e-mails for {order_id}"
        time.sleep(0.1)
    return mailbox.about(order_id)


def test_confirmed_shipped_and_delivered_mails_reach_the_smtp_server(stack, mailbox, notify_hooks):
    response = stack.submit(order_payload(customer={"name": "Ann Example", "email": "ann@example.com"}))
    order_id = response.json()["id"]
    order = stack.wait_for(
        order_id,
        lambda o: o["status"] == "shipped" and sum(e["type"] == "notification" for e in o["timeline"]) == 2,
        timeout=60,
    )
    tracking = order["shipments"][0]["tracking_number"]
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    stack.wait_status(order_id, "completed")

    mails = wait_for_mail(mailbox, order_id, 3)
    assert [m["Subject"] for m in mails] == [
        f"We have your order {order['external_id']}",
        f"Your order {order['external_id']} is on its way",
        f"Your order {order['external_id']} was delivered",
    ]
    assert {m["To"] for m in mails} == {"Ann Example <ann@example.com>"}
    assert {m["From"] for m in mails} == {"Shop <orders@shop.test>"}
    assert f"tracking number {tracking}" in mails[1].get_content()

    timeline = [e for e in stack.order(order_id)["timeline"] if e["type"] == "notification"]
    assert [(e["data"]["event"], e["data"]["sent"], e["data"]["language"]) for e in timeline] == [
        ("confirmed", ["email", "webhook"], "en"),
        ("shipped", ["email", "webhook"], "en"),
        ("delivered", ["email", "webhook"], "en"),
    ]
    assert timeline[1]["message"] == (
        "shipped notification sent by email and webhook to ann@example.com: "
        f"Your order {order['external_id']} is on its way"
    )
    assert [m["Message-ID"] for m in mails] == [e["data"]["message_id"] for e in timeline]

    hooks = notify_hooks.about(order_id)
    assert [payload["event"] for _, _, payload in hooks] == ["confirmed", "shipped", "delivered"]
    for headers, body, payload in hooks:
        assert headers[SIGNATURE_HEADER] == sign("notify-test-secret", body, int(headers[TIMESTAMP_HEADER]))
        assert payload["subject"] == json.loads(body)["subject"]


def test_the_order_language_picks_the_text(stack, mailbox):
    response = stack.submit(order_payload(language="de", payment={"method": "card", "status": "pending"}))
    order_id = response.json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/cancel", json={"reason": "zu spät"}).status_code == 202
    stack.wait_status(order_id, "cancelled")
    [mail] = wait_for_mail(mailbox, order_id, 1)
    external_id = stack.order(order_id)["external_id"]
    assert mail["Subject"] == f"Ihre Bestellung {external_id} wurde storniert"
    assert "storniert (zu spät)" in mail.get_content()
    assert mail["Content-Language"] == "de"


def test_a_template_the_sandbox_stops_is_on_the_timeline_and_the_order_goes_on(stack, mailbox):
    from tests.conftest import ROOT

    shipped_text = (ROOT / "definitions" / "templates" / "notify_confirmed.yaml").read_text(encoding="utf-8")
    stack.publish(
        "kind: template\nname: notify_confirmed\nuse: notification\nevent: confirmed\n"
        'languages: {en: {subject: hi, body: "{{ order.__class__.__mro__[1].__subclasses__() }}"}}\n'
    )
    try:
        order_id = stack.submit(order_payload()).json()["id"]
        order = stack.wait_for(
            order_id,
            lambda o: o["status"] == "shipped" and sum(e["type"] == "notification" for e in o["timeline"]) == 2,
            timeout=60,
        )
    finally:
        stack.publish(shipped_text)
    confirmed = next(e for e in order["timeline"] if e["type"] == "notification")
    assert confirmed["message"] == (
        "confirmed notification not sent: template 'notify_confirmed' was stopped by the sandbox: "
        "access to attribute '__class__' of 'dict' object is unsafe."
    )
    assert [m["Subject"] for m in wait_for_mail(mailbox, order_id, 1)] == [
        f"Your order {order['external_id']} is on its way"
    ]
