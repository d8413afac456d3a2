"""The start page (what the product is, each role's way to its work), the favicon, the language switcher."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse

from oms.db import session_scope
from oms.settings import get_settings
from services import people
from web import i18n
from web.deps import PageUserDep
from web.i18n import N_, gettext
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import CSRF_FIELD, CSRF_REFUSED, PageRefused, csrf_token, tokens_match
from web.pages.signin import landing

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"

# Who does what, and where: (role, who, what they do, [(link, page)]). A person sees their own roles first.
ROLES = (
    (
        "operator",
        N_("Operators"),
        N_("Work the inbox: approve or reject held orders, claim tasks, check returned parcels."),
        (
            ("/inbox", N_("Inbox")),
            ("/orders/new", N_("New order")),
            ("/waves", N_("Waves")),
            ("/stock", N_("Stock")),
        ),
    ),
    (
        "service",
        N_("Customer service"),
        N_(
            "Find an order by customer name, e-mail, phone or external id; "
            "cancel it, change its address, start a return."
        ),
        (
            ("/orders", N_("Orders")),
            ("/returns", N_("Returns")),
            ("/returns/new", N_("Request a return")),
        ),
    ),
    (
        "analyst",
        N_("Analysts"),
        N_(
            "Edit the definitions the pipeline runs on (forms, audit rules, flows, allocation, templates), "
            "test them against recorded orders and publish new versions."
        ),
        (("/definitions", N_("Designer")),),
    ),
    (
        "manager",
        N_("Managers"),
        N_("See revenue, approval rates, the order funnel and returns, filtered by channel, country and time."),
        (("/dashboard", N_("Dashboard")),),
    ),
    (
        "admin",
        N_("Admins"),
        N_("Add people, give them roles and scopes, issue channel keys; read the publish log."),
        (("/people", N_("People")), ("/definitions/log", N_("Publish log"))),
    ),
    (
        "channel",
        N_("Shops and integrations"),
        N_("Send orders and events over the HTTP API with a channel key."),
        (("/docs", N_("API documentation")), ("/openapi.json", N_("OpenAPI schema"))),
    ),
)


def _roles_for(user_roles: tuple[str, ...]) -> list[dict]:
    """The role cards, the signed-in person's first (operators do the service work too)."""
    mine = set(user_roles)
    if "operator" in mine or "admin" in mine:
        mine.add("service")
    cards = [
        {
            "role": role,
            "who": gettext(who),
            "what": gettext(what),
            "links": [(href, gettext(text)) for href, text in links],
            "mine": role in mine,
        }
        for role, who, what, links in ROLES
    ]
    return sorted(cards, key=lambda card: not card["mine"])


@router.get("/")
def home(request: Request, user: PageUserDep):
    return render(
        request,
        "pages/home.html",
        {
            "nav": "home",
            "roles": _roles_for(user.roles if user else ()),
            "start": landing(user.roles) if user else "",
            "temporal_ui": get_settings().temporal_ui_url,
        },
    )


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(FAVICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"})


@router.post("/language")
def choose_language(
    request: Request,
    user: PageUserDep,
    language: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
):
    """The header's switcher: a signed-in person's setting (kept), and this browser's choice (a cookie)."""
    code = i18n.supported(language.strip())
    if user is not None:
        if not tokens_match(csrf_token(request), token):
            raise PageRefused(403, gettext(CSRF_REFUSED))
        if code is not None:
            with session_scope() as session:
                people.set_language(session, user.username, code)
    response = redirect(next, default="/")
    if code is not None:
        i18n.remember(response, code)
    return response
