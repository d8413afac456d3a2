"""People and channel keys: who may sign in, with which roles, on which data.

Every change that takes rights away (disable, new roles or scopes, a new
password) raises the user's token version, so tokens issued before stop
working on their next request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from oms.auth import hash_password, key_hash, new_key
from oms.models import ChannelKey, User, Warehouse, utcnow
from services.errors import Conflict, Invalid, NotFound

BUILT_IN_ROLES = ("admin", "analyst", "operator", "channel")
NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,63}$")
ROLE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MIN_PASSWORD = 10
# The languages the pages are written in; a user's "" follows the browser.
LANGUAGES = ("en", "zh")


class UserNotFound(NotFound):
    """No user has that name."""


class KeyNotFound(NotFound):
    """No channel key has that id."""


@dataclass(frozen=True)
class IssuedKey:
    """A new channel key: ``key`` is shown this once and never stored."""

    row: ChannelKey
    key: str


def _names(values: Iterable[str], pattern: re.Pattern, field: str, what: str) -> list[str]:
    names = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    for name in names:
        if not pattern.match(name):
            raise Invalid(f"bad_{field}", f"{name!r} is not a valid {what}", field=field)
    return names


def _roles(roles: Iterable[str]) -> list[str]:
    names = _names(roles, ROLE, "roles", "role: use lower-case letters, digits and _, starting with a letter")
    if not names:
        raise Invalid(
            "no_roles", f"give at least one role ({', '.join(BUILT_IN_ROLES)} or a custom one)", field="roles"
        )
    return names


def _warehouses(session: Session, codes: Iterable[str]) -> list[str]:
    codes = list(dict.fromkeys(c.strip() for c in codes if c.strip()))
    known = set(session.exec(select(Warehouse.code)).all())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Invalid(
            "unknown_warehouse",
            f"unknown warehouse {', '.join(unknown)}; known: {', '.join(sorted(known)) or 'none'}",
            field="warehouses",
        )
    return codes


def _password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid("weak_password", f"the password needs at least {MIN_PASSWORD} characters", field="password")
    return hash_password(password)


def _email(email: str) -> str:
    email = email.strip()
    if email and not EMAIL.match(email):
        raise Invalid("bad_email", f"{email!r} is not an e-mail address", field="email")
    return email


def _language(language: str) -> str:
    language = language.strip()
    if language and language not in LANGUAGES:
        raise Invalid(
            "bad_language",
            f"{language!r} is not a language of the pages; use {', '.join(LANGUAGES)}, or nothing for the browser's",
            field="language",
        )
    return language


def get_user(session: Session, username: str) -> User:
    user = session.get(User, username)
    if user is None:
        raise UserNotFound("user_not_found", f"no user {username!r}", field="username")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))).all())


def add_user(
    session: Session,
    username: str,
    password: str,
    roles: Iterable[str],
    channels: Iterable[str] = (),
    warehouses: Iterable[str] = (),
    email: str = "",
    language: str = "",
) -> User:
    if not NAME.match(username):
        raise Invalid(
            "bad_username",
            f"{username!r} is not a valid user name: use lower-case letters, digits and . _ -, starting with a letter",
            field="username",
        )
    if session.get(User, username) is not None:
        raise Conflict("user_exists", f"user {username!r} exists already", field="username")
    user = User(
        username=username,
        password_hash=_password(password),
        roles=_roles(roles),
        channels=_names(channels, ROLE, "channels", "channel name"),
        warehouses=_warehouses(session, warehouses),
        email=_email(email),
        language=_language(language),
    )
    session.add(user)
    session.flush()
    return user


def _revoke_tokens(user: User) -> None:
    user.token_version += 1


def set_active(session: Session, username: str, active: bool) -> User:
    user = get_user(session, username)
    if user.active != active:
        user.active = active
        _revoke_tokens(user)
        session.add(user)
    return user


def set_password(session: Session, username: str, password: str) -> User:
    user = get_user(session, username)
    user.password_hash = _password(password)
    _revoke_tokens(user)
    session.add(user)
    return user


def set_roles(
    session: Session,
    username: str,
    roles: Iterable[str] | None = None,
    channels: Iterable[str] | None = None,
    warehouses: Iterable[str] | None = None,
) -> User:
    """New roles and/or scopes (None: unchanged); read on the user's next request."""
    user = get_user(session, username)
    if roles is not None:
        user.roles = _roles(roles)
    if channels is not None:
        user.channels = _names(channels, ROLE, "channels", "channel name")
    if warehouses is not None:
        user.warehouses = _warehouses(session, warehouses)
    session.add(user)
    return user


def set_email(session: Session, username: str, email: str) -> User:
    """The address escalations of the user's roles go to ("" for none)."""
    user = get_user(session, username)
    user.email = _email(email)
    session.add(user)
    return user


def set_language(session: Session, username: str, language: str) -> User:
    """The language the user's pages are shown in ("" for the browser's)."""
    user = get_user(session, username)
    user.language = _language(language)
    session.add(user)
    return user


def holders_of(session: Session, role: str) -> list[User]:
    """Active users holding ``role`` (admins count for the built-in admin role only), by name."""
    users = session.exec(select(User).where(col(User.active)).order_by(col(User.username))).all()
    return [u for u in users if role in u.roles]


def sign_out(session: Session, username: str) -> None:
    """Revoke every token of the user (the one in hand included)."""
    user = get_user(session, username)
    _revoke_tokens(user)
    session.add(user)


# ---- channel keys ------------------------------------------------------------------


def create_key(session: Session, channel: str, created_by: str, label: str = "") -> IssuedKey:
    from services.definitions.live import live_definitions

    if live_definitions(session).get("channel", channel) is None:
        raise Invalid("unknown_channel", f"no published channel {channel!r}", field="channel")
    key_id, key = new_key()
    row = ChannelKey(
        id=key_id, channel=channel, key_hash=key_hash(key), label=label.strip()[:200], created_by=created_by
    )
    session.add(row)
    session.flush()
    return IssuedKey(row, key)


def list_keys(session: Session, channel: str | None = None) -> list[ChannelKey]:
    query = select(ChannelKey)
    if channel:
        query = query.where(ChannelKey.channel == channel)
    return list(session.exec(query.order_by(col(ChannelKey.channel), col(ChannelKey.created_at))).all())


def _key(session: Session, key_id: str) -> ChannelKey:
    row = session.get(ChannelKey, key_id)
    if row is None:
        raise KeyNotFound("key_not_found", f"no channel key {key_id!r}", field="key_id")
    return row


def revoke_key(session: Session, key_id: str, at: datetime | None = None) -> ChannelKey:
    row = _key(session, key_id)
    if row.revoked_at is None:
        row.revoked_at = at or utcnow()
        session.add(row)
    return row


def rotate_key(session: Session, key_id: str, created_by: str) -> IssuedKey:
    """A new key for the same channel and label; the old one stops working now."""
    old = _key(session, key_id)
    if old.revoked_at is not None:
        raise Conflict("key_revoked", f"channel key {key_id!r} is revoked; create a new one", field="key_id")
    issued = create_key(session, old.channel, created_by, old.label)
    revoke_key(session, key_id)
    return issued
