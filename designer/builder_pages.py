"""The structured editors' requests from the editor page (cookie and CSRF token, JSON in and out).

``/definitions/structure`` reads a draft for the builders; ``/definitions/edit``
writes structured edits into it; ``/definitions/rule`` writes the rule
builder's rule; ``/definitions/case-from-order`` adds a test case made of a
recorded order. None of them stores anything: the page keeps the text, and
saving or publishing it is the editor's own step.

``/definitions/test-case-from-order`` is the order page's form: the same test
case, expecting what the order's audit decided, goes into the analyst's draft
of the rule set that audited it (a draft is theirs alone and runs no order);
the editor then opens on that draft.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from designer.builder import case_from_order, draft_with_case, edited, rule_saved, structure
from designer.views import can_edit
from engine.definitions import MAX_TEXT_CHARS, load
from oms.db import get_read_engine, session_scope
from services.definitions.publishing import save_draft
from services.errors import DomainError, NotFound
from web.deps import CurrentUser, page_user
from web.i18n import gettext
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect
from web.pages.security import FormUser, PageRefused, csrf_token, tokens_match

router = APIRouter(route_class=PageRoute, include_in_schema=False)


async def draft_request(request: Request, needs_editor: str) -> tuple[CurrentUser, dict] | JSONResponse:
    """The signed-in user and the JSON body, which has the draft as ``text``; or the refusal."""
    user = page_user(request)
    if user is None:
        return JSONResponse({"detail": "not signed in; reload the page and sign in"}, status_code=401)
    if needs_editor and not can_edit(user):
        return JSONResponse({"detail": f"{needs_editor} needs analyst or admin"}, status_code=403)
    if not tokens_match(csrf_token(request), request.headers.get("x-csrf-token")):
        return JSONResponse({"detail": "security token missing or stale; reload the page"}, status_code=403)
    try:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body["text"], str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"detail": 'send JSON {"text": "...", ...}', "field": "text"}, status_code=422)
    if len(body["text"]) > MAX_TEXT_CHARS:
        return JSONResponse(
            {"detail": f"the text is longer than {MAX_TEXT_CHARS} characters", "field": "text"}, status_code=422
        )
    return user, body


async def draft_answer(run: Callable[[Session], dict]) -> JSONResponse:
    """``run`` on a read session: its answer as JSON, or a domain error as 404 or 422 with its field and code."""

    def work() -> dict | JSONResponse:
        with Session(get_read_engine()) as session:
            try:
                return run(session)
            except DomainError as exc:
                status = 404 if isinstance(exc, NotFound) else 422
                return JSONResponse({"detail": exc.message, "field": exc.field, "code": exc.code}, status_code=status)

    result = await to_thread.run_sync(work)
    return result if isinstance(result, JSONResponse) else JSONResponse(result)


def _index(value: Any) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return "bad"


@router.post("/definitions/structure")
async def builder_structure(request: Request):
    """The builders' view of the draft (rules with their conditions read, fields to pick, the form preview)."""
    got = await draft_request(request, needs_editor="")
    if isinstance(got, JSONResponse):
        return got
    text = got[1]["text"]
    return await draft_answer(lambda session: structure(session, text))


@router.post("/definitions/edit")
async def builder_edit(request: Request):
    """Structured edits written into the draft in place: the new text, its validation, the builders' view."""
    got = await draft_request(request, needs_editor="editing")
    if isinstance(got, JSONResponse):
        return got
    body = got[1]
    return await draft_answer(lambda session: edited(session, body["text"], body.get("edits")))


@router.post("/definitions/rule")
async def builder_rule(request: Request):
    """The rule builder's rule (``index`` null: a new one) written into the draft rule set."""
    got = await draft_request(request, needs_editor="editing")
    if isinstance(got, JSONResponse):
        return got
    body = got[1]
    index, spec = _index(body.get("index")), body.get("rule")
    if index == "bad":
        return JSONResponse({"detail": "index is a rule's position (0, 1, ...) or null", "field": "index"}, 422)
    if not isinstance(spec, dict):
        return JSONResponse({"detail": "send the rule as an object", "field": "rule"}, status_code=422)
    position = index if isinstance(index, int) else None
    return await draft_answer(lambda session: rule_saved(session, body["text"], position, spec))


@router.post("/definitions/case-from-order")
async def builder_case(request: Request):
    """A recorded order (its document and audit facts) as a test case of the draft rule set."""
    got = await draft_request(request, needs_editor="editing")
    if isinstance(got, JSONResponse):
        return got
    user, body = got
    reference, action, name = body.get("order_id"), body.get("expect"), body.get("name") or ""
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 200:
        return JSONResponse({"detail": "name the order (its id or external id)", "field": "order_id"}, 422)
    if not isinstance(name, str) or len(name) > 200:
        return JSONResponse({"detail": "the case's name is text of at most 200 characters", "field": "name"}, 422)
    return await draft_answer(
        lambda session: case_from_order(session, user, body["text"], reference.strip(), str(action), name)
    )


@router.post("/definitions/test-case-from-order")
def case_from_order_page(user: FormUser, order_id: Annotated[str, Form(max_length=200)] = ""):
    """The order page's "Make this a test case": the order, expecting what its audit decided, into the analyst's
    draft of the rule set that audited it; then the editor on that draft."""
    if not can_edit(user):
        raise PageRefused(
            403,
            gettext(
                "Role %(role)r can read definitions but not keep drafts; that needs analyst or admin.", role=user.role
            ),
        )
    reference = order_id.strip()
    back = f"/orders/{quote(reference, safe='')}" if reference else "/orders"
    try:
        with Session(get_read_engine()) as session:
            rule_set, answer = draft_with_case(session, user, reference)
        with session_scope() as write:
            save_draft(write, answer["text"], user.username)
    except DomainError as exc:
        return redirect(back, Flash().error(gettext("No test case was made: %(problem)s.", problem=exc.message)))
    case = load(answer["text"]).raw["tests"][-1]
    made = gettext(
        "The order is now a test case of your draft of %(rules)s, expecting %(action)s: “%(case)s”. "
        "Publish the draft to keep it.",
        rules=rule_set,
        action=case["expect"]["action"],
        case=case["name"],
    )
    return redirect(f"/definitions/rules/{quote(rule_set, safe='')}", Flash().ok(made), default="/definitions")
