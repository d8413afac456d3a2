"""Durable migrations (issue 15): the ``flow_migrations`` rows and one batch of the ``FlowMigration`` workflow.

``start`` previews the move, stores the plan in a ``flow_migrations`` row and
starts the workflow (``workflows/migration.py``), which calls ``migrate_batch``
for the next batch after its keyset cursor (orders, then returns, by id) and
``record`` after each batch. A batch sends each movable instance the Update
``migrate`` (``services.definitions.migration.move_one``); an instance that
could not be asked fails the batch, and Temporal runs it again: instances it
moved already run the target version and are not selected again, and a retried
batch counts them from their timeline line ("moved ... " with this migration's
id), so nobody is moved twice or left out of the count.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from oms.db import get_read_engine, session_scope
from oms.models import FlowMigration, Order, OrderEvent, Return, ReturnEvent
from oms.settings import get_settings
from services.definitions import migration
from services.definitions.live import live_definitions
from services.errors import Conflict, NotFound, Unavailable
from services.orders.timeline import MOVED
from workflows.contracts import (
    FlowMigrationInput,
    MigrationBatch,
    MigrationBatchResult,
    MigrationCursor,
    MigrationProgress,
)

WORKFLOW = "FlowMigration"
OPEN = ("running", "paused")
FINISHED = ("completed", "failed")
STAYS_KEPT = 200  # the first instances that stayed, with their reason, kept on the progress
# A query waits for a worker to answer it (30 s by default): with none up, the row answers sooner.
QUERY_TIMEOUT = timedelta(seconds=2)


def workflow_id(migration_id: str) -> str:
    return f"flow-migration-{migration_id}"


# ---- the rows ------------------------------------------------------------------------------------


def get(session: Session, name: str, migration_id: str) -> FlowMigration:
    row = session.get(FlowMigration, migration_id)
    if row is None or row.flow != name:
        raise NotFound("migration_not_found", f"flow {name} has no migration {migration_id}")
    return row


def migrations(session: Session, limit: int = 100, name: str | None = None) -> list[FlowMigration]:
    """The newest migrations first (for the publish log and the migration page)."""
    query: Any = select(FlowMigration)
    if name:
        query = query.where(FlowMigration.flow == name)
    return list(session.exec(query.order_by(col(FlowMigration.created_at).desc()).limit(limit)).all())


def record(progress: MigrationProgress) -> None:
    """Write the workflow's progress on its row (the same totals again change nothing)."""
    with session_scope() as session:
        row = session.get(FlowMigration, progress.migration_id)
        if row is None:
            return
        for name in ("status", "moved", "already", "stayed", "failed", "batches", "error"):
            setattr(row, name, getattr(progress, name))
        row.updated_at = datetime.now(UTC)
        if progress.status in FINISHED and row.finished_at is None:
            row.finished_at = row.updated_at
        session.add(row)


def progress_of(row: FlowMigration) -> MigrationProgress:
    return MigrationProgress(
        migration_id=row.id,
        status=row.status,
        moved=row.moved,
        already=row.already,
        stayed=row.stayed,
        failed=row.failed,
        batches=row.batches,
        error=row.error,
    )


# ---- start, follow, pause, resume ---------------------------------------------------------------


async def start(
    client: Client,
    name: str,
    source: int,
    target: int,
    by: str,
    where: dict[str, list[str]] | None = None,
    batch_size: int = migration.DEFAULT_BATCH,
    concurrency: int = migration.DEFAULT_CONCURRENCY,
) -> FlowMigration:
    """Store the plan and start the durable migration; one open migration per flow at a time."""
    where = where or {}
    plan = await asyncio.to_thread(migration.preview, name, source, target, where)
    migration_id = "mig_" + uuid.uuid4().hex[:16]
    with session_scope() as session:
        running = session.exec(
            select(FlowMigration).where(FlowMigration.flow == name, col(FlowMigration.status).in_(OPEN))
        ).first()
        if running is not None:
            raise Conflict(
                "migration_running", f"flow {name} has a migration {running.status} ({running.id}): wait for it"
            )
        row = FlowMigration(
            id=migration_id,
            flow=name,
            source=source,
            target=target,
            where=where,
            by=by,
            plan={**plan.counts(), "instances": len(plan.rows)},
        )
        session.add(row)
    inp = FlowMigrationInput(migration_id, name, source, target, by, where, batch_size, concurrency)
    try:
        await client.start_workflow(WORKFLOW, inp, id=workflow_id(migration_id), task_queue=get_settings().task_queue)
    except RPCError as exc:
        record(MigrationProgress(migration_id, status="failed", error=f"could not start: {exc.message}"))
        raise Unavailable("temporal_unavailable", f"the migration could not start: {exc.message}") from None
    with Session(get_read_engine(), expire_on_commit=False) as session:
        return get(session, name, migration_id)


async def progress(client: Client, name: str, migration_id: str) -> tuple[FlowMigration, MigrationProgress]:
    """The row and the live progress (the workflow's own, while it runs; else the row's)."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        row = get(session, name, migration_id)
    if row.status in FINISHED:
        return row, progress_of(row)
    try:
        live = await client.get_workflow_handle(workflow_id(row.id)).query(
            "progress", result_type=MigrationProgress, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError):  # no worker has run it yet, or none is up: the row's last word
        return row, progress_of(row)
    if live is None:
        return row, progress_of(row)
    if live.status in FINISHED:
        # The workflow is done but its last record (counts, finished_at) is still being written:
        # the migration counts as finished once its row says so, so the two never disagree.
        return row, dataclasses.replace(live, status=row.status)
    return row, live


async def outcome(client: Client, migration_id: str) -> MigrationProgress:
    """The finished migration's result, with the instances that stayed and why."""
    handle = client.get_workflow_handle(workflow_id(migration_id), result_type=MigrationProgress)
    return await handle.result()


async def signal(client: Client, name: str, migration_id: str, what: str) -> tuple[FlowMigration, MigrationProgress]:
    """Send ``pause`` or ``resume``; a migration that finished takes neither."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        row = get(session, name, migration_id)
    handle = client.get_workflow_handle(workflow_id(row.id))
    try:
        if row.status in FINISHED or (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            raise Conflict("migration_finished", f"migration {row.id} has finished ({row.status})")
        await handle.signal(what)
    except RPCError as exc:
        raise Unavailable("temporal_unavailable", f"the migration could not be asked: {exc.message}") from None
    return await progress(client, name, migration_id)


# ---- one batch -----------------------------------------------------------------------------------


def _moved_earlier(session: Session, batch: MigrationBatch, since: datetime) -> list[tuple[str, str]]:
    """(kind, id) of instances after the cursor that this migration already moved: a batch that ran before
    was cut short (its worker stopped) after moving them."""
    found: list[tuple[str, str]] = []
    cursor = batch.cursor
    for kind, model, event, owner in (
        ("order", Order, OrderEvent, col(OrderEvent.order_id)),
        ("return", Return, ReturnEvent, col(ReturnEvent.return_id)),
    ):
        if cursor.kind == "return" and kind == "order":
            continue
        query: Any = (
            select(owner, event.data)
            .join(model, col(model.id) == owner)
            .where(event.type == MOVED, event.at >= since, model.flow_name == batch.flow)
        )
        if cursor.kind == kind and cursor.id:
            query = query.where(owner > cursor.id)
        found += [
            (kind, owner_id)
            for owner_id, data in session.exec(query).all()
            if (data or {}).get("migration_id") == batch.migration_id
        ]
    return found


def _plan_batch(batch: MigrationBatch, recover: bool) -> tuple[list[Any], dict[str, Any], list[tuple[str, str]]]:
    with Session(get_read_engine()) as session:
        v = migration.versions(session, batch.flow, batch.source, batch.target)
        instances = migration.select_instances(
            session, v.source, batch.flow, batch.source, batch.where, batch.cursor, batch.batch_size
        )
        earlier: list[tuple[str, str]] = []
        if recover:
            row = session.get(FlowMigration, batch.migration_id)
            since = row.created_at if row is not None else datetime(2000, 1, 1, tzinfo=UTC)
            # After the selection: an instance whose move lands in between is in both, and counted once.
            selected = {(instance.kind, instance.id) for instance in instances}
            earlier = [key for key in _moved_earlier(session, batch, since) if key not in selected]
        live = live_definitions(session)
        now = datetime.now(UTC)
        planned = [(instance, migration.instance_plan(v, instance, now)) for instance in instances]
        requests = {
            instance.id: migration.request_for(session, v, instance, batch.by, batch.migration_id, live)
            for instance, plan in planned
            if plan.movable
        }
    return planned, requests, earlier


def _after(a: MigrationCursor, kind: str, instance_id: str) -> bool:
    """Whether (kind, id) lies after cursor ``a`` (orders before returns)."""
    if a.kind != kind:
        return kind == "return"
    return instance_id > a.id


async def migrate_batch(
    client: Client, batch: MigrationBatch, recover: bool = False, heartbeat: Callable[[], None] | None = None
) -> MigrationBatchResult:
    """Move the next ``batch_size`` selected instances after the cursor; where the next batch starts."""
    planned, requests, earlier = await asyncio.to_thread(_plan_batch, batch, recover)
    gate = asyncio.Semaphore(max(1, batch.concurrency))

    async def one(instance: migration.Instance, plan: migration.InstancePlan) -> migration.Moved:
        if not plan.movable:
            return migration.Moved(instance.kind, instance.id, "stayed", instance.step, reason=plan.reason)
        async with gate:
            moved = await migration.move_one(client, requests[instance.id], instance)
        if heartbeat is not None:
            heartbeat()
        return moved

    results = await asyncio.gather(*(one(instance, plan) for instance, plan in planned))
    failed = [row for row in results if row.outcome == "failed"]
    if failed:
        # Retried by Temporal: the moved ones are counted then from their timeline, the others asked again.
        raise Unavailable(
            "instances_not_asked",
            f"{len(failed)} instance(s) could not be asked, e.g. {failed[0].kind} {failed[0].id}: {failed[0].reason}",
            retryable=True,
        )
    cursor = batch.cursor
    for kind, instance_id in [*earlier, *((row.kind, row.id) for row in results)]:
        if _after(cursor, kind, instance_id):
            cursor = MigrationCursor(kind, instance_id)
    counts = {outcome: sum(1 for row in results if row.outcome == outcome) for outcome in ("moved", "already")}
    stays = [asdict(row) for row in results if row.outcome == "stayed"]
    return MigrationBatchResult(
        cursor=cursor,
        done=len(planned) < batch.batch_size,
        moved=counts["moved"] + len(earlier),
        already=counts["already"],
        stayed=len(stays),
        stays=stays[:STAYS_KEPT],
    )
