"""Templates, their filters, and the route class that turns page exceptions into pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from web import i18n
from web.deps import page_user
from web.i18n import gettext
from web.pages import flash, wording
from web.pages.security import (
    ACTING_ROLES,
    PageRedirect,
    PageRefused,
    csrf_token,
    safe_next,
)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
# Starlette turns autoescape on already; say so here because every reason,
# name and comment on these pages comes from definitions or orders.
TEMPLATES.env.autoescape = True
i18n.install(TEMPLATES.env)


def add_template_folder(folder: Path) -> None:
    """Let another part of the app (the designer) keep its page templates beside its code."""
    TEMPLATES.env.loader.searchpath.append(str(folder))  # type: ignore[union-attr]


def as_utc(value: datetime | str) -> datetime:
    """Stored times are UTC; SQLite and PostgreSQL hand them back without a zone."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def span(seconds: float) -> str:
    """A duration for people: "< 1 min", "3 min", "2 h", "4 d"."""
    seconds = abs(seconds)
    if seconds < 60:
        return gettext("< 1 min")
    if seconds < 3600:
        return gettext("%(n)d min", n=seconds // 60)
    if seconds < 48 * 3600:
        return gettext("%(n)d h", n=seconds // 3600)
    return gettext("%(n)d d", n=seconds // 86400)


def age(value: datetime | str, now: datetime | None = None) -> str:
    return span(((now or datetime.now(UTC)) - as_utc(value)).total_seconds())


def due(value: datetime | str, now: datetime | None = None) -> str:
    left = (as_utc(value) - (now or datetime.now(UTC))).total_seconds()
    return gettext("in %(span)s", span=span(left)) if left >= 0 else gettext("%(span)s overdue", span=span(left))


def overdue(value: datetime | str) -> bool:
    return as_utc(value) < datetime.now(UTC)


def stamp(value: datetime | str | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def iso(value: datetime | str | None) -> str:
    return as_utc(value).isoformat() if value else ""


def money(value: float | int | None) -> str:
    return f"{value or 0:,.2f}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


TEMPLATES.env.filters.update(
    age=age, due=due, overdue=overdue, stamp=stamp, iso=iso, money=money, pretty_json=pretty_json
)
TEMPLATES.env.filters.update(wording.FILTERS)


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A page with the layout's needs (user, CSRF token, notices); notices are shown once."""
    user = page_user(request)
    notices = flash.take(request)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "can_act": user is not None and user.has(*ACTING_ROLES),
            "csrf": csrf_token(request),
            "flash": notices,
            **context,
        },
        status_code=status_code,
    )
    if request.cookies.get(flash.FLASH_COOKIE):
        flash.clear(response)
    return response


def redirect(to: str | None, notices: flash.Flash | None = None, default: str = "/inbox") -> RedirectResponse:
    """Back to a local page after a form (303), carrying ``notices`` to it."""
    response = RedirectResponse(safe_next(to, default), status_code=303)
    if notices is not None:
        flash.store(response, notices)
    return response


class PageRoute(APIRoute):
    """Routes of HTML pages: PageRedirect and PageRefused become a redirect and an error page."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRedirect as exc:
                return RedirectResponse(exc.url, status_code=303)
            except PageRefused as exc:
                return render(
                    request,
                    "pages/error.html",
                    {"status_code": exc.status_code, "message": exc.message},
                    status_code=exc.status_code,
                )

        return page_handler


# Paths whose errors stay JSON: the HTTP API (a contract) and the machine endpoints beside it.
JSON_PATHS = ("/api/", "/healthz", "/metrics", "/openapi.json", "/docs", "/redoc")


def install_error_pages(app: FastAPI) -> None:
    """A path no page serves (404, or a method it does not take) gets the styled error page; /api keeps JSON."""

    @app.exception_handler(HTTPException)
    async def _page_or_json(request: Request, exc: HTTPException) -> Response:
        path = request.url.path
        if path == "/api" or path.startswith(JSON_PATHS) or exc.status_code not in (404, 405):
            return await http_exception_handler(request, exc)
        if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed"):
            message = exc.detail  # a route's own words
        elif exc.status_code == 404:
            message = gettext("There is no page at %(path)s.", path=path)
        else:
            message = gettext("The page at %(path)s cannot be used this way.", path=path)
        response = await run_in_threadpool(
            render, request, "pages/error.html", {"status_code": exc.status_code, "message": message}, exc.status_code
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response
