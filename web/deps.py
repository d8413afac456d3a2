"""Dependencies routes receive: session, current user, Temporal client."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from temporalio.client import Client

from oms.auth import read_token
from oms.db import get_read_engine
from services.orders.outbox import WorkflowStarter

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_session() -> Iterator[Session]:
    """A read-only session; routes that write use ``oms.db.session_scope``."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        yield session


class CurrentUser:
    def __init__(self, username: str, role: str):
        self.username = username
        self.role = role


def current_user(token: Annotated[str | None, Depends(oauth2)]) -> CurrentUser:
    claims = read_token(token) if token else None
    if not claims:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "not signed in: send 'Authorization: Bearer <token>' from POST /api/auth/token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return CurrentUser(claims["sub"], claims["role"])


def require(*roles: str):
    """A dependency admitting only ``roles`` (admin is always admitted)."""

    def check(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
        if user.role not in roles and user.role != "admin":
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {user.role!r} may not do this; needs {' or '.join(roles)}"
            )
        return user

    return check


# The web pages sign in with a cookie holding the same JWT that the API's
# bearer tokens are; the JSON API itself stays bearer-only, so no cross-site
# form can drive it with a browser's cookie.
SESSION_COOKIE = "oms_session"


def page_user(request: Request) -> CurrentUser | None:
    """The user signed in to the web pages, or None (no, expired or forged cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    claims = read_token(token) if token else None
    if not claims:
        return None
    return CurrentUser(claims["sub"], claims["role"])


def temporal_client(request: Request) -> Client:
    return request.app.state.temporal


def workflow_starter(request: Request) -> WorkflowStarter:
    return request.app.state.starter


SessionDep = Annotated[Session, Depends(get_session)]
UserDep = Annotated[CurrentUser, Depends(current_user)]
TemporalDep = Annotated[Client, Depends(temporal_client)]
StarterDep = Annotated[WorkflowStarter, Depends(workflow_starter)]
PageUserDep = Annotated[CurrentUser | None, Depends(page_user)]
