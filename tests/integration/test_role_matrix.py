"""Who may call what: every route of the app, every role, against one table.

The routes come from the app itself (``app.routes``), so a route added without
a line in ACCESS fails ``test_every_route_is_in_the_table``. Each route is then
called by every dev user (admin, analyst, operator, channel) and anonymously,
with placeholder parameters and no body: a denial is 401/403 (a page: a
redirect to /login or 403), anything else (200, 404, 422, ...) is an allowance.
Runs against a scratch stack: allowed calls may change its data.

When roles change (several per user, scopes), change ACCESS and ``allowed``.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, _iter_included_route_candidates
from starlette.requests import Request
from starlette.routing import Mount, Route

from web.app import create_app
from web.deps import SESSION_COOKIE
from web.pages.security import CSRF_FIELD, LOGIN_COOKIE, csrf_token

ROLES = ("admin", "analyst", "operator", "channel", None)  # None: anonymous
PUBLIC = "public"  # everybody, signed in or not
SIGNED_IN = "signed in"  # any role
SIGNATURE = "signature"  # bearer tokens and cookies grant nothing: only an HMAC signature does
OPERATOR, ANALYST, ADMIN = ("operator",), ("analyst",), ("admin",)
CHANNEL_OR_OPERATOR = ("channel", "operator")

# (method, path) -> who may; admin is admitted wherever a role is named.
ACCESS: dict[tuple[str, str], str | tuple[str, ...]] = {
    # docs, health, metrics (no OMS_METRICS_TOKEN on this stack), the start page, static files
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("POST", "/language"): PUBLIC,  # the header's language switcher; a signed-in person's form carries the CSRF token
    ("GET", "/static"): PUBLIC,
    ("GET", "/static/editor"): PUBLIC,
    # auth
    ("POST", "/api/auth/token"): PUBLIC,
    ("GET", "/api/auth/me"): SIGNED_IN,
    ("POST", "/api/auth/logout"): SIGNED_IN,
    ("POST", "/api/auth/password"): SIGNED_IN,
    # orders
    ("POST", "/api/orders"): CHANNEL_OR_OPERATOR,
    ("GET", "/api/orders"): SIGNED_IN,
    ("GET", "/api/orders/{order_id}"): SIGNED_IN,
    ("POST", "/api/orders/{order_id}/events"): CHANNEL_OR_OPERATOR,
    ("POST", "/api/orders/{order_id}/cancel"): CHANNEL_OR_OPERATOR,
    ("POST", "/api/orders/{order_id}/address"): CHANNEL_OR_OPERATOR,
    ("POST", "/api/channels/{name}/orders"): SIGNATURE,
    ("GET", "/api/channels/{name}/pull"): ("analyst", "operator"),
    ("POST", "/api/channels/{name}/pull"): ANALYST,
    # tasks
    ("GET", "/api/tasks"): SIGNED_IN,
    ("GET", "/api/tasks/{task_id}"): SIGNED_IN,
    ("POST", "/api/tasks/{task_id}/decision"): OPERATOR,
    ("POST", "/api/tasks/decisions"): OPERATOR,
    ("POST", "/api/tasks/{task_id}/claim"): OPERATOR,
    ("POST", "/api/tasks/{task_id}/unclaim"): OPERATOR,
    ("GET", "/api/decisions"): SIGNED_IN,
    # definitions: everybody reads; validating, what-if, drafts and publishing are the editors'
    ("GET", "/api/definitions"): SIGNED_IN,
    ("POST", "/api/definitions/validate"): ANALYST,
    ("POST", "/api/definitions/edit"): ANALYST,
    ("GET", "/api/definitions/schemas/{kind}"): SIGNED_IN,
    ("GET", "/api/definitions/log"): ADMIN,
    ("POST", "/api/definitions/whatif"): ANALYST,
    ("PUT", "/api/definitions/drafts"): ANALYST,
    ("GET", "/api/definitions/drafts/{kind}/{name}"): ANALYST,
    ("DELETE", "/api/definitions/drafts/{kind}/{name}"): ANALYST,
    ("GET", "/api/definitions/{kind}/{name}"): SIGNED_IN,
    ("GET", "/api/definitions/{kind}/{name}/versions/{version}"): SIGNED_IN,
    ("GET", "/api/definitions/{kind}/{name}/diff"): SIGNED_IN,
    ("POST", "/api/definitions/{kind}/{name}/rollback"): ANALYST,
    ("POST", "/api/definitions"): ANALYST,
    # moving waiting instances between flow versions (issue 15): the editors'
    ("POST", "/api/definitions/flow/{name}/migrations/preview"): ANALYST,
    ("POST", "/api/definitions/flow/{name}/migrations"): ANALYST,
    ("GET", "/api/definitions/flow/{name}/migrations/{migration_id}"): ANALYST,
    ("POST", "/api/definitions/flow/{name}/migrations/{migration_id}/pause"): ANALYST,
    ("POST", "/api/definitions/flow/{name}/migrations/{migration_id}/resume"): ANALYST,
    # stock: everybody reads; operators change it and run the ledger reconciliation
    ("GET", "/api/inventory"): SIGNED_IN,
    ("GET", "/api/inventory/warehouses"): SIGNED_IN,
    ("GET", "/api/inventory/skus"): SIGNED_IN,
    ("GET", "/api/inventory/movements"): SIGNED_IN,
    ("GET", "/api/inventory/alerts"): SIGNED_IN,
    ("GET", "/api/inventory/replenishment"): SIGNED_IN,
    ("GET", "/api/inventory/reconciliation"): OPERATOR,
    ("GET", "/api/inventory/backorders"): SIGNED_IN,
    ("GET", "/api/inventory/channels"): SIGNED_IN,
    ("GET", "/api/inventory/sync"): SIGNED_IN,  # stock sync to channels: what was pushed, any failure
    ("POST", "/api/inventory/sync/{channel}"): OPERATOR,  # push every SKU again
    ("PUT", "/api/inventory/skus/{sku}"): OPERATOR,
    ("POST", "/api/inventory/receipts"): OPERATOR,
    ("POST", "/api/inventory/returns"): OPERATOR,
    ("POST", "/api/inventory/adjustments"): OPERATOR,
    ("POST", "/api/inventory/transfers"): OPERATOR,
    ("PUT", "/api/inventory/channels/{channel}/{warehouse}/{sku}"): OPERATOR,
    ("PUT", "/api/inventory/{warehouse}/{sku}"): OPERATOR,
    # fulfilment
    ("GET", "/api/orders/{order_id}/shipments"): SIGNED_IN,
    ("GET", "/api/orders/{order_id}/label"): SIGNED_IN,
    ("GET", "/api/shipments/{shipment_id}/label"): SIGNED_IN,
    ("GET", "/api/orders/{order_id}/packing-slip"): SIGNED_IN,
    ("POST", "/api/carriers/{carrier}/events"): SIGNATURE,
    ("POST", "/api/carriers/simulated/parcels/{tracking_number}/advance"): OPERATOR,
    ("POST", "/api/shipments/{shipment_id}/track"): OPERATOR,
    ("POST", "/api/waves"): OPERATOR,
    ("GET", "/api/waves"): SIGNED_IN,
    ("GET", "/api/waves/{wave_id}"): SIGNED_IN,
    ("GET", "/api/waves/{wave_id}/pick-list"): SIGNED_IN,
    # analytics
    ("GET", "/api/analytics"): SIGNED_IN,
    ("GET", "/api/analytics/{table}.csv"): SIGNED_IN,
    # returns
    ("POST", "/api/returns"): CHANNEL_OR_OPERATOR,
    ("GET", "/api/returns"): SIGNED_IN,
    ("GET", "/api/returns/{return_id}"): SIGNED_IN,
    ("POST", "/api/returns/{return_id}/events"): CHANNEL_OR_OPERATOR,
    ("POST", "/api/returns/{return_id}/decision"): OPERATOR,
    ("POST", "/api/returns/scan"): OPERATOR,
    # people and channel keys
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("PATCH", "/api/users/{username}"): ADMIN,
    ("GET", "/api/channel-keys"): ADMIN,
    ("POST", "/api/channel-keys"): ADMIN,
    ("POST", "/api/channel-keys/{key_id}/rotate"): ADMIN,
    ("DELETE", "/api/channel-keys/{key_id}"): ADMIN,
    # pages (the session cookie; forms carry the CSRF token)
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/inbox"): SIGNED_IN,
    ("POST", "/inbox/tasks/{task_id}/claim"): OPERATOR,
    ("POST", "/inbox/tasks/{task_id}/unclaim"): OPERATOR,
    ("POST", "/inbox/tasks/{task_id}/decision"): OPERATOR,
    ("POST", "/inbox/decisions"): OPERATOR,
    ("GET", "/orders/new"): OPERATOR,
    ("POST", "/orders/new"): OPERATOR,
    ("GET", "/orders/{order_id}"): SIGNED_IN,
    ("GET", "/orders"): SIGNED_IN,
    ("GET", "/orders.csv"): SIGNED_IN,
    ("POST", "/orders/views"): SIGNED_IN,
    ("POST", "/orders/views/{view_id}/delete"): SIGNED_IN,
    ("POST", "/orders/{order_id}/actions/{action}"): OPERATOR,
    ("GET", "/stock"): SIGNED_IN,
    ("GET", "/stock/{sku}"): SIGNED_IN,
    ("POST", "/stock/{sku}/receive"): OPERATOR,
    ("POST", "/stock/{sku}/adjust"): OPERATOR,
    ("POST", "/stock/{sku}/transfer"): OPERATOR,
    ("POST", "/stock/{sku}/channel-reserve"): OPERATOR,
    ("POST", "/stock/channels/{channel}/resync"): OPERATOR,
    ("GET", "/orders/{order_id}/label"): SIGNED_IN,
    ("GET", "/orders/{order_id}/packing-slip"): SIGNED_IN,
    ("GET", "/waves/{wave_id}/pick-list"): SIGNED_IN,
    ("GET", "/dashboard/{table}.csv"): SIGNED_IN,
    ("GET", "/dashboard"): SIGNED_IN,
    ("GET", "/waves"): SIGNED_IN,
    ("POST", "/waves"): OPERATOR,
    ("GET", "/waves/{wave_id}"): SIGNED_IN,
    ("POST", "/waves/{wave_id}/tasks/{task_id}/scan"): OPERATOR,
    ("GET", "/returns"): SIGNED_IN,
    ("GET", "/returns/new"): OPERATOR,
    ("POST", "/returns/new"): OPERATOR,
    ("GET", "/returns/{return_id}"): SIGNED_IN,
    ("POST", "/returns/{return_id}/decision"): OPERATOR,
    ("POST", "/returns/{return_id}/parcel"): OPERATOR,
    ("POST", "/returns/scan"): OPERATOR,
    ("GET", "/people"): ADMIN,
    ("POST", "/people/users"): ADMIN,
    ("POST", "/people/users/{username}/roles"): ADMIN,
    ("POST", "/people/users/{username}/active"): ADMIN,
    ("POST", "/people/users/{username}/password"): ADMIN,
    ("POST", "/people/keys"): ADMIN,
    ("POST", "/people/keys/{key_id}/rotate"): ADMIN,
    ("POST", "/people/keys/{key_id}/revoke"): ADMIN,
    ("GET", "/definitions"): SIGNED_IN,
    ("GET", "/definitions/new"): SIGNED_IN,
    ("GET", "/definitions/log"): ADMIN,
    ("POST", "/definitions/check"): SIGNED_IN,
    ("POST", "/definitions/whatif"): ANALYST,
    ("POST", "/definitions/preview"): ANALYST,
    ("POST", "/definitions/structure"): SIGNED_IN,
    ("POST", "/definitions/edit"): ANALYST,
    ("POST", "/definitions/flow-structure"): SIGNED_IN,
    ("POST", "/definitions/flow-change"): ANALYST,
    ("POST", "/definitions/rule"): ANALYST,
    ("POST", "/definitions/case-from-order"): ANALYST,
    ("POST", "/definitions/test-case-from-order"): ANALYST,  # the order page's "Make this a test case"
    ("GET", "/definitions/flow/{name}/diagram"): SIGNED_IN,
    ("GET", "/definitions/flow/{name}/migrate"): ANALYST,
    ("POST", "/definitions/flow/{name}/migrate"): ANALYST,
    ("POST", "/definitions/flow/{name}/migrations/{migration_id}"): ANALYST,
    ("POST", "/definitions/editor"): SIGNED_IN,
    ("GET", "/definitions/{kind}/{name}"): SIGNED_IN,
    ("GET", "/definitions/{kind}/{name}/history"): SIGNED_IN,
    ("POST", "/definitions/{kind}/{name}/rollback"): ANALYST,
}

# Calls that end the caller's session: made last, each with fresh sign-ins.
ENDS_SESSION = {("POST", "/api/auth/logout"), ("POST", "/logout")}

# Placeholder values for path parameters: real names where a route looks the name up before the role.
PLACEHOLDERS = {
    "kind": "rules",
    "name": "order_audit",
    "version": "1",
    "sku": "MUG-LOGO",
    "warehouse": "BER",
    "channel": "web",
    "carrier": "simulated",
    "table": "sales",
    "shipment_id": "1",
    "view_id": "1",
}


def app_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the app serves; a mount counts as one GET."""
    found = []
    for route in _iter_included_route_candidates(create_app().routes):
        if isinstance(route, APIRoute | Route):
            found += [(method, route.path) for method in sorted(route.methods or ()) if method != "HEAD"]
        elif isinstance(route, Mount):
            found.append(("GET", route.path))
    return found


ROUTES = app_routes()


def allowed(access: str | tuple[str, ...], role: str | None) -> bool:
    if access == PUBLIC:
        return True
    if access == SIGNATURE or role is None:
        return False
    if access == SIGNED_IN:
        return True
    return role == "admin" or role in access


def test_every_route_is_in_the_table():
    missing = sorted(set(ROUTES) - set(ACCESS))
    assert not missing, f"routes without a line in ACCESS: {missing}"
    gone = sorted(set(ACCESS) - set(ROUTES))
    assert not gone, f"lines in ACCESS for routes the app no longer has: {gone}"
    assert len(ROUTES) > 100


def _url(method: str, path: str, root: str) -> str:
    if path == "/api/channels/{name}/orders":
        return "/api/channels/web/orders"
    if path.startswith("/static"):
        folder = root / Path("web/static" if path == "/static" else "designer/static/editor")
        return f"{path}/{sorted(p.name for p in folder.iterdir() if p.is_file())[0]}"
    return re.sub(r"\{(\w+)\}", lambda m: PLACEHOLDERS.get(m.group(1), "nothing"), path)


class Caller:
    """One role's way in: a bearer token for the API, the same token as the session cookie for pages."""

    def __init__(self, stack, role: str | None):
        self.stack, self.role = stack, role
        self.client = httpx.Client(base_url=stack.base_url, timeout=60, follow_redirects=False)
        if role is not None:
            token = httpx.post(
                f"{stack.base_url}/api/auth/token", data={"username": role, "password": "test-pass"}
            ).json()["access_token"]
            self.client.headers["Authorization"] = f"Bearer {token}"
            self.client.cookies.set(SESSION_COOKIE, token)
            # The pages' CSRF token for this session (the test shares the stack's secret key).
            cookie = f"{SESSION_COOKIE}={token}".encode()
            self.csrf = csrf_token(Request({"type": "http", "headers": [(b"cookie", cookie)]}))

    def call(self, method: str, path: str, url: str) -> httpx.Response:
        if path == "/login" and method == "POST":
            nonce = httpx.get(f"{self.stack.base_url}/login")  # signed in, GET /login goes to the inbox
            token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', nonce.text).group(1)
            signing_in = {CSRF_FIELD: token, "username": "analyst", "password": "test-pass"}
            # A client of its own: signing in sets a session cookie this caller must not take on.
            with httpx.Client(base_url=self.stack.base_url, headers=self.client.headers) as other:
                other.cookies.set(LOGIN_COOKIE, nonce.cookies[LOGIN_COOKIE])
                return other.post(url, data=signing_in)
        if path.startswith("/api/") or method == "GET":
            return self.client.request(method, url)
        csrf = getattr(self, "csrf", "")
        # A form with its CSRF token and the one number a route reads before its role check.
        form = {CSRF_FIELD: csrf, "version": "1"}
        return self.client.request(method, url, data=form, headers={"x-csrf-token": csrf})


def denied(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    # A page sends whoever is not signed in to the sign-in page, coming back afterwards.
    return response.status_code in (302, 303, 307) and response.headers["location"].startswith("/login?next=")


def test_every_route_admits_exactly_the_roles_in_the_table(scratch_stack):
    root = Path(__file__).resolve().parents[2]
    ordered = [r for r in ROUTES if r not in ENDS_SESSION] + sorted(ENDS_SESSION)
    callers: dict[str | None, Caller] = {}
    wrong, errors, calls = [], [], 0
    for method, path in ordered:
        url = _url(method, path, root)
        for role in ROLES:
            if role not in callers or (method, path) in ENDS_SESSION:
                callers[role] = Caller(scratch_stack, role)
            response = callers[role].call(method, path, url)
            calls += 1
            if response.status_code >= 500:
                errors.append(f"{method} {url} as {role}: {response.status_code}")
            expected = allowed(ACCESS[(method, path)], role)
            if denied(response) == expected:
                wrong.append(
                    f"{method} {path} as {role or 'anonymous'}: {response.status_code} "
                    f"({'should be allowed' if expected else 'should be denied'})"
                )
    print(f"role matrix: {len(ordered)} routes x {len(ROLES)} callers = {calls} calls")
    assert not errors, "server errors:\n" + "\n".join(errors)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("access", "role", "expected"), [(ANALYST, "admin", True), (OPERATOR, "channel", False)])
def test_allowed_reads_the_table(access, role, expected):
    assert allowed(access, role) is expected
