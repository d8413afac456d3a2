"""Activities of the durable migration (``workflows/migration.py``): one batch, and its progress row.

They serve no flow, so they are registered by the worker beside ``ALL_ACTIVITIES`` (the catalogue of
activities a flow may name) and not in it.
"""

from __future__ import annotations

from temporalio import activity

from activities.failures import typed_failures
from services.definitions import migration_runs
from workflows.contracts import MigrationBatch, MigrationBatchResult, MigrationProgress


@activity.defn(name="migrate_batch")
async def migrate_batch(batch: MigrationBatch) -> MigrationBatchResult:
    """Move the next batch after the cursor; a retried batch counts what an earlier attempt moved."""
    with typed_failures():
        return await migration_runs.migrate_batch(
            activity.client(), batch, recover=activity.info().attempt > 1, heartbeat=activity.heartbeat
        )


@activity.defn(name="record_flow_migration")
def record_flow_migration(progress: MigrationProgress) -> None:
    """Write the migration's progress on its ``flow_migrations`` row."""
    migration_runs.record(progress)


MIGRATION_ACTIVITIES = [migrate_batch, record_flow_migration]
