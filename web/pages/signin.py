"""Sign in and out of the pages: GET/POST /login, POST /logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from oms.auth import authenticate, issue_token
from oms.db import session_scope
from services import people
from web import i18n
from web.deps import PageUserDep, SessionDep
from web.i18n import gettext
from web.pages import flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import (
    CSRF_FIELD,
    CSRF_REFUSED,
    LOGIN_COOKIE,
    FormUser,
    PageRefused,
    end_session,
    login_nonce,
    login_token,
    safe_next,
    set_login_nonce,
    start_session,
    tokens_match,
)
from web.throttle import client_address, throttle

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Where each role's work is, first match wins: sign-in lands there unless the person was on the way elsewhere.
LANDINGS = (
    ("admin", "/inbox"),  # escalated tasks land on admins
    ("operator", "/inbox"),
    ("analyst", "/definitions"),
    ("manager", "/dashboard"),
)


def landing(roles: tuple[str, ...]) -> str:
    """The page a person with ``roles`` starts on after signing in."""
    return next((page for role, page in LANDINGS if role in roles), "/orders")


def _login_form(request: Request, next_: str, username: str = "", error: str = "", status_code: int = 200):
    nonce = login_nonce(request)
    response = render(
        request,
        "pages/login.html",
        {
            "next": safe_next(next_, default="") if next_ else "",
            "username": username,
            "error": error,
            "login_token": login_token(nonce),
        },
        status_code=status_code,
    )
    set_login_nonce(request, response, nonce)
    return response


@router.get("/login")
def login_page(request: Request, user: PageUserDep, next: str = ""):
    if user is not None:
        return redirect(next or landing(user.roles))
    return _login_form(request, next)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
):
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not tokens_match(login_token(nonce), token):
        raise PageRefused(403, gettext(CSRF_REFUSED))
    wait = throttle().retry_after(username, client_address(request))
    if wait is not None:
        message = gettext("Too many failed sign-ins; try again in %(seconds)s seconds.", seconds=wait)
        response = _login_form(request, next, username, message, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = authenticate(session, username.strip(), password)
    if user is None:
        throttle().failed(username, client_address(request))
        return _login_form(request, next, username, gettext("Wrong username or password."), status_code=401)
    throttle().succeeded(username)
    response = redirect(next or landing(tuple(user.roles)))
    start_session(request, response, issue_token(user))
    if user.language:  # the pages of this browser follow the person's language once signed out too
        i18n.remember(response, user.language)
    return response


@router.post("/logout")
def logout(user: FormUser):
    with session_scope() as session:
        people.sign_out(session, user.username)  # the cookie's token, and every other, stops working
    response = redirect("/login", flash.Flash().ok(gettext("You are signed out.")))
    end_session(response)
    return response
