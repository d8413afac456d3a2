"""What a Chinese-reading operator and customer get, against the real web app, worker, dev server and SMTP server,
on SQLite and PostgreSQL: the order's and return's timelines and the rules' reasons in Chinese on the pages (the
API and English readers keep the English), service errors in Chinese after an action, customer e-mails in the
customer's language, and the return request page asking which channel an external id two channels have means.
"""

# ruff: noqa: RUF001 - the Chinese pages' full-width punctuation is what these tests pin
from __future__ import annotations

import time
from email.message import EmailMessage

import httpx
from markupsafe import escape
from sqlalchemy import create_engine
from sqlmodel import Session, col, select
from starlette.requests import Request

from oms.models import OrderEvent, ReturnEvent
from tests.conftest import PASSWORD, order_payload, unique
from tests.integration.test_returns import delivered_order, wait_return
from tests.pages.test_language_browser import PERSON_PASSWORD, _person
from web.deps import SESSION_COOKIE
from web.pages.security import csrf_token

HELD = [{"sku": "LAPTOP-14", "qty": 4, "price": 1299.0}]  # 5196 to a first-time address: held for review


def _pages(stack, username: str) -> tuple[httpx.Client, str]:
    """A browser-like client signed in as ``username`` (the API token is the session cookie) and its CSRF token."""
    password = PASSWORD if username in ("admin", "analyst", "operator", "channel") else PERSON_PASSWORD
    signed_in = httpx.post(f"{stack.base_url}/api/auth/token", data={"username": username, "password": password})
    signed_in.raise_for_status()
    token = signed_in.json()["access_token"]
    client = httpx.Client(base_url=stack.base_url, timeout=30)
    client.cookies.set(SESSION_COOKIE, token)
    request = Request({"type": "http", "headers": [(b"cookie", f"{SESSION_COOKIE}={token}".encode())]})
    return client, csrf_token(request)


def _held_order(stack) -> tuple[str, dict]:
    order_id = stack.submit(order_payload(lines=HELD)).json()["id"]
    task = stack.open_task(order_id)
    return order_id, task


def test_a_chinese_reader_gets_the_timeline_and_the_rule_reason_in_chinese_and_an_english_one_in_english(stack):
    order_id, task = _held_order(stack)
    chinese, _ = _pages(stack, _person(stack, "zh"))
    english, _ = _pages(stack, _person(stack, "en"))
    with chinese, english:
        zh, en = chinese.get(f"/orders/{order_id}"), english.get(f"/orders/{order_id}")
        inbox = chinese.get("/inbox", params={"reason": "amount 5196 to a first-time address"})
    assert zh.status_code == en.status_code == inbox.status_code == 200
    # The inbox, filtered by the English reason, says it in Chinese too.
    assert '<td class="reason">金额 5196，首次使用的收货地址</td>' in inbox.text
    assert '<td class="reason">amount 5196' not in inbox.text

    # The rule that fired: its reason in the reader's language, beside the same rule id and action.
    assert "<td>金额 5196，首次使用的收货地址</td>" in zh.text
    assert "<td>amount 5196 to a first-time address</td>" in en.text
    assert "首次使用的收货地址" not in en.text
    # The timeline: the audit's line and the task's, said in Chinese from their stored wording.
    assert '<div class="message">按 order_audit v1 审核：待审核（金额 5196，首次使用的收货地址）</div>' in zh.text
    task_line = "Review held order：等待 operator 处理（金额 5196，首次使用的收货地址）"
    assert f'<div class="message">{task_line}</div>' in zh.text
    english_lines = (
        "audit by order_audit v1: review (amount 5196 to a first-time address)",
        "Review held order: waiting for operator (amount 5196 to a first-time address)",
    )
    for line in english_lines:
        assert f'<div class="message">{line}</div>' in en.text
        assert line not in zh.text
    # The task on the order page says why in the reader's language too.
    assert '<td class="reason">金额 5196，首次使用的收货地址</td>' in zh.text

    # The API is a contract: English messages and reasons, no translations.
    order = stack.order(order_id)
    assert [e["message"] for e in order["timeline"][:2]] == list(english_lines)
    assert order["audit"]["fired"][0] == {
        "rule": "high_value_new_address",
        "action": "review",
        "reason": "amount 5196 to a first-time address",
        "tag": None,
    }
    assert task["reason"] == "amount 5196 to a first-time address"


def test_every_line_of_a_finished_order_is_stored_with_its_wording(stack):
    order_id = stack.submit(order_payload()).json()["id"]
    stack.wait_status(order_id, "shipped", timeout=60)
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"}).status_code == 202
    stack.wait_status(order_id, "completed", timeout=60)
    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    try:
        with Session(engine) as session:
            lines = session.exec(
                select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(col(OrderEvent.seq))
            ).all()
    finally:
        engine.dispose()
    assert [line.type for line in lines] == [
        "audited",
        "stock_reserved",
        "notification",
        "shipped",
        "notification",
        "event",
        "notification",
        "completed",
    ]
    assert [(line.type, line.message) for line in lines if not line.message_key] == []
    ended = lines[-1]
    assert (ended.message_key, ended.message_values) == (
        "flow %(flow)s v%(version)s ended: %(status)s",
        {"flow": "order", "version": "1", "status": "completed"},
    )


def test_a_service_error_after_an_action_is_said_in_chinese_and_a_flow_refusal_too(stack):
    order_id, task = _held_order(stack)
    chinese, csrf = _pages(stack, _person(stack, "zh"))
    with chinese:
        note = chinese.post(
            f"/orders/{order_id}/actions/note", data={"csrf_token": csrf, "note": "  "}, follow_redirects=True
        )
        # Refused by the order flow's decision validator (engine/interpreter.py), in English, with its code.
        decided = chinese.post(
            f"/inbox/tasks/{task['id']}/decision",
            data={"csrf_token": csrf, "decision": "bogus", "back": f"/orders/{order_id}"},
            follow_redirects=True,
        )
    assert note.status_code == 200
    assert "备注需要 1 到 2000 个字符。未做任何更改。" in note.text
    assert decided.status_code == 200
    assert str(escape("未知的决定 'bogus'；请从以下选择：approve, reject")) in decided.text
    # The API keeps the English.
    with stack.client("operator") as client:
        refused = client.post(f"/api/tasks/{task['id']}/decision", json={"decision": "bogus", "comment": ""})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("unknown decision 'bogus'; choose one of: approve")


def _mail(mailbox, order_id: str, subject_part: str, timeout: float = 60) -> EmailMessage:
    """The e-mail about ``order_id`` whose subject has ``subject_part``, once the SMTP server has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in mailbox.about(order_id) if subject_part in str(m["Subject"])]
        if found:
            return found[0]
        time.sleep(0.1)
    subjects = [str(m["Subject"]) for m in mailbox.about(order_id)]
    raise AssertionError(f"no e-mail about {order_id} with {subject_part!r}; got {subjects}")


CHANNEL_IN_CHINESE = """\
kind: channel
name: web_zh
title: Web shop (Chinese)
type: web_shop
flow: order
language: zh
"""


def test_a_customer_gets_the_email_in_their_language_else_the_channels_quoting_the_external_id(stack, mailbox):
    stack.publish(CHANNEL_IN_CHINESE)
    customer = {"name": "王芳", "email": "wang@example.com"}
    asked = order_payload(customer={**customer, "language": "zh"})
    by_channel = order_payload(channel="web_zh", customer=customer)
    english = order_payload(channel="web_zh", customer={**customer, "language": "en"})
    ids = {}
    for name, payload in (("asked", asked), ("by_channel", by_channel), ("english", english)):
        placed = stack.submit(payload, role="operator")
        assert placed.status_code == 201, placed.text
        ids[name] = placed.json()["id"]

    for name in ("asked", "by_channel"):
        external = (asked if name == "asked" else by_channel)["external_id"]
        mail = _mail(mailbox, ids[name], "已发货")
        assert mail["Subject"] == f"您的订单 {external} 已发货"
        assert mail["Content-Language"] == "zh"
        body = mail.get_content()
        assert body.startswith("王芳，您好：")
        assert f"您的订单 {external} 已发货。" in body
    mail = _mail(mailbox, ids["english"], "on its way")
    assert (mail["Subject"], mail["Content-Language"]) == (f"Your order {english['external_id']} is on its way", "en")

    # The timeline says what was sent, in English for the API; the Chinese page says it in Chinese.
    order = stack.wait_for(ids["asked"], lambda o: any(e["data"].get("event") == "shipped" for e in o["timeline"]))
    sent = next(e for e in order["timeline"] if e["type"] == "notification" and e["data"]["event"] == "shipped")
    assert sent["data"]["language"] == "zh"
    assert sent["message"] == (
        f"shipped notification sent by email and webhook to wang@example.com: 您的订单 {asked['external_id']} 已发货"
    )
    chinese, _ = _pages(stack, _person(stack, "zh"))
    with chinese:
        page = chinese.get(f"/orders/{ids['asked']}").text
    expected = f"“已发货”通知已通过 email and webhook 发送给 wang@example.com：您的订单 {asked['external_id']} 已发货"
    assert str(escape(expected)) in page


def test_an_external_id_two_channels_have_gets_a_channel_choice_on_the_return_request_page(stack):
    shared = unique("BOTH")
    web = delivered_order(stack, external_id=shared)
    placed = stack.submit(order_payload(channel="phone", external_id=shared), role="operator")
    assert placed.status_code == 201, placed.text
    phone_id = placed.json()["id"]
    pages, csrf = _pages(stack, "operator")
    with pages:
        asked = pages.get("/returns/new", params={"order_id": shared})
        assert asked.status_code == 200
        for channel, order_id in (("web", web["id"]), ("phone", phone_id)):
            assert f'<input type="radio" name="channel" value="{channel}" required>' in asked.text
            assert f"({order_id})" in asked.text
        assert f'<input type="hidden" name="order_id" value="{shared}">' in asked.text

        # A channel none of them is in: the choice again, the problem beside the channel field.
        wrong = pages.get("/returns/new", params={"order_id": shared, "channel": "store"})
        assert wrong.status_code == 404
        assert '<p class="field-error" id="e-channel">' in wrong.text
        assert str(escape(f"There is no order '{shared}' in channel 'store'.")) in wrong.text
        # Sending the request without choosing: the page asks for the channel, naming the field.
        unchosen = pages.post(
            "/returns/new", data={"csrf_token": csrf, "action": "request", "order_id": shared, "reason": "wrong_size"}
        )
        assert unchosen.status_code == 422
        assert str(escape(f"orders of several channels have the external id '{shared}': choose the channel")) in (
            unchosen.text
        )

        form = pages.get("/returns/new", params={"order_id": shared, "channel": "web"})
        assert form.status_code == 200
        assert f'value="{web["id"]}"' in form.text
        requested = pages.post(
            "/returns/new",
            data={
                "csrf_token": csrf,
                "action": "request",
                "order_id": web["id"],
                "lines[0].line": "1",
                "lines[0].sku": "MUG-LOGO",
                "lines[0].qty": "1",
                "reason": "wrong_size",
                "kind": "refund",
            },
        )
    assert requested.status_code == 303, requested.text
    return_id = requested.headers["location"].removeprefix("/returns/")
    ret = wait_return(stack, return_id, lambda r: any(e["type"] == "audited" for e in r["timeline"]))
    assert ret["order_id"] == web["id"]

    # The return's page in Chinese: its policy line from the stored wording; the API keeps the English.
    audited = next(e for e in ret["timeline"] if e["type"] == "audited")
    assert audited["message"] == "policy return_policy v1: approve (no rule held it)"
    chinese, _ = _pages(stack, _person(stack, "zh"))
    with chinese:
        page = chinese.get(f"/returns/{return_id}").text
    assert "按政策 return_policy v1：已批准（没有规则扣留）" in page
    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    try:
        with Session(engine) as session:
            keys = session.exec(select(ReturnEvent.message_key).where(ReturnEvent.return_id == return_id)).all()
    finally:
        engine.dispose()
    assert "policy %(rules)s v%(version)s: %(action)s (no rule held it)" in keys


def test_the_designer_and_publishing_refuse_a_bad_bilingual_reason_naming_its_path(stack):
    name = "r_" + unique("zh").lower().replace("-", "_")
    text = (
        f"kind: rules\nname: {name}\nrules:\n  - id: big\n    when: order.total > 1000\n    action: review\n"
        '    reason: {en: "order of {{ order.total }}", zh: "订单金额 {{ order.total"}\n'
    )
    with stack.client("analyst") as client:
        checked = client.post("/api/definitions/validate", json={"text": text}).json()
        published = client.post("/api/definitions", json={"text": text})
        fixed = client.post("/api/definitions", json={"text": text.replace('order.total"}', 'order.total }}"}')})
    assert checked["valid"] is False
    assert [(e["path"], e["message"]) for e in checked["errors"]] == [
        ("$.rules[0].reason.zh", "unbalanced '{{' and '}}'")
    ]
    assert published.status_code == 422, published.text
    assert fixed.status_code == 201, fixed.text
