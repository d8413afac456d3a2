"""Screenshots of the main pages in English and Chinese for the README: docs/screenshots/<page>-<lang>.png.

Run against a running stack (``oms up``, or any with the dev users), after seeding a few orders so
that the lists are not empty:

    .venv/bin/oms up &                       # or OMS_WEB_PORT=... OMS_DATA_DIR=... for a scratch one
    .venv/bin/python scripts/screenshots.py --base-url http://127.0.0.1:8000

It signs in as the dev admin (OMS_DEV_PASSWORD, default oms-dev), submits a held order and an
ordinary one through the API when asked (``--seed``), and shoots each page at 1280x800 in a browser
context whose Accept-Language is en-US, then zh-CN (the admin has no language of their own).
Chromium is Debian's (scripts/install-chromium), as in the browser tests.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 800}
LOCALES = {"en": "en-US", "zh": "zh-CN"}
log = logging.getLogger("screenshots")


def _token(base_url: str, username: str, password: str) -> str:
    response = httpx.post(f"{base_url}/api/auth/token", data={"username": username, "password": password})
    response.raise_for_status()
    return response.json()["access_token"]


def _order(number: int, held: bool) -> dict:
    """A phone order; a large one to a first-time address is held for review by the shipped rules."""
    qty, price = (40, 129.0) if held else (2, 9.5)
    names = ["Ann Example", "李娜", "Jonas Berg", "王伟", "Marie Dubois"]
    return {
        "channel": "web",
        "external_id": f"SHOT-{number}-{uuid.uuid4().hex[:6].upper()}",
        "customer": {"name": names[number % len(names)], "email": f"customer{number}@example.com"},
        "shipping_address": {
            "street": f"Hauptstr. {100 + number}",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "lines": [{"sku": "MUG-LOGO", "qty": qty, "price": price}],
        "payment": {"method": "card", "status": "paid"},
        "client_ip": f"2001:db8::{number:x}",
    }


def seed(base_url: str, password: str) -> str:
    """A few orders, one of them held for review; returns the held one's id once its task is open."""
    headers = {"Authorization": f"Bearer {_token(base_url, 'channel', password)}"}
    held = ""
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for number in range(5):
            response = client.post("/api/orders", json=_order(number, held=number == 1))
            response.raise_for_status()
            if number == 1:
                held = response.json()["id"]
    admin = {"Authorization": f"Bearer {_token(base_url, 'admin', password)}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        order = httpx.get(f"{base_url}/api/orders/{held}", headers=admin).json()
        if any(task["status"] == "open" for task in order.get("tasks", [])):
            break
        time.sleep(0.5)
    return held


def _latest_order(base_url: str, password: str) -> str:
    """A held order if there is one (its page shows why), else the newest."""
    admin = {"Authorization": f"Bearer {_token(base_url, 'admin', password)}"}
    held = httpx.get(f"{base_url}/api/orders", headers=admin, params={"status": "on_hold"}).json()["orders"]
    return (held or httpx.get(f"{base_url}/api/orders", headers=admin).json()["orders"])[0]["id"]


def _sign_in(page: Page, password: str) -> None:
    page.goto("/login?next=/inbox")
    page.locator("#username").fill("admin")
    page.locator("#password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url("**/inbox")


def shoot(base_url: str, password: str, order_id: str) -> list[Path]:
    pages = {
        "orders": "/orders",
        "order": f"/orders/{order_id}",
        "inbox": "/inbox",
        "dashboard": "/dashboard",
        "designer": "/definitions/flow/order",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        for language, locale in LOCALES.items():
            context = browser.new_context(base_url=base_url, locale=locale, viewport=VIEWPORT)
            page = context.new_page()
            _sign_in(page, password)
            for name, path in pages.items():
                page.goto(path)
                page.wait_for_load_state("networkidle")
                target = OUT / f"{name}-{language}.png"
                page.screenshot(path=str(target))
                written.append(target)
                log.info("%s", target.relative_to(ROOT))
            context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--seed", action="store_true", help="submit a few orders first (one held for review)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    password = os.environ.get("OMS_DEV_PASSWORD", "oms-dev")
    order_id = seed(args.base_url, password) if args.seed else _latest_order(args.base_url, password)
    shoot(args.base_url, password, order_id)


if __name__ == "__main__":
    main()
