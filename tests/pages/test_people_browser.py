"""The admin page of people and channel keys, in Chromium."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import expect

PASSWORD = "a long enough password"


def _token(stack, username: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{stack.base_url}/api/auth/token", data={"username": username, "password": password})


def test_an_admin_adds_a_scoped_operator_disables_them_and_manages_a_channel_key(stack, signed_in_at):
    page = signed_in_at("admin", "/people")
    username = f"ops-{uuid.uuid4().hex[:6]}"
    form = page.locator("form", has=page.get_by_role("heading", name="Add a person"))
    form.get_by_label("Username").fill(username)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_label("Roles (comma-separated)").fill("operator, approver")
    form.get_by_label("Warehouses (empty: all)").fill("BER")
    form.get_by_role("button", name="Add").click()
    expect(page.get_by_text(f"Added {username}.")).to_be_visible()
    row = page.locator(f'tr[data-user="{username}"]')
    expect(row.get_by_label("Roles")).to_have_value("operator, approver")
    expect(row.get_by_label("Warehouses")).to_have_value("BER")

    token = _token(stack, username).json()["access_token"]
    me = httpx.get(f"{stack.base_url}/api/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["roles"], me["warehouses"]) == (["operator", "approver"], ["BER"])

    row.get_by_role("button", name="Disable").click()
    expect(page.get_by_text(f"Disabled {username}.")).to_be_visible()
    expect(page.locator(f'tr[data-user="{username}"]').get_by_text("disabled", exact=True)).to_be_visible()
    refused = httpx.get(f"{stack.base_url}/api/orders", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401

    bad = page.locator("form", has=page.get_by_role("heading", name="Add a person"))
    bad.get_by_label("Username").fill(f"weak-{uuid.uuid4().hex[:6]}")
    bad.get_by_label("Password").fill("0123456789")
    bad.get_by_label("Roles (comma-separated)").fill("operator")
    bad.get_by_label("Warehouses (empty: all)").fill("NOWHERE")
    bad.get_by_role("button", name="Add").click()
    expect(page.get_by_text(re.compile(r"unknown warehouse NOWHERE; known: "))).to_be_visible()

    keys = page.locator("form", has=page.get_by_role("heading", name="New channel key"))
    keys.get_by_label("Channel").select_option("phone")
    keys.get_by_label("What uses it").fill("call centre")
    keys.get_by_role("button", name="Create key").click()
    key = page.locator("#issued-key").inner_text()
    assert key.startswith("omsk_")
    key_id = key.split("_")[1]
    with httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}) as client:
        assert client.get("/api/auth/me").json()["channels"] == ["phone"]
        page.goto("/people")
        expect(page.locator("#issued-key")).to_have_count(0)  # shown once
        page.locator(f'tr[data-key="{key_id}"]').get_by_role("button", name="Revoke").click()
        expect(page.get_by_text(f"Revoked key {key_id}; it stopped working.")).to_be_visible()
        assert client.get("/api/auth/me").status_code == 401


def test_only_admins_see_the_people_page(stack, signed_in_at):
    page = signed_in_at("operator", "/inbox")
    expect(page.get_by_role("link", name="People")).to_have_count(0)
    response = page.goto("/people")
    assert response is not None and response.status == 403
    expect(page.get_by_text("Role 'operator' may not manage people; that needs admin.")).to_be_visible()
