"""The admin page of people and channel keys: /people (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import select

from oms.db import session_scope
from oms.models import Warehouse
from services import people
from services.errors import DomainError
from web.deps import CurrentUser, SessionDep
from web.i18n import gettext
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import FormUser, PageRefused, SignedIn
from web.pages.wording import problem

router = APIRouter(route_class=PageRoute, include_in_schema=False)

HERE = "/people"


def _admin(user: SignedIn) -> CurrentUser:
    if "admin" not in user.roles:
        raise PageRefused(403, gettext("Role %(role)r may not manage people; that needs admin.", role=user.role))
    return user


def _form_admin(user: FormUser) -> CurrentUser:
    return _admin(user)


Admin = Annotated[CurrentUser, Depends(_admin)]
FormAdmin = Annotated[CurrentUser, Depends(_form_admin)]


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _page(request: Request, session, issued: people.IssuedKey | None = None, error: str = ""):
    from services.definitions.live import live_definitions

    channels = sorted(live_definitions(session).names("channel"))
    response = render(
        request,
        "pages/people.html",
        {
            "nav": "people",
            "users": people.list_users(session),
            "keys": people.list_keys(session),
            "channels": channels,
            "warehouses": session.exec(select(Warehouse.code).order_by(Warehouse.code)).all(),
            "issued": issued,
            "error": error,
        },
    )
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"  # the key is on this page only
    return response


@router.get("/people")
def people_page(request: Request, session: SessionDep, _: Admin):
    return _page(request, session)


def _change(work, done: str):
    try:
        with session_scope() as session:
            work(session)
    except DomainError as exc:
        return redirect(HERE, Flash().error(problem(exc)), default=HERE)
    return redirect(HERE, Flash().ok(done), default=HERE)


@router.post("/people/users")
def add_user(
    _: FormAdmin,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    roles: Annotated[str, Form()] = "",
    channels: Annotated[str, Form()] = "",
    warehouses: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
):
    name = username.strip()
    return _change(
        lambda s: people.add_user(
            s, name, password, _names(roles), _names(channels), _names(warehouses), language=language
        ),
        gettext("Added %(name)s.", name=name),
    )


@router.post("/people/users/{username}/roles")
def set_roles(
    username: str,
    _: FormAdmin,
    roles: Annotated[str, Form()] = "",
    channels: Annotated[str, Form()] = "",
    warehouses: Annotated[str, Form()] = "",
    language: Annotated[str | None, Form()] = None,
):
    def work(session) -> None:
        people.set_roles(session, username, _names(roles), _names(channels), _names(warehouses))
        if language is not None:
            people.set_language(session, username, language)

    return _change(
        work, gettext("Roles and scopes of %(name)s saved; they apply from the next request.", name=username)
    )


@router.post("/people/users/{username}/active")
def set_active(username: str, admin: FormAdmin, active: Annotated[str, Form()] = ""):
    if username == admin.username and active != "yes":
        return redirect(HERE, Flash().error(gettext("You cannot disable yourself.")), default=HERE)
    enable = active == "yes"
    done = gettext("Enabled %(name)s.", name=username) if enable else gettext("Disabled %(name)s.", name=username)
    return _change(lambda s: people.set_active(s, username, enable), done)


@router.post("/people/users/{username}/password")
def set_password(username: str, _: FormAdmin, password: Annotated[str, Form()] = ""):
    return _change(
        lambda s: people.set_password(s, username, password),
        gettext("New password for %(name)s; their sessions ended.", name=username),
    )


def _issue(request: Request, work) -> object:
    """Run ``work`` (returns an IssuedKey) and show the page with the key, this once (no redirect, no cookie)."""
    try:
        with session_scope() as session:
            issued = work(session)
            return _page(request, session, issued=issued)
    except DomainError as exc:
        return redirect(HERE, Flash().error(problem(exc)), default=HERE)


@router.post("/people/keys")
def create_key(
    request: Request,
    admin: FormAdmin,
    channel: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
):
    return _issue(request, lambda s: people.create_key(s, channel.strip(), admin.username, label))


@router.post("/people/keys/{key_id}/rotate")
def rotate_key(key_id: str, request: Request, admin: FormAdmin):
    return _issue(request, lambda s: people.rotate_key(s, key_id, admin.username))


@router.post("/people/keys/{key_id}/revoke")
def revoke_key(key_id: str, _: FormAdmin):
    return _change(
        lambda s: people.revoke_key(s, key_id), gettext("Revoked key %(id)s; it stopped working.", id=key_id)
    )
