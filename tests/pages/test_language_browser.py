"""Pages in English and Chinese, the start page, the styled 404 and the favicon, in Chromium.

The language of a page: the person's own setting, else the browser's Accept-Language
(Playwright sends the context's ``locale``), else English.
"""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.conftest import PASSWORD, order_payload, unique

PERSON_PASSWORD = "a long enough password"


def _context(browser: Browser, stack, locale: str = "en-US"):
    context = browser.new_context(base_url=stack.base_url, locale=locale, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    return context


def _sign_in(page: Page, username: str, password: str, path: str = "/inbox") -> None:
    """Through the sign-in form, whatever language it is in (its fields by id)."""
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def _person(stack, language: str) -> str:
    username = f"lang-{uuid.uuid4().hex[:6]}"
    with stack.client("admin") as admin:
        added = admin.post(
            "/api/users",
            json={"username": username, "password": PERSON_PASSWORD, "roles": ["operator"], "language": language},
        )
    assert added.status_code == 201, added.text
    assert added.json()["language"] == language
    return username


def _language_of(stack, username: str) -> str:
    with stack.client("admin") as admin:
        users = admin.get("/api/users").json()["users"]
    return next(u["language"] for u in users if u["username"] == username)


def test_a_person_whose_language_is_chinese_gets_chinese_pages_whatever_the_browser_says(stack, browser):
    username = _person(stack, "zh")
    response = stack.submit(order_payload(external_id=unique("ZH")))
    order_id = response.json()["id"]
    stack.wait_status(order_id, "shipped", timeout=60)
    with _context(browser, stack, locale="en-US") as context:
        page = context.new_page()
        _sign_in(page, username, PERSON_PASSWORD)
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(page.get_by_role("heading", level=1)).to_contain_text("收件箱")
        nav = page.get_by_role("navigation", name="主导航")
        expect(nav.get_by_role("link", name="订单", exact=True)).to_be_visible()

        page.goto(f"/orders/{order_id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("已发货")  # the status, as words
        expect(page.get_by_role("heading", name="时间线")).to_be_visible()
        expect(page.get_by_role("link", name="打印装箱单")).to_be_visible()

        response = page.goto("/orders/ord_nothing_here")
        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("未找到")
        expect(page.get_by_role("alert")).to_have_text("没有订单 'ord_nothing_here'。")

        # The header's switcher: English from now on, kept with the person.
        page.goto("/inbox")
        page.get_by_role("button", name="English").click()
        expect(page).to_have_url(re.compile(r"/inbox$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text("Inbox")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert _language_of(stack, username) == "en"


def test_a_browser_asking_for_chinese_gets_chinese_pages_and_the_forms_chinese_labels(stack, browser):
    with _context(browser, stack, locale="zh-CN") as context:
        page = context.new_page()
        page.goto("/login")
        expect(page.get_by_role("heading", level=1)).to_have_text("登录")
        expect(page.get_by_label("用户名")).to_be_visible()
        _sign_in(page, "operator", PASSWORD, "/orders/new")

        # The order form's own zh labels, and its errors in Chinese beside each field.
        expect(page.get_by_role("heading", level=1)).to_contain_text("新建订单")
        expect(page.get_by_label("客户姓名")).to_be_visible()
        expect(page.get_by_label("外部订单号")).to_be_visible()
        page.get_by_label("客户姓名").fill("")
        page.locator("form.entry .form-actions button[value=create]").click()
        summary = page.locator(".error-summary")
        expect(summary.get_by_role("heading")).to_contain_text("订单未创建")
        expect(summary).to_contain_text("客户姓名为必填项")
        expect(page.locator("#e-customer-name")).to_have_text("客户姓名为必填项")

        page.goto("/returns/new")
        expect(page.get_by_role("heading", level=1)).to_contain_text("申请退货")
        expect(page.get_by_label("订单号或外部单号")).to_be_visible()


def test_english_when_neither_the_person_nor_the_browser_asks_for_chinese(stack, browser):
    with _context(browser, stack, locale="fr-FR") as context:
        page = context.new_page()
        _sign_in(page, "operator", PASSWORD)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Inbox")
        expect(page.get_by_role("button", name="中文")).to_be_visible()


def test_an_unknown_page_gets_the_styled_404_and_the_api_keeps_json(stack, browser):
    with _context(browser, stack) as context:
        page = context.new_page()
        response = page.goto("/no/such/page")
        assert response is not None and response.status == 404
        assert response.headers["content-type"].startswith("text/html")
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        expect(page.get_by_role("alert")).to_have_text("There is no page at /no/such/page.")
        expect(page.get_by_role("link", name="To the start page")).to_have_attribute("href", "/")
        assert page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor") != (
            "rgba(0, 0, 0, 0)"
        )  # the stylesheet is there
    api = httpx.get(f"{stack.base_url}/api/no/such/thing")
    assert (api.status_code, api.json()) == (404, {"detail": "Not Found"})


def test_the_start_page_says_what_the_product_is_and_links_each_role_to_its_work(stack, browser):
    with _context(browser, stack) as context:
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("order management whose pipeline is data")
        work = {
            "operator": ["/inbox", "/orders/new", "/waves", "/stock"],
            "service": ["/orders", "/returns", "/returns/new"],
            "analyst": ["/definitions"],
            "manager": ["/dashboard"],
            "admin": ["/people", "/definitions/log"],
            "channel": ["/docs", "/openapi.json"],
        }
        for role, links in work.items():
            card = page.locator(f"li.role-card[data-role={role}]")
            expect(card.locator("a")).to_have_count(len(links))
            for index, href in enumerate(links):
                expect(card.locator("a").nth(index)).to_have_attribute("href", href)
        expect(page.get_by_role("link", name="Sign in")).to_have_attribute("href", "/login")
        expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/static/favicon.svg")

        _sign_in(page, "analyst", PASSWORD, "/definitions")
        page.goto("/")
        first = page.locator("li.role-card").first
        expect(first).to_have_attribute("data-role", "analyst")
        expect(first.locator(".badge")).to_have_text("you")
        expect(page.get_by_role("link", name="Go to your work")).to_have_attribute("href", "/definitions")

    icon = httpx.get(f"{stack.base_url}/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
