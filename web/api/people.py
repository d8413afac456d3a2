"""People and channel keys (admins): who signs in, with which roles and scopes; keys bound to a channel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from oms.db import session_scope
from oms.models import ChannelKey, User
from services import people
from web.deps import CurrentUser, SessionDep, require

router = APIRouter(prefix="/api", tags=["people"])

Admin = Annotated[CurrentUser, Depends(require("admin"))]
Names = Field(default_factory=list, max_length=50)


class UserView(BaseModel):
    username: str
    roles: list[str]
    channels: list[str]
    warehouses: list[str]
    email: str = ""
    language: str = ""
    active: bool
    created_at: datetime


class UserList(BaseModel):
    users: list[UserView]


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, max_length=50)
    channels: list[str] = Names
    warehouses: list[str] = Names
    email: str = Field(default="", max_length=254, description="where escalated tasks of its roles are announced")
    language: str = Field(default="", max_length=8, description='the pages\' language: "en", "zh", "" (the browser\'s)')


class UserChange(BaseModel):
    """What to change; fields left out stay as they are."""

    roles: list[str] | None = Field(default=None, max_length=50)
    channels: list[str] | None = Field(default=None, max_length=50, description="[]: every channel")
    warehouses: list[str] | None = Field(default=None, max_length=50, description="[]: every warehouse")
    active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, description='"": no e-mail')
    language: str | None = Field(default=None, max_length=8, description='"en", "zh", or "" for the browser\'s')


class KeyView(BaseModel):
    id: str
    channel: str
    label: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class KeyList(BaseModel):
    keys: list[KeyView]


class KeyIssued(KeyView):
    key: str = Field(description="the key itself: shown this once, only its sha256 is stored")


class KeyIn(BaseModel):
    channel: str = Field(min_length=1, max_length=64)
    label: str = Field(default="", max_length=200)


def user_view(user: User) -> UserView:
    return UserView(
        username=user.username,
        roles=list(user.roles),
        channels=list(user.channels),
        warehouses=list(user.warehouses),
        email=user.email,
        language=user.language,
        active=user.active,
        created_at=user.created_at,
    )


def key_view(row: ChannelKey) -> KeyView:
    return KeyView(
        id=row.id,
        channel=row.channel,
        label=row.label,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        active=row.revoked_at is None,
    )


def _issued(issued: people.IssuedKey) -> KeyIssued:
    return KeyIssued(**key_view(issued.row).model_dump(), key=issued.key)


@router.get("/users", response_model=UserList)
def list_users(session: SessionDep, _: Admin) -> dict:
    return {"users": [user_view(u) for u in people.list_users(session)]}


@router.post("/users", status_code=201)
def add_user(body: UserIn, _: Admin) -> UserView:
    with session_scope() as session:
        user = people.add_user(
            session,
            body.username,
            body.password,
            body.roles,
            body.channels,
            body.warehouses,
            body.email,
            body.language,
        )
        return user_view(user)


@router.patch("/users/{username}", summary="Change roles, scopes, active flag or password; effective at once")
def change_user(username: str, body: UserChange, admin: Admin) -> UserView:
    with session_scope() as session:
        if body.roles is not None or body.channels is not None or body.warehouses is not None:
            people.set_roles(session, username, body.roles, body.channels, body.warehouses)
        if body.active is not None:
            people.set_active(session, username, body.active)
        if body.password is not None:
            people.set_password(session, username, body.password)
        if body.email is not None:
            people.set_email(session, username, body.email)
        if body.language is not None:
            people.set_language(session, username, body.language)
        return user_view(people.get_user(session, username))


@router.get("/channel-keys", response_model=KeyList)
def list_keys(session: SessionDep, _: Admin, channel: str | None = None) -> dict:
    return {"keys": [key_view(k) for k in people.list_keys(session, channel)]}


@router.post("/channel-keys", status_code=201, summary="A new key for one channel; the key is in this answer only")
def create_key(body: KeyIn, admin: Admin) -> KeyIssued:
    with session_scope() as session:
        return _issued(people.create_key(session, body.channel, admin.username, body.label))


@router.post("/channel-keys/{key_id}/rotate", status_code=201, summary="A new key in place of this one")
def rotate_key(key_id: str, admin: Admin) -> KeyIssued:
    with session_scope() as session:
        return _issued(people.rotate_key(session, key_id, admin.username))


@router.delete("/channel-keys/{key_id}", summary="Revoke a key: it stops working at once")
def revoke_key(key_id: str, _: Admin) -> KeyView:
    with session_scope() as session:
        return key_view(people.revoke_key(session, key_id))
