from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, Field
from sqlmodel import select

from designer.deps import CurrentUser, SessionDep, UserDep, require
from engine.definitions import KINDS
from oms.db import session_scope
from oms.models import DefinitionVersion
from oms.publishing import publish, validate

router = APIRouter(prefix="/api/definitions", tags=["definitions"])


class DefinitionText(BaseModel):
    text: str = Field(description="the definition's YAML")
    note: str = Field(default="", max_length=500)


def _version_view(row: DefinitionVersion, body: bool = False) -> dict:
    view = {
        "kind": row.kind, "name": row.name, "version": row.version, "sha256": row.sha256,
        "author": row.author, "note": row.note, "created_at": row.created_at.isoformat(),
    }
    if body:
        view["text"] = row.body
    return view


@router.get("")
def list_definitions(session: SessionDep, _: UserDep) -> dict:
    rows = session.exec(select(DefinitionVersion).order_by(DefinitionVersion.kind, DefinitionVersion.name, DefinitionVersion.version)).all()
    live: dict[tuple[str, str], DefinitionVersion] = {}
    for row in rows:
        live[(row.kind, row.name)] = row
    return {"definitions": [{**_version_view(r), "live_version": r.version} for r in live.values()]}


@router.get("/{kind}/{name}")
def get_definition(kind: str, name: str, session: SessionDep, _: UserDep) -> dict:
    if kind not in KINDS:
        raise HTTPException(404, f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    rows = session.exec(
        select(DefinitionVersion)
        .where(DefinitionVersion.kind == kind, DefinitionVersion.name == name)
        .order_by(DefinitionVersion.version.desc())
    ).all()
    if not rows:
        raise HTTPException(404, f"no {kind} named {name!r}")
    return {"kind": kind, "name": name, "live": _version_view(rows[0], body=True),
            "versions": [_version_view(r) for r in rows]}


@router.get("/{kind}/{name}/versions/{version}")
def get_version(kind: str, name: str, version: int, session: SessionDep, _: UserDep) -> dict:
    row = session.exec(
        select(DefinitionVersion).where(
            DefinitionVersion.kind == kind, DefinitionVersion.name == name, DefinitionVersion.version == version
        )
    ).first()
    if row is None:
        raise HTTPException(404, f"no {kind} {name!r} version {version}")
    return _version_view(row, body=True)


@router.post("/validate")
def validate_definition(body: DefinitionText, session: SessionDep, _: UserDep) -> dict:
    source = validate(session, body.text)
    return {"valid": not source.errors, "kind": source.kind, "name": source.name,
            "errors": [{"path": e.path, "message": e.message} for e in source.errors]}


@router.post("", status_code=201, responses={200: {"description": "identical to the live version; nothing published"}})
def publish_definition(
    body: DefinitionText,
    response: Response,
    user: Annotated[CurrentUser, Depends(require("analyst"))],
) -> dict:
    with session_scope() as session:
        published = publish(session, body.text, author=user.username, note=body.note)
    if not published.created:
        response.status_code = 200
    return {**_version_view(published.row), "created": published.created}
