from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from oms.auth import authenticate, issue_token, verify_password
from oms.db import session_scope
from services import people
from web.api.schemas.auth import Me, Token
from web.deps import CurrentUser, SessionDep, UserDep
from web.throttle import client_address, refuse_if_throttled, throttle

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token", responses={429: {"description": "too many failed sign-ins for this account or address"}})
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, request: Request) -> Token:
    refuse_if_throttled(form.username, request)
    user = authenticate(session, form.username, form.password)
    if user is None:
        throttle().failed(form.username, client_address(request))
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    throttle().succeeded(form.username)
    return Token(
        access_token=issue_token(user),
        token_type="bearer",
        role=user.roles[0] if user.roles else "",
        roles=list(user.roles),
    )


@router.get("/me")
def me(user: UserDep) -> Me:
    return Me(
        username=user.username,
        role=user.role,
        roles=list(user.roles),
        channels=list(user.channels),
        warehouses=list(user.warehouses),
        key_id=user.key_id,
    )


def _person(user: UserDep) -> CurrentUser:
    if user.key_id is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a channel key has no session: revoke the key instead")
    return user


@router.post("/logout", status_code=204, summary="Sign out: every token of the caller stops working")
def logout(user: Annotated[CurrentUser, Depends(_person)]) -> None:
    with session_scope() as session:
        people.sign_out(session, user.username)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


@router.post("/password", status_code=204, summary="Change your password: every token issued before stops working")
def change_password(body: PasswordChange, user: Annotated[CurrentUser, Depends(_person)]) -> None:
    with session_scope() as session:
        person = people.get_user(session, user.username)
        if not verify_password(body.current_password, person.password_hash):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the current password is wrong")
        people.set_password(session, user.username, body.new_password)
