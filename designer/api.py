from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from designer.migrations_api import migration_view
from designer.schemas import (
    Check,
    DefinitionHistory,
    DefinitionList,
    Draft,
    Edited,
    JsonSchema,
    Published,
    PublishLog,
    VersionDiff,
    VersionText,
    WhatIf,
)
from engine.definitions import KINDS, MAX_TEXT_CHARS, Source, compile_text
from engine.diff import change_counts, diff_lines, unified
from engine.errors import DefinitionError, InvalidDefinition
from engine.schemas import schema_for
from engine.sourcemap import error_lines
from engine.yaml_edit import EditError, apply_edits, parse_edits
from oms.db import session_scope
from oms.models import DefinitionVersion
from services.definitions.audit_log import audit_log
from services.definitions.migration_runs import progress_of
from services.definitions.publishing import (
    discard_draft,
    get_draft,
    publish,
    rollback,
    save_draft,
    validate,
    version_of,
)
from services.definitions.whatif import (
    DEFAULT_LAST,
    MAX_LAST,
    run_flow_whatif,
    run_rules_whatif,
    version_use,
)
from services.errors import Invalid
from services.orders.channel_pull import follow_publish
from services.stock import sync_starts
from web.api.params import MAX_ID, Version
from web.deps import CurrentUser, SessionDep, UserDep, require

router = APIRouter(prefix="/api/definitions", tags=["definitions"])
EDITORS = ("analyst",)  # and admin, whom `require` always admits
WHATIF_KINDS = ("rules", "flow")
COUNTED_KINDS = ("rules", "flow")


class DefinitionText(BaseModel):
    text: str = Field(description="the definition's YAML", max_length=MAX_TEXT_CHARS)
    note: str = Field(default="", max_length=500)


class WhatIfRequest(BaseModel):
    text: str = Field(description="the draft rule set or flow (YAML)", max_length=MAX_TEXT_CHARS)
    last: int = Field(default=DEFAULT_LAST, ge=1, le=MAX_LAST, description="how many recorded orders to run it over")


class EditRequest(BaseModel):
    text: str = Field(description="the definition's YAML (a draft)", max_length=MAX_TEXT_CHARS)
    edits: list[dict] = Field(
        description="the changes, applied in order: {op: set|delete|insert|move|rename, path: [key or index, ...], "
        "value, index, to} (engine/yaml_edit.py)",
        max_length=200,
    )


class RollbackRequest(BaseModel):
    version: int = Field(ge=1, le=MAX_ID, description="the version whose text is published again")
    note: str = Field(default="", max_length=500)


def _version_view(row: DefinitionVersion, body: bool = False) -> dict:
    view = {
        "kind": row.kind,
        "name": row.name,
        "version": row.version,
        "sha256": row.sha256,
        "author": row.author,
        "note": row.note,
        "created_at": row.created_at.isoformat(),
    }
    if body:
        view["text"] = row.body
    return view


def check_view(source: Source) -> dict:
    """A validation's answer: every error with its JSON path and line, and the stored test cases' results."""
    lines = error_lines(source.text, source.errors)
    test_lines = error_lines(source.text, [_case_path(t) for t in source.tests])
    return {
        "valid": not source.errors,
        "kind": source.kind,
        "name": source.name,
        "errors": [
            {"path": e.path, "message": e.message, "line": line} for e, line in zip(source.errors, lines, strict=True)
        ],
        "tests": [
            {"name": t.name, "passed": t.passed, "detail": t.detail, "path": t.path, "line": line}
            for t, line in zip(source.tests, test_lines, strict=True)
        ],
    }


def _case_path(case) -> DefinitionError:
    return DefinitionError(case.path, "")


@router.get("", response_model=DefinitionList)
def list_definitions(session: SessionDep, _: UserDep) -> dict:
    rows = session.exec(
        select(DefinitionVersion).order_by(DefinitionVersion.kind, DefinitionVersion.name, DefinitionVersion.version)
    ).all()
    live: dict[tuple[str, str], DefinitionVersion] = {}
    for row in rows:
        live[(row.kind, row.name)] = row
    return {"definitions": [{**_version_view(r), "live_version": r.version} for r in live.values()]}


Editor = Annotated[CurrentUser, Depends(require(*EDITORS))]


@router.post("/validate", response_model=Check)
def validate_definition(body: DefinitionText, session: SessionDep, _: Editor) -> dict:
    return check_view(validate(session, body.text))


def edited_view(session: Session, text: str, edits: list) -> dict:
    """``text`` with structured ``edits`` written into it in place, and its validation; 422 naming the bad edit."""
    try:
        new_text = apply_edits(text, parse_edits(edits))
    except EditError as exc:
        raise Invalid("bad_edit", f"{exc.where}: {exc.message}", field=exc.where) from exc
    return {"text": new_text, **check_view(validate(session, new_text))}


@router.post("/edit", response_model=Edited)
def edit_definition(body: EditRequest, session: SessionDep, _: Editor) -> dict:
    """Apply structured edits (set a value, insert, remove or move a list item, rename a key) to a draft's YAML,
    keeping its comments and key order; the new text and its validation. Nothing is stored."""
    return edited_view(session, body.text, body.edits)


@router.get("/schemas/{kind}", response_model=JsonSchema)
def kind_schema(kind: str, _: UserDep) -> dict:
    """The JSON Schema of a kind (the editor completes and checks with it)."""
    if kind not in KINDS:
        raise HTTPException(404, f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    return schema_for(kind)


@router.get("/log", response_model=PublishLog)
def definitions_log(
    session: SessionDep,
    _: Annotated[CurrentUser, Depends(require("admin"))],
    kind: str | None = None,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """Every publish, newest first, with who, when, the note and the diff against the version before; and every
    migration of waiting instances between versions, newest first, with its plan (counts) and its result."""
    log = audit_log(session, limit, kind, name)
    return {
        "entries": [{**_version_view(e.row), "previous_version": e.previous, "diff": e.diff} for e in log.publishes],
        "migrations": [migration_view(row, progress_of(row)) for row in log.migrations],
    }


def whatif_view(session: Session, text: str, last: int) -> dict:
    """Run a valid draft rule set or flow over recorded orders; 422 with the errors otherwise."""
    source = validate(session, text)
    if source.errors:
        raise InvalidDefinition(list(source.errors))
    if source.kind not in WHATIF_KINDS:
        raise Invalid("whatif_kind", f"what-if runs rule sets and flows, not {source.kind}")
    draft = compile_text(text)
    if source.kind == "rules":
        report = run_rules_whatif(session, draft, last, source.raw)
        return {
            "kind": "rules",
            "name": source.name,
            "summary": report.summary(),
            "baseline": report.baseline,
            "considered": report.considered,
            "now_held": len(report.now_held),
            "no_longer_held": len(report.no_longer_held),
            "other_changes": len(report.other_changes),
            "unchanged": report.unchanged,
            "fired_counts": report.fired_counts,
            "orders": [
                {**asdict(c), "change": change}
                for change, group in (
                    ("now_held", report.now_held),
                    ("no_longer_held", report.no_longer_held),
                    ("other", report.other_changes),
                )
                for c in group
            ],
        }
    flow_report = run_flow_whatif(session, draft, last)
    return {
        "kind": "flow",
        "name": source.name,
        "summary": flow_report.summary(),
        "baseline": flow_report.baseline,
        "considered": flow_report.considered,
        "changed": len(flow_report.changed),
        "unchanged": flow_report.unchanged,
        "ended": flow_report.ended,
        "waiting": flow_report.waiting,
        "failing": flow_report.failing,
        "stops": flow_report.stops,
        "orders": [
            {
                "order_id": c.order_id,
                "before": list(c.before),
                "after": list(c.after),
                "before_outcome": c.before_outcome,
                "after_outcome": c.after_outcome,
            }
            for c in flow_report.changed
        ],
    }


@router.post("/whatif", response_model=WhatIf)
def whatif(body: WhatIfRequest, session: SessionDep, _: Editor) -> dict:
    """What a draft would change over the last recorded orders; no order is touched."""
    return whatif_view(session, body.text, body.last)


def _draft_view(draft) -> dict:
    return {
        "kind": draft.kind,
        "name": draft.name,
        "author": draft.author,
        "text": draft.body,
        "updated_at": draft.updated_at.isoformat(),
    }


@router.put("/drafts", response_model=Draft)
def save_definition_draft(body: DefinitionText, user: Annotated[CurrentUser, Depends(require(*EDITORS))]) -> dict:
    """Keep the text as your draft of its definition (it need not be valid); no order ever runs a draft."""
    with session_scope() as session:
        draft = save_draft(session, body.text, user.username)
        view = _draft_view(draft)
    return view


@router.get("/drafts/{kind}/{name}", response_model=Draft)
def get_definition_draft(
    kind: str, name: str, session: SessionDep, user: Annotated[CurrentUser, Depends(require(*EDITORS))]
) -> dict:
    draft = get_draft(session, kind, name, user.username)
    if draft is None:
        raise HTTPException(404, f"you have no draft of {kind} {name!r}")
    return _draft_view(draft)


@router.delete("/drafts/{kind}/{name}", status_code=204)
def discard_definition_draft(
    kind: str, name: str, user: Annotated[CurrentUser, Depends(require(*EDITORS))]
) -> Response:
    with session_scope() as session:
        if not discard_draft(session, kind, name, user.username):
            raise HTTPException(404, f"you have no draft of {kind} {name!r}")
    return Response(status_code=204)


def _kind_known(kind: str) -> None:
    if kind not in KINDS:
        raise HTTPException(404, f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")


@router.get("/{kind}/{name}", response_model=DefinitionHistory, response_model_exclude_unset=True)
def get_definition(kind: str, name: str, session: SessionDep, _: UserDep) -> dict:
    _kind_known(kind)
    rows = session.exec(
        select(DefinitionVersion)
        .where(DefinitionVersion.kind == kind, DefinitionVersion.name == name)
        .order_by(DefinitionVersion.version.desc())
    ).all()
    if not rows:
        raise HTTPException(404, f"no {kind} named {name!r}")
    use = version_use(session) if kind in COUNTED_KINDS else {}

    def counted(row: DefinitionVersion) -> dict:
        view = _version_view(row)
        if kind in COUNTED_KINDS:  # orders record the flow and rule-set versions they ran, not other kinds
            entry = use.get((kind, name, row.version))
            view["orders"] = entry.orders if entry else 0
            if kind == "flow":
                view["running"] = entry.running if entry else 0
        return view

    return {
        "kind": kind,
        "name": name,
        "live": _version_view(rows[0], body=True),
        "versions": [counted(r) for r in rows],
    }


@router.get("/{kind}/{name}/versions/{version}", response_model=VersionText)
def get_version(kind: str, name: str, version: Version, session: SessionDep, _: UserDep) -> dict:
    row = version_of(session, kind, name, version)
    if row is None:
        raise HTTPException(404, f"no {kind} {name!r} version {version}")
    return _version_view(row, body=True)


@router.get("/{kind}/{name}/diff", response_model=VersionDiff)
def diff_versions(
    kind: str,
    name: str,
    session: SessionDep,
    _: UserDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_ID)],
) -> dict:
    """The difference between two versions: a unified diff and numbered lines."""
    old, new = version_of(session, kind, name, from_version), version_of(session, kind, name, to_version)
    for number, row in ((from_version, old), (to_version, new)):
        if row is None:
            raise HTTPException(404, f"no {kind} {name!r} version {number}")
    lines = diff_lines(old.body, new.body)
    added, removed = change_counts(lines)
    return {
        "kind": kind,
        "name": name,
        "from": from_version,
        "to": to_version,
        "added": added,
        "removed": removed,
        "unified": unified(old.body, new.body, f"v{from_version}", f"v{to_version}"),
        "lines": [asdict(line) for line in lines],
    }


def _refused(exc: InvalidDefinition, text: str) -> JSONResponse:
    lines = error_lines(text, exc.errors)
    return JSONResponse(
        {
            "detail": "invalid definition",
            "valid": False,
            "errors": [
                {"path": e.path, "message": e.message, "line": line} for e, line in zip(exc.errors, lines, strict=True)
            ],
        },
        status_code=422,
    )


@router.post(
    "/{kind}/{name}/rollback",
    status_code=201,
    response_model=Published,
    responses={200: {"description": "that text is already live; nothing published", "model": Published}},
)
def rollback_definition(
    kind: str,
    name: str,
    body: RollbackRequest,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    user: Annotated[CurrentUser, Depends(require(*EDITORS))],
):
    """Publish an old version's text again, as a new version."""
    _kind_known(kind)
    try:
        with session_scope() as session:
            published = rollback(session, kind, name, body.version, user.username, body.note)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except InvalidDefinition as exc:
        return _refused(exc, "")
    if not published.created:
        response.status_code = 200
    follow_publish_later(request, background, published.row)
    return {**_version_view(published.row), "created": published.created}


@router.post(
    "",
    status_code=201,
    response_model=Published,
    responses={200: {"description": "identical to the live version; nothing published", "model": Published}},
)
def publish_definition(
    body: DefinitionText,
    request: Request,
    response: Response,
    background: BackgroundTasks,
    user: Annotated[CurrentUser, Depends(require(*EDITORS))],
):
    try:
        with session_scope() as session:
            published = publish(session, body.text, author=user.username, note=body.note)
    except InvalidDefinition as exc:
        return _refused(exc, body.text)
    if not published.created:
        response.status_code = 200
    follow_publish_later(request, background, published.row)
    return {**_version_view(published.row), "created": published.created}


def follow_publish_later(request: Request, background: BackgroundTasks, row: DefinitionVersion) -> None:
    """What a new live version starts outside the database (a channel's pull schedule, its stock sync), after
    the answer."""
    background.add_task(follow_publish, getattr(request.app.state, "temporal", None), row.kind, row.name)
    background.add_task(sync_starts.follow_publish, getattr(request.app.state, "temporal", None), row.kind, row.name)
