"""Dependencies routes receive: session, current user, Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from temporalio.client import Client

from oms.auth import KEY_PREFIX, Principal, principal
from oms.db import get_read_engine
from services.orders.outbox import WorkflowStarter
from web import i18n

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_session() -> Iterator[Session]:
    """A read-only session; routes that write use ``oms.db.session_scope``."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        yield session


# Who calls: a person (roles, channel and warehouse scopes) or a channel API key, read from the
# database on every request, so disabling a user or changing roles takes effect at once.
CurrentUser = Principal

UNAUTHENTICATED = (
    "not signed in: send 'Authorization: Bearer <token>' from POST /api/auth/token (or a channel API key); "
    "a token stops working when its user signs out, changes password or is disabled"
)


def _principal(credential: str) -> Principal | None:
    with Session(get_read_engine()) as session:
        return principal(session, credential)


def current_user(token: Annotated[str | None, Depends(oauth2)]) -> CurrentUser:
    caller = _principal(token) if token else None
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    return caller


def require(*roles: str):
    """A dependency admitting only ``roles`` (admin is always admitted)."""

    def check(user: Annotated[CurrentUser, Depends(current_user)]) -> CurrentUser:
        if not user.has(*roles):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {'/'.join(user.roles) or 'none'!r} may not do this; needs {' or '.join(roles)}",
            )
        return user

    return check


# The web pages sign in with a cookie holding the same JWT that the API's
# bearer tokens are; the JSON API itself stays bearer-only, so no cross-site
# form can drive it with a browser's cookie.
SESSION_COOKIE = "oms_session"


def page_user(request: Request) -> CurrentUser | None:
    """The user signed in to the web pages, or None (no, expired, revoked or forged cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or token.startswith(KEY_PREFIX):
        return None
    user = _principal(token)
    if user is not None and user.language:
        i18n.use(user.language)  # the person's own choice beats the browser's
    return user


def temporal_client(request: Request) -> Client:
    return request.app.state.temporal


def workflow_starter(request: Request) -> WorkflowStarter:
    return request.app.state.starter


SessionDep = Annotated[Session, Depends(get_session)]
UserDep = Annotated[CurrentUser, Depends(current_user)]
TemporalDep = Annotated[Client, Depends(temporal_client)]
StarterDep = Annotated[WorkflowStarter, Depends(workflow_starter)]
PageUserDep = Annotated[CurrentUser | None, Depends(page_user)]
