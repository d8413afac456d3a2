"""The designer's migration page: move a flow's waiting orders and returns to another version (issue 15).

Analysts and admins only, like the JSON API (``designer/migrations_api.py``):
the preview lists instances of every channel and warehouse, and runs over all
of them, as what-if does. Others get 403. Plain forms with the CSRF token; the
page reloads itself every few seconds while a migration runs.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from sqlmodel import Session

from designer import migration_views as views
from designer.views import can_edit
from oms.db import get_read_engine
from services.definitions import migration, migration_runs
from services.definitions.publishing import versions_of
from services.errors import DomainError
from web.deps import CurrentUser, TemporalDep
from web.i18n import N_, gettext
from web.pages.flash import Flash
from web.pages.rendering import PageRoute, redirect, render
from web.pages.security import FormUser, PageRefused, SignedIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RECENT = 10  # migrations of the flow listed with their progress
STATUS_LABELS = {"running": N_("running"), "paused": N_("paused"), "completed": N_("done"), "failed": N_("failed")}


def _planner(user: CurrentUser) -> CurrentUser:
    if not can_edit(user):
        raise PageRefused(
            403,
            gettext(
                "Role %(role)r can read definitions but not move orders; migrations need analyst or admin.",
                role=user.role,
            ),
        )
    return user


def _page_url(name: str, source: str = "", target: str = "", status: str = "") -> str:
    query = urlencode({key: value for key, value in (("from", source), ("to", target), ("status", status)) if value})
    return f"/definitions/flow/{quote(name)}/migrate" + (f"?{query}" if query else "")


def _where(status: str) -> dict[str, list[str]]:
    return migration.parse_where([f"status={status}"]) if status.strip() else {}


def _plan(name: str, source: int, target: int, status: str) -> dict:
    """The preview and everything drawn from it; a refused plan (same version, bad filter) as a problem."""
    with Session(get_read_engine()) as session:
        rows = versions_of(session, "flow", name)
        try:
            v = migration.versions(session, name, source, target)
        except DomainError as exc:
            return {"problem": exc.message, "rows": rows}
    try:
        preview = migration.preview(name, source, target, _where(status))
    except DomainError as exc:
        return {"problem": exc.message, "rows": rows}
    by_number = {row.version: row for row in rows}
    return {
        "problem": "",
        "rows": rows,
        "preview": preview,
        "counts": preview.counts(),
        "steps": views.step_rows(v, preview),
        "shown": preview.rows[: views.SHOWN],
        "source_layout": views.diagram(by_number[source]),
        "target_layout": views.diagram(by_number[target]),
        **views.highlights(v),
    }


async def _recent(client: TemporalDep, name: str) -> list[tuple]:
    """The flow's newest migrations with their progress (the workflow's own while one runs)."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        rows = migration_runs.migrations(session, RECENT, name)
    found = []
    for row in rows:
        if row.status in migration_runs.OPEN:
            found.append(await migration_runs.progress(client, name, row.id))
        else:
            found.append((row, migration_runs.progress_of(row)))
    return found


@router.get("/definitions/flow/{name}/migrate")
async def migrate_page(
    request: Request,
    name: str,
    user: SignedIn,
    client: TemporalDep,
    status: str = "",
):
    _planner(user)
    params = request.query_params
    with Session(get_read_engine()) as session:
        rows = versions_of(session, "flow", name)
    if not rows:
        raise PageRefused(404, gettext("No %(kind)s named %(name)r is published.", kind="flow", name=name))
    source_version, target_version = views.pick_versions(rows, params.get("from", ""), params.get("to", ""))
    status = status.strip()
    context = await to_thread.run_sync(_plan, name, source_version, target_version, status)
    migrations = await _recent(client, name)
    return render(
        request,
        "pages/definition_migrate.html",
        {
            "nav": "definitions",
            "name": name,
            "from_version": source_version,
            "to_version": target_version,
            "status": status,
            "migrations": migrations,
            "labels": {status: gettext(label) for status, label in STATUS_LABELS.items()},
            "refresh": any(progress.status == "running" for _, progress in migrations),
            **context,
        },
    )


@router.post("/definitions/flow/{name}/migrate")
async def start_migration(
    name: str,
    user: FormUser,
    client: TemporalDep,
    source: Annotated[str, Form(alias="from")] = "",
    target: Annotated[str, Form(alias="to")] = "",
    status: Annotated[str, Form()] = "",
):
    """Start the durable migration the page previewed; back to the page, which follows its progress."""
    _planner(user)
    if not (source.isdigit() and target.isdigit()):
        raise PageRefused(422, gettext("Choose the version the orders run now and the version they move to."))
    back = _page_url(name, source, target, status.strip())
    try:
        where = _where(status)
        row = await migration_runs.start(client, name, int(source), int(target), user.username, where)
    except DomainError as exc:
        return redirect(back, Flash().error(gettext("Nothing was moved: %(problem)s", problem=exc.message)))
    started = gettext(
        "Migration %(id)s started: %(n)s to move from v%(source)s to v%(target)s.",
        id=row.id,
        n=row.plan.get("movable", 0),
        source=source,
        target=target,
    )
    return redirect(back, Flash().ok(started))


@router.post("/definitions/flow/{name}/migrations/{migration_id}")
async def pause_or_resume(
    name: str,
    migration_id: str,
    user: FormUser,
    client: TemporalDep,
    action: Annotated[str, Form()] = "",
):
    """Pause a running migration after its batch in flight, or resume a paused one where it stopped."""
    _planner(user)
    if action not in ("pause", "resume"):
        raise PageRefused(422, gettext("Say pause or resume."))
    back = _page_url(name)
    try:
        row, _ = await migration_runs.signal(client, name, migration_id, action)
    except DomainError as exc:
        return redirect(back, Flash().error(exc.message))
    if action == "pause":
        said = gettext("Migration %(id)s: pausing after the batch in flight.", id=row.id)
    else:
        said = gettext("Migration %(id)s: resumed.", id=row.id)
    return redirect(back, Flash().ok(said))
