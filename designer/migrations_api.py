"""Moving a flow's waiting instances to another version (issue 15): preview, start, follow, pause, resume.

Only analysts and admins plan and start migrations. A migration is the
``FlowMigration`` workflow (``services/definitions/migration_runs.py``); its row
with its plan and result is listed in the publish log.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from designer.schemas import MigrationPreview, MigrationView
from oms.models import FlowMigration
from services.definitions import migration, migration_runs
from web.api.params import MAX_ID
from web.deps import CurrentUser, TemporalDep, require
from workflows.contracts import MigrationProgress

router = APIRouter(prefix="/api/definitions/flow", tags=["definitions"])
Planner = Annotated[CurrentUser, Depends(require("analyst"))]


class MigrationRequest(BaseModel):
    source: int = Field(ge=1, le=MAX_ID, alias="from", description="the version the instances run now")
    target: int = Field(ge=1, le=MAX_ID, alias="to", description="the version they move to")
    where: list[str] = Field(default_factory=list, max_length=10, description="filters, e.g. status=awaiting_payment")


class MigrationStart(MigrationRequest):
    batch_size: int = Field(default=migration.DEFAULT_BATCH, ge=1, le=10_000)
    concurrency: int = Field(default=migration.DEFAULT_CONCURRENCY, ge=1, le=256)


def migration_view(row: FlowMigration, progress: MigrationProgress) -> dict[str, Any]:
    return {
        "id": row.id,
        "flow": row.flow,
        "from": row.source,
        "to": row.target,
        "where": row.where,
        "by": row.by,
        "plan": row.plan,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        **{key: value for key, value in asdict(progress).items() if key not in ("migration_id", "cursor")},
    }


@router.post("/{name}/migrations/preview", response_model=MigrationPreview)
def preview_migration(name: str, body: MigrationRequest, _: Planner) -> dict:
    """What moving the waiting instances would do to each of them; moves nothing."""
    return migration.preview(name, body.source, body.target, migration.parse_where(body.where)).as_dict()


@router.post("/{name}/migrations", response_model=MigrationView, status_code=202)
async def start_migration(name: str, body: MigrationStart, user: Planner, client: TemporalDep) -> dict:
    """Start moving them, batch by batch (a durable workflow); follow it at the answer's id."""
    where = migration.parse_where(body.where)
    row = await migration_runs.start(
        client, name, body.source, body.target, user.username, where, body.batch_size, body.concurrency
    )
    return migration_view(row, migration_runs.progress_of(row))


@router.get("/{name}/migrations/{migration_id}", response_model=MigrationView)
async def migration_progress(name: str, migration_id: str, _: Planner, client: TemporalDep) -> dict:
    return migration_view(*await migration_runs.progress(client, name, migration_id))


@router.post("/{name}/migrations/{migration_id}/pause", response_model=MigrationView)
async def pause_migration(name: str, migration_id: str, _: Planner, client: TemporalDep) -> dict:
    """Stop after the batch in flight; ``resume`` goes on where it stopped."""
    return migration_view(*await migration_runs.signal(client, name, migration_id, "pause"))


@router.post("/{name}/migrations/{migration_id}/resume", response_model=MigrationView)
async def resume_migration(name: str, migration_id: str, _: Planner, client: TemporalDep) -> dict:
    return migration_view(*await migration_runs.signal(client, name, migration_id, "resume"))
