"""What every page test shares: one Chromium per module and a signed-in page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium; Playwright's own download does not work here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Browser:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def signed_in_at(browser, stack) -> Callable[..., Page]:
    """A function: a fresh browser context that opens ``path``, signs in as ``role`` and lands there."""
    contexts = []

    def open_page(role: str, path: str, javascript: bool = True) -> Page:
        context = browser.new_context(
            base_url=stack.base_url, java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(path)
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("Username").fill(role)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        return page

    yield open_page
    for context in contexts:
        context.close()


def editor_text(page: Page) -> str:
    """The designer editor's text, once its module has set the editor up (the page shows before it runs)."""
    page.wait_for_function("window.omsEditor !== undefined")
    return page.evaluate("window.omsEditor.state.doc.toString()")
