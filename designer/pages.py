"""The designer's pages: definitions, the editor (validate, what-if, publish), history and the publish log.

Every page works as plain HTML forms; the editor bundle (designer/static/editor,
built from frontend/) turns the textarea into CodeMirror and asks
``POST /definitions/check`` for the server's validation as the text changes.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from designer import TEMPLATES_DIR, builder_pages, flow_editor_pages
from designer.api import check_view, follow_publish_later, whatif_view
from designer.js_text import script_text
from designer.views import (
    NEW_TEMPLATES,
    can_edit,
    editor_context,
    fragments,
    list_rows,
    order_on_flow,
    publish_preview,
    return_use,
    serves_returns,
)
from engine.definitions import KINDS
from engine.diff import change_counts, diff_lines
from engine.errors import InvalidDefinition
from oms.db import get_read_engine, session_scope
from services.definitions.audit_log import audit_log
from services.definitions.publishing import (
    discard_draft,
    get_draft,
    publish,
    rollback,
    save_draft,
    validate,
    version_of,
    versions_of,
)
from services.definitions.whatif import DEFAULT_LAST, parse_last, version_use
from services.errors import DomainError
from web.deps import CurrentUser, SessionDep
from web.i18n import gettext, ngettext
from web.pages.flash import Flash
from web.pages.rendering import TEMPLATES, PageRoute, add_template_folder, redirect, render
from web.pages.security import FormUser, PageRefused, SignedIn

add_template_folder(TEMPLATES_DIR)
# The designer scripts' messages in the reader's language, embedded by pages/script_text.html.
TEMPLATES.env.globals["script_text"] = script_text
router = APIRouter(route_class=PageRoute, include_in_schema=False)
MAX_TEXT = 500_000
MAX_NOTE = 500


@router.get("/definitions")
def definitions_page(request: Request, session: SessionDep, user: SignedIn):
    return render(
        request,
        "pages/definitions.html",
        {
            "nav": "definitions",
            "rows": list_rows(session),
            "can_edit": can_edit(user),
            "kinds": list(KINDS),
        },
    )


@router.get("/definitions/new")
def new_definition(request: Request, session: SessionDep, user: SignedIn, kind: str = "rules"):
    if kind not in KINDS:
        raise PageRefused(404, _unknown_kind(kind))
    text = NEW_TEMPLATES.get(kind, f"kind: {kind}\nname: \n")
    return render(
        request, "pages/definition_edit.html", editor_context(request, session, user, kind, None, text, check=False)
    )


@router.get("/definitions/log")
def publish_log_page(request: Request, session: SessionDep, user: SignedIn, kind: str = "", name: str = ""):
    if "admin" not in user.roles:
        raise PageRefused(403, gettext("The publish log is for admins."))
    log = audit_log(session, 200, kind or None, name or None)
    return render(
        request,
        "pages/definition_log.html",
        {"nav": "definitions", "entries": log.publishes, "migrations": log.migrations, "kind": kind, "name": name},
    )


@router.post("/definitions/check")
async def check(request: Request):
    """The editor's live validation: JSON in, errors with lines and rendered fragments out."""
    got = await builder_pages.draft_request(request, needs_editor="")
    if isinstance(got, JSONResponse):
        return got
    return JSONResponse(await to_thread.run_sync(_check_json, got[1]["text"]))


@router.post("/definitions/whatif")
async def whatif_fragment(request: Request):
    """What-if for the editor's script: the result as HTML, shown under the button that asked for it."""
    got = await builder_pages.draft_request(request, needs_editor="what-if")
    if isinstance(got, JSONResponse):
        return got
    _, body = got
    last = parse_last(str(body.get("last", DEFAULT_LAST)))
    return JSONResponse(await to_thread.run_sync(_whatif_json, body["text"], last))


def _whatif_json(text: str, last: int) -> dict:
    with Session(get_read_engine()) as session:
        whatif, error = _whatif(session, text, last)
    html = TEMPLATES.get_template("pages/definition_whatif.html").render(whatif=whatif, whatif_error=error)
    return {"ok": whatif is not None, "html": html}


@router.post("/definitions/preview")
async def publish_preview_fragment(request: Request):
    """The publish step for the editor's script: the diff against the live version and the note, as HTML."""
    got = await builder_pages.draft_request(request, needs_editor="publishing")
    if isinstance(got, JSONResponse):
        return got
    _, body = got
    note = str(body.get("note") or "")[:MAX_NOTE]
    return JSONResponse(await to_thread.run_sync(_preview_json, body["text"], note))


def _preview_json(text: str, note: str) -> dict:
    with Session(get_read_engine()) as session:
        preview = publish_preview(session, text)
    html = TEMPLATES.get_template("pages/definition_publish.html").render(preview=preview, note=note, in_dialog=True)
    return {"publishable": preview["valid"] and not preview["same"], "html": html}


def _check_json(text: str) -> dict:
    with Session(get_read_engine()) as session:
        source = validate(session, text)
    view = check_view(source)
    return {**view, **fragments(source, view)}


@router.post("/definitions/editor")
def editor_post(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    user: FormUser,
    text: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "check",
    note: Annotated[str, Form()] = "",
    last: Annotated[str, Form()] = str(DEFAULT_LAST),
    kind: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    base_version: Annotated[str, Form()] = "",
    sha256: Annotated[str, Form()] = "",
):
    """The editor's form: validate, what-if and the publish step without JavaScript; publish and drafts always."""
    text = text.replace("\r\n", "\n")
    if len(text) > MAX_TEXT:
        raise PageRefused(422, gettext("The text is longer than %(n)s characters; nothing was done.", n=MAX_TEXT))
    note = note.strip()[:MAX_NOTE]
    kind = kind if kind in KINDS else "rules"
    name = name or None
    if action in ("publish", "publish_confirmed") and not can_edit(user):
        raise PageRefused(
            403,
            gettext(
                "Role %(role)r can read definitions but not publish them; publishing needs analyst or admin.",
                role=user.role,
            ),
        )
    if action == "publish" or (action == "publish_confirmed" and not note):
        return _publish_step(request, session, user, kind, name, text, note, last, base_version, sha256)
    if action == "publish_confirmed":
        preview = publish_preview(session, text)
        if preview["valid"] and (str(preview["base_version"]) != base_version or preview["sha256"] != sha256):
            # The text or the live version changed since the diff was shown: show the diff again.
            return _publish_step(request, session, user, kind, name, text, note, last, base_version, sha256)
        try:
            with session_scope() as write:
                published = publish(write, text, author=user.username, note=note)
                row = published.row
                follow_publish_later(request, background, row)
                where, version, created = f"/definitions/{row.kind}/{row.name}", row.version, published.created
                label = f"{row.kind} {row.name}"
        except InvalidDefinition as exc:
            context = editor_context(request, session, user, kind, name, text, note=note, last=last)
            context["refused"] = _not_published(len(exc.errors))
            return render(request, "pages/definition_edit.html", context, status_code=422)
        message = (
            gettext("Published %(what)s v%(version)s.", what=label, version=version)
            if created
            else gettext(
                "%(what)s v%(version)s is already this text; nothing was published.", what=label, version=version
            )
        )
        return redirect(where, Flash().ok(message), default="/definitions")
    if action in ("save_draft", "discard_draft"):
        return _draft_action(action, text, kind, name, user)
    context = editor_context(request, session, user, kind, name, text, note=note, last=last)
    if action == "whatif":
        if not can_edit(user):  # a what-if runs over up to 20,000 orders: the editors' tool
            raise PageRefused(
                403,
                gettext(
                    "Role %(role)r can read definitions but not run what-if; that needs analyst or admin.",
                    role=user.role,
                ),
            )
        context["whatif"], context["whatif_error"] = _whatif(session, text, parse_last(last))
    status_code = 422 if context["check"] and not context["check"]["valid"] else 200
    return render(request, "pages/definition_edit.html", context, status_code=status_code)


def _publish_step(
    request: Request,
    session: Session,
    user: CurrentUser,
    kind: str,
    name: str | None,
    text: str,
    note: str,
    last: str,
    base_version: str,
    sha256: str,
):
    """Before publishing: the diff against the live version and a note; refused while problems remain."""
    context = editor_context(request, session, user, kind, name, text, note=note, last=last)
    if context["check"] and not context["check"]["valid"]:
        context["refused"] = _not_published(len(context["check"]["errors"]))
        return render(request, "pages/definition_edit.html", context, status_code=422)
    preview = publish_preview(session, text)
    context["confirm"] = preview
    asked = base_version == str(preview["base_version"]) and sha256 == preview["sha256"]
    if asked and not note:
        context["note_error"] = gettext("Write a note first: say why this change is made. Nothing was published.")
        return render(request, "pages/definition_edit.html", context, status_code=422)
    if sha256 and not asked:
        context["note_error"] = gettext(
            "The text or the live version changed since the difference was shown: check it again. "
            "Nothing was published."
        )
    return render(request, "pages/definition_edit.html", context)


def _draft_action(action: str, text: str, kind: str, name: str | None, user: CurrentUser):
    if not can_edit(user):
        raise PageRefused(
            403,
            gettext(
                "Role %(role)r can read definitions but not keep drafts; that needs analyst or admin.", role=user.role
            ),
        )
    if action == "discard_draft":
        with session_scope() as write:
            discard_draft(write, kind, name or "", user.username)
        back = f"/definitions/{kind}/{name}" if name else "/definitions"
        discarded = gettext("Draft discarded; the editor shows the live version.")
        return redirect(back, Flash().ok(discarded), default="/definitions")
    try:
        with session_scope() as write:
            draft = save_draft(write, text, user.username)
            where = f"/definitions/{draft.kind}/{draft.name}"
    except InvalidDefinition as exc:
        problems = "; ".join(e.message for e in exc.errors)
        raise PageRefused(422, gettext("The draft was not saved: %(problems)s.", problems=problems)) from exc
    return redirect(
        where,
        Flash().ok(gettext("Draft saved. Only you see it here; no order runs a draft until it is published.")),
        default="/definitions",
    )


def _whatif(session: Session, text: str, last: int) -> tuple[dict | None, str]:
    try:
        return whatif_view(session, text, last), ""
    except InvalidDefinition:
        return None, gettext("What-if needs a valid draft: fix the problems listed first.")
    except DomainError as exc:
        return None, exc.message


@router.get("/definitions/{kind}/{name}")
def edit_definition(request: Request, kind: str, name: str, session: SessionDep, user: SignedIn):
    if kind not in KINDS:
        raise PageRefused(404, _unknown_kind(kind))
    rows = versions_of(session, kind, name)
    draft = get_draft(session, kind, name, user.username) if can_edit(user) else None
    if not rows and draft is None:
        raise PageRefused(404, _not_published_yet(kind, name))
    context = editor_context(request, session, user, kind, name, draft.body if draft else rows[0].body, check=True)
    context["draft"] = draft
    return render(request, "pages/definition_edit.html", context)


@router.get("/definitions/{kind}/{name}/history")
def history(request: Request, kind: str, name: str, session: SessionDep, user: SignedIn):
    rows = versions_of(session, kind, name) if kind in KINDS else []
    if not rows:
        raise PageRefused(404, _not_published_yet(kind, name))
    numbers = [r.version for r in rows]
    params = request.query_params

    def pick(key: str, default: int) -> int:
        try:
            value = int(params.get(key, default))
        except ValueError:
            return default
        return value if value in numbers else default

    newest = numbers[0]
    to_version = pick("to", newest)
    from_version = pick("from", max(min(numbers), to_version - 1))
    old, new = version_of(session, kind, name, from_version), version_of(session, kind, name, to_version)
    lines = diff_lines(old.body, new.body)
    added, removed = change_counts(lines)
    returns = kind == "flow" and serves_returns(new.body)
    use = return_use(session) if returns else version_use(session)
    return render(
        request,
        "pages/definition_history.html",
        {
            "nav": "definitions",
            "kind": kind,
            "name": name,
            "rows": rows,
            "use": use,
            "from_version": from_version,
            "to_version": to_version,
            "lines": lines,
            "added": added,
            "removed": removed,
            "can_edit": can_edit(user),
            "counts_orders": kind in ("flow", "rules"),
            "counts": "returns" if returns else "orders",
        },
    )


@router.get("/definitions/flow/{name}/diagram")
def diagram_page(request: Request, name: str, session: SessionDep, user: SignedIn, order: str = "", version: str = ""):
    """A flow's diagram on a page of its own; ``?order=`` shows where that order is on the version it runs."""
    rows = versions_of(session, "flow", name)
    if not rows:
        raise PageRefused(404, _not_published_yet("flow", name))
    context = order_on_flow(session, user, name, rows, order.strip(), version)
    return render(request, "pages/definition_flow_diagram.html", {"nav": "definitions", "name": name, **context})


@router.post("/definitions/{kind}/{name}/rollback")
def rollback_page(
    kind: str,
    name: str,
    user: FormUser,
    version: Annotated[int, Form()],
    note: Annotated[str, Form()] = "",
):
    if not can_edit(user):
        raise PageRefused(
            403,
            gettext(
                "Role %(role)r can read definitions but not publish them; a rollback needs analyst or admin.",
                role=user.role,
            ),
        )
    back = f"/definitions/{kind}/{name}/history"
    try:
        with session_scope() as write:
            published = rollback(write, kind, name, version, user.username, note.strip()[:MAX_NOTE])
            version_now, created = published.row.version, published.created
    except LookupError as exc:
        raise PageRefused(404, str(exc)) from exc
    except InvalidDefinition as exc:
        problems = "; ".join(str(e) for e in exc.errors[:3])
        again = gettext("v%(version)s cannot be published again: %(problems)s", version=version, problems=problems)
        return redirect(back, Flash().error(again))
    if not created:
        already = gettext(
            "v%(version)s's text is already live as v%(now)s; nothing was published.", version=version, now=version_now
        )
        return redirect(back, Flash().ok(already))
    rolled = gettext("Rolled back: v%(version)s's text is live again as v%(now)s.", version=version, now=version_now)
    return redirect(back, Flash().ok(rolled))


def _unknown_kind(kind: str) -> str:
    return gettext("Unknown kind %(kind)r; kinds are %(kinds)s.", kind=kind, kinds=", ".join(KINDS))


def _not_published_yet(kind: str, name: str) -> str:
    return gettext("No %(kind)s named %(name)r is published.", kind=kind, name=name)


def _not_published(problems: int) -> str:
    return ngettext(
        "Not published: %(num)d problem; fix it (a failing test case counts) and publish again.",
        "Not published: %(num)d problems; fix them (a failing test case counts) and publish again.",
        problems,
    )


# The structured editors' JSON requests (rule and form builders) share the editor's pages.
router.include_router(builder_pages.router)
router.include_router(flow_editor_pages.router)
