"""Page sign-in and CSRF: the session cookie, form tokens and safe redirects.

The session cookie holds the JWT that ``oms.auth.issue_token`` makes, so a
page session expires with its token and needs no table. Every state-changing
form carries a CSRF token: an HMAC, under the app's secret key, of the session
token's signature; it changes with every sign-in and cannot be computed
without the secret. The sign-in form itself is protected by a random nonce
cookie and its HMAC (a forged cross-site login is refused as well).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from oms.settings import get_settings
from web.deps import SESSION_COOKIE, CurrentUser, PageUserDep
from web.i18n import N_, gettext

LOGIN_COOKIE = "oms_login"
CSRF_FIELD = "csrf_token"
ACTING_ROLES = ("operator", "admin")
CSRF_REFUSED = N_(
    "This form came without a valid security token (CSRF check failed), so nothing was changed. "
    "Go back, reload the page and try again."
)


class PageRedirect(Exception):
    """Leave the page for ``url`` (303, so a POST becomes a GET)."""

    def __init__(self, url: str):
        self.url = url
        super().__init__(url)


class PageRefused(Exception):
    """Answer with an error page: ``status_code`` and a message for people."""

    def __init__(self, status_code: int, message: str):
        self.status_code = status_code
        self.message = message
        super().__init__(message)


def _mac(purpose: str, value: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given or "")


def csrf_token(request: Request) -> str:
    """The CSRF token of the request's session; empty when nobody is signed in."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return _mac("csrf", token.rsplit(".", 1)[-1]) if token else ""


def login_nonce(request: Request) -> str:
    """The sign-in form's nonce: the browser's own, or a fresh one to set as a cookie."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def login_token(nonce: str) -> str:
    return _mac("login", nonce)


def safe_next(target: str | None, default: str = "/inbox") -> str:
    """A local path to go to after a form; anything else (other sites, odd schemes) is ``default``."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target:
        return target
    return default


def login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?" + urlencode({"next": here if request.method == "GET" else "/inbox"})


def _cookie_options(request: Request) -> dict:
    # Behind a TLS proxy the scheme is the client's (uvicorn trusts X-Forwarded-Proto from
    # OMS_FORWARDED_ALLOW_IPS); OMS_SECURE_COOKIES marks them Secure whatever the scheme.
    secure = get_settings().secure_cookies or request.url.scheme == "https"
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


def start_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=get_settings().token_minutes * 60, **_cookie_options(request))
    response.delete_cookie(LOGIN_COOKIE, path="/")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def set_login_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **_cookie_options(request))


def signed_in(request: Request, user: PageUserDep) -> CurrentUser:
    """The signed-in user; nobody: off to the sign-in page, coming back here afterwards."""
    if user is None:
        raise PageRedirect(login_url(request))
    return user


SignedIn = Annotated[CurrentUser, Depends(signed_in)]


def csrf_checked(request: Request, user: SignedIn, token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> CurrentUser:
    """The signed-in user of a form whose CSRF token matches the session's; else 403."""
    if not tokens_match(csrf_token(request), token):
        raise PageRefused(403, gettext(CSRF_REFUSED))
    return user


FormUser = Annotated[CurrentUser, Depends(csrf_checked)]


def acting(user: FormUser) -> CurrentUser:
    """A user who may claim and decide tasks from the pages (operator or admin)."""
    if not user.has(*ACTING_ROLES):
        raise PageRefused(
            403,
            gettext(
                "Role %(role)r can look at the inbox but not act on it; "
                "claiming and deciding tasks needs operator or admin.",
                role=user.role,
            ),
        )
    return user


Acting = Annotated[CurrentUser, Depends(acting)]
