"""The flow editor's requests from the editor page (cookie and CSRF token, JSON in and out).

``/definitions/flow-structure`` reads a draft flow for the diagram editor;
``/definitions/flow-change`` writes one change (a step added after another, a
step deleted, an outcome connected, a wait set in words) into it. Like the
builders' requests (``designer.builder_pages``) they store nothing: the page
keeps the text.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from designer.builder_pages import draft_answer, draft_request
from designer.flow_editor import flow_changed, flow_structure
from web.pages.rendering import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.post("/definitions/flow-structure")
async def flow_editor_structure(request: Request):
    """The diagram editor's view of the draft flow: steps, outcomes, waits in words, errors on each step."""
    got = await draft_request(request, needs_editor="")
    if isinstance(got, JSONResponse):
        return got
    text = got[1]["text"]
    return await draft_answer(lambda session: flow_structure(session, text))


@router.post("/definitions/flow-change")
async def flow_editor_change(request: Request):
    """One change made on the diagram, written into the draft flow in place."""
    got = await draft_request(request, needs_editor="editing")
    if isinstance(got, JSONResponse):
        return got
    body = got[1]
    return await draft_answer(lambda session: flow_changed(session, body["text"], body.get("change")))
