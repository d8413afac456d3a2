"""Users, password hashes and bearer tokens."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import bcrypt
import jwt
from sqlmodel import Session

from oms.models import User
from oms.settings import get_settings

ROLES = ("admin", "analyst", "operator", "channel")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.get(User, username)
    if user is None or not verify_password(password, user.password_hash):
        return None
    return user


def issue_token(user: User) -> str:
    settings = get_settings()
    expires = datetime.now(timezone.utc) + timedelta(minutes=settings.token_minutes)
    return jwt.encode({"sub": user.username, "role": user.role, "exp": expires}, settings.secret_key, algorithm="HS256")


def read_token(token: str) -> dict | None:
    try:
        return jwt.decode(token, get_settings().secret_key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None


def ensure_dev_users(session: Session) -> list[str]:
    """In dev mode, one user per role named after it, with the dev password."""
    created = []
    password = get_settings().dev_password
    for role in ROLES:
        if session.get(User, role) is None:
            session.add(User(username=role, password_hash=hash_password(password), role=role))
            created.append(role)
    return created
