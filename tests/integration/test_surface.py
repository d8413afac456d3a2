"""The exposed surface against a real stack: print pages, definitions, numbers, webhooks, sign-in."""

from __future__ import annotations

import json
import statistics
import time

import httpx
import pytest

from engine.definitions import ALIAS_MESSAGE
from services.orders.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers
from tests.conftest import PASSWORD, order_payload, unique
from tests.engine.test_definition_limits import LAUGHS, RULES_WITH_EXPENSIVE_CASE
from tests.integration.test_channels import marketplace_payload
from web.printing import CONTENT_SECURITY_POLICY

# ---- printable pages ------------------------------------------------------------------------


def test_printable_pages_forbid_scripts(stack):
    order_id = stack.submit(order_payload()).json()["id"]
    with stack.client("operator") as client:
        slip = client.get(f"/api/orders/{order_id}/packing-slip")
    assert slip.status_code == 200, slip.text
    assert slip.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'unsafe-hashes' 'sha256-" in CONTENT_SECURITY_POLICY  # the Print button only
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    token = stack.token("operator")
    with httpx.Client(base_url=stack.base_url, cookies={"oms_session": token}) as browser:
        page = browser.get(f"/orders/{order_id}/packing-slip")
    assert (page.status_code, page.headers["content-security-policy"]) == (200, CONTENT_SECURITY_POLICY)


def test_a_print_template_with_a_script_is_not_published(stack):
    text = f"kind: template\nname: {unique('t').lower().replace('-', '_')}\nuse: label\nbody: '<script>x()</script>'\n"
    with stack.client("analyst") as client:
        refused = client.post("/api/definitions", json={"text": text})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"] == "$.body"
    assert "a <script> element is not allowed" in refused.json()["errors"][0]["message"]


# ---- definitions --------------------------------------------------------------------------------


def test_a_500_byte_request_cannot_take_the_web_process_down(stack):
    with stack.client("analyst") as client:
        started = time.monotonic()
        laughs = client.post("/api/definitions/validate", json={"text": LAUGHS})
        expensive = client.post("/api/definitions/validate", json={"text": RULES_WITH_EXPENSIVE_CASE})
        elapsed = time.monotonic() - started
        assert client.get("/api/definitions").status_code == 200  # still serving
    assert len(LAUGHS.encode()) < 500 and len(RULES_WITH_EXPENSIVE_CASE.encode()) < 500
    assert [(e["path"], e["message"]) for e in laughs.json()["errors"]] == [("$", f"line 3: {ALIAS_MESSAGE}")]
    assert expensive.json()["valid"] is False and expensive.json()["tests"] == []
    assert "its ranges hold 10000000001 values" in expensive.json()["errors"][0]["message"]
    assert elapsed < 5


def test_definition_text_size_is_capped(stack):
    with stack.client("analyst") as client:
        response = client.post("/api/definitions/validate", json={"text": "# " + "x" * 300_000})
    assert response.status_code == 422


# ---- numbers in queries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/tasks", {"offset": 10**20}),
        ("/api/tasks", {"older_than_minutes": 10**20}),
        ("/api/returns", {"offset": 10**20}),
        ("/api/returns", {"older_than_days": 1e300}),
        ("/api/orders", {"offset": 10**20}),
        ("/api/definitions/rules/order_audit/diff", {"from": 1, "to": 10**20}),
        ("/api/definitions/rules/order_audit/versions/99999999999999999999", {}),
        ("/api/shipments/99999999999999999999/label", {}),
    ],
)
def test_huge_numbers_are_refused_not_a_server_error(stack, path, params):
    with stack.client("operator") as client:
        assert client.get(path, params=params).status_code == 422


# ---- signed webhooks ------------------------------------------------------------------------------


def _native(stack, body: bytes, headers: dict) -> httpx.Response:
    headers = {"content-type": "application/json", **headers}
    return httpx.post(f"{stack.base_url}/api/channels/marketplace/orders", content=body, headers=headers, timeout=60)


def test_a_captured_webhook_cannot_be_replayed_later(stack):
    body = json.dumps(marketplace_payload()).encode()
    fresh = _native(stack, body, signed_headers("dev-secret-marketplace", body))
    assert fresh.status_code == 201, fresh.text
    captured = signed_headers("dev-secret-marketplace", body, int(time.time()) - 3600)
    replay = _native(stack, json.dumps(marketplace_payload()).encode(), captured)
    assert replay.status_code == 401
    replayed = _native(stack, body, captured)
    assert (replayed.status_code, replayed.json()["detail"]) == (
        401,
        "X-OMS-Timestamp is more than 300 seconds away from now: sign each request when sending it",
    )
    untimed = _native(stack, body, {SIGNATURE_HEADER: captured[SIGNATURE_HEADER]})
    assert untimed.status_code == 401
    assert untimed.json()["detail"].startswith("missing or malformed X-OMS-Timestamp header")


def test_a_webhook_body_is_size_checked_before_its_signature(stack):
    body = b'{"x": "' + b"a" * (300 * 1024) + b'"}'
    unsigned = _native(stack, body, {})
    assert (unsigned.status_code, unsigned.json()["detail"]) == (413, "the request body is larger than 262144 bytes")
    carrier = httpx.post(f"{stack.base_url}/api/carriers/simulated/events", content=body, timeout=60)
    assert carrier.status_code == 413


def test_each_carrier_signs_with_its_own_secret(stack):
    body = json.dumps({"tracking_number": "SIMNOPE", "type": "in_transit", "event_id": unique()}).encode()
    url = f"{stack.base_url}/api/carriers/simulated/events"
    other = httpx.post(url, content=body, headers=signed_headers("dev-secret-carrier-dhl", body))
    assert (other.status_code, other.json()["detail"]) == (401, "X-OMS-Signature does not match the body")
    own = httpx.post(url, content=body, headers=signed_headers("dev-secret-carrier-simulated", body))
    assert own.status_code == 404  # signed: now the unknown parcel is what is wrong
    stamp = int(time.time())
    legacy = {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign("dev-secret-carrier-simulated", body, stamp + 1)}
    assert httpx.post(url, content=body, headers=legacy).status_code == 401


# ---- sign-in ---------------------------------------------------------------------------------------


def _sign_in(stack, username: str, password: str, address: str | None = None) -> httpx.Response:
    # The stack's web app trusts X-Forwarded-For from 127.0.0.1 (OMS_FORWARDED_ALLOW_IPS): a proxy's view.
    headers = {"X-Forwarded-For": address} if address else {}
    return httpx.post(
        f"{stack.base_url}/api/auth/token", data={"username": username, "password": password}, headers=headers
    )


def test_sign_in_is_throttled_per_account(stack):
    name = unique("ghost").lower()
    answers = [_sign_in(stack, name, "wrong", f"198.51.100.{n}").status_code for n in range(11)]
    assert answers == [401] * 10 + [429]
    throttled = _sign_in(stack, name, "wrong", "198.51.100.99")
    assert throttled.status_code == 429 and 1 <= int(throttled.headers["retry-after"]) <= 300


def test_sign_in_is_throttled_per_address(stack):
    address = f"203.0.113.{int(time.time()) % 250 + 1}"
    answers = [_sign_in(stack, unique("nobody"), "wrong", address).status_code for _ in range(31)]
    assert answers == [401] * 30 + [429]
    assert _sign_in(stack, "operator", PASSWORD, address).status_code == 429  # even the right password
    assert _sign_in(stack, "operator", PASSWORD, "203.0.113.251").status_code == 200  # elsewhere: fine


def test_unknown_users_take_as_long_as_wrong_passwords(stack):
    def median(username: str) -> float:
        times = []
        for n in range(5):
            started = time.monotonic()
            assert _sign_in(stack, username, "wrong", f"192.0.2.{n + 1}").status_code == 401
            times.append(time.monotonic() - started)
        return statistics.median(times)

    known, unknown = median("analyst"), median(unique("nobody"))
    assert unknown > known * 0.6, (known, unknown)
    assert _sign_in(stack, "analyst", PASSWORD).status_code == 200  # clears the account's failures


def test_cookies_are_secure_behind_a_tls_proxy(stack):
    https = {"X-Forwarded-Proto": "https"}  # what the TLS proxy in front (on 127.0.0.1) says
    form = httpx.get(f"{stack.base_url}/login", headers=https)
    assert "secure" in form.headers["set-cookie"].lower()
    sign_in_form = form.text.split('action="/login"')[1]  # the header's language form has a token of its own
    token = sign_in_form.split('name="csrf_token" value="')[1].split('"')[0]
    # A Secure cookie is not sent over plain http by a client: the proxy would; send it by hand.
    nonce = form.headers["set-cookie"].split(";")[0]
    signed_in = httpx.post(
        f"{stack.base_url}/login",
        data={"csrf_token": token, "username": "operator", "password": PASSWORD},
        headers={**https, "Cookie": nonce},
    )
    assert signed_in.status_code == 303, signed_in.text
    session = [c for c in signed_in.headers.get_list("set-cookie") if c.startswith("oms_session=")]
    assert session and "secure" in session[0].lower()
    assert "secure" not in httpx.get(f"{stack.base_url}/login").headers["set-cookie"].lower()
