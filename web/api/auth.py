from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from oms.auth import authenticate, issue_token
from web.deps import SessionDep, UserDep

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/token")
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep) -> dict:
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
    return {"access_token": issue_token(user), "token_type": "bearer", "role": user.role}


@router.get("/me")
def me(user: UserDep) -> dict:
    return {"username": user.username, "role": user.role}
