"""Users, password hashes, bearer tokens and channel API keys.

A token names its user (``sub``), expires (``exp``) and carries the user's
token version (``ver``): each request reads the user again (active, roles,
scopes), and raising the version (sign-out, password change, disabling)
revokes every token issued before. A channel key is a random string whose
sha256 alone is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bcrypt
import jwt
from sqlmodel import Session, select

from oms.models import ChannelKey, User
from oms.settings import get_settings

ROLES = ("admin", "analyst", "operator", "channel")
# Channel keys look like omsk_<id>_<secret>; anything else in the bearer header is a JWT.
KEY_PREFIX = "omsk_"
# bcrypt of this, so that an unknown user costs a sign-in the same time as a wrong password.
_NOBODY = bcrypt.hashpw(b"nobody", bcrypt.gensalt(rounds=10)).decode()


@dataclass(frozen=True)
class Principal:
    """Who calls, as read from the database on this request."""

    username: str
    roles: tuple[str, ...]
    channels: tuple[str, ...] = ()  # empty: every channel
    warehouses: tuple[str, ...] = ()  # empty: every warehouse
    key_id: str | None = None  # set when a channel API key calls
    language: str = ""  # the pages' language the person chose; "" follows the browser

    @property
    def role(self) -> str:
        """The first role: what messages and old clients show."""
        return self.roles[0] if self.roles else ""

    def has(self, *roles: str) -> bool:
        return "admin" in self.roles or any(role in self.roles for role in roles)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this password, or None (unknown users take as long as wrong passwords)."""
    user = session.get(User, username)
    if user is None:
        verify_password(password, _NOBODY)
        return None
    if not verify_password(password, user.password_hash) or not user.active:
        return None
    return user


def issue_token(user: User) -> str:
    settings = get_settings()
    now = datetime.now(UTC)
    claims = {
        "sub": user.username,
        "iat": now,
        "exp": now + timedelta(minutes=settings.token_minutes),
        "ver": user.token_version,
    }
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


def read_token(token: str) -> dict | None:
    try:
        return jwt.decode(token, get_settings().secret_key, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.PyJWTError:
        return None


def principal_of_user(user: User) -> Principal:
    return Principal(
        user.username, tuple(user.roles), tuple(user.channels), tuple(user.warehouses), language=user.language
    )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """(public id, the key): 256 random bits after the id."""
    key_id = secrets.token_hex(4)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def principal(session: Session, credential: str) -> Principal | None:
    """The caller a bearer credential (token or channel key) names now, or None."""
    if credential.startswith(KEY_PREFIX):
        key = session.exec(select(ChannelKey).where(ChannelKey.key_hash == key_hash(credential))).first()
        if key is None or key.revoked_at is not None:
            return None
        return Principal(f"key:{key.id}", ("channel",), (key.channel,), key_id=key.id)
    claims = read_token(credential)
    if not claims:
        return None
    user = session.get(User, str(claims["sub"]))
    if user is None or not user.active or claims.get("ver") != user.token_version:
        return None
    return principal_of_user(user)


def ensure_dev_users(session: Session) -> list[str]:
    """The embedded dev stack's people: one user per role named after it, with the dev password."""
    created = []
    password = get_settings().dev_password
    for role in ROLES:
        if session.get(User, role) is None:
            session.add(User(username=role, password_hash=hash_password(password), roles=[role]))
            created.append(role)
    return created
