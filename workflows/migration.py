"""The durable migration ("FlowMigration"): moves a flow's waiting instances to another version, batch by batch.

Each batch is the activity ``migrate_batch`` (after the keyset cursor this
workflow keeps); its totals go to the ``flow_migrations`` row through
``record_flow_migration``. ``pause`` takes effect between batches and ``resume``
goes on from the cursor; ``progress`` answers with the totals so far. A long
migration continues as new with its progress, so its history stays small.
Moving an instance twice changes nothing (the Update ``migrate`` answers
"already on vN"), so a batch run again after a worker stopped is safe.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.contracts import (
        FlowMigrationInput,
        MigrationBatch,
        MigrationBatchResult,
        MigrationProgress,
    )

BATCH_TIMEOUT = timedelta(minutes=30)
# A batch heartbeats after every instance; a worker that stops is noticed this soon and the batch runs again.
BATCH_HEARTBEAT = timedelta(seconds=15)
BATCH_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=20)
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=50)
BATCHES_PER_RUN = 200
STAYS_KEPT = 200


@workflow.defn(name="FlowMigration")
class FlowMigration:
    def __init__(self) -> None:
        self._paused = False
        self._progress: MigrationProgress | None = None

    @workflow.signal(name="pause")
    def pause(self) -> None:
        self._paused = True
        if self._progress is not None and self._progress.status == "running":
            self._progress.status = "paused"

    @workflow.signal(name="resume")
    def resume(self) -> None:
        self._paused = False
        if self._progress is not None and self._progress.status == "paused":
            self._progress.status = "running"

    @workflow.query(name="progress")
    def progress(self) -> MigrationProgress | None:
        return self._progress

    async def _record(self, progress: MigrationProgress) -> None:
        await workflow.execute_activity(
            "record_flow_migration",
            progress,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RECORD_RETRY,
        )

    @workflow.run
    async def run(self, inp: FlowMigrationInput) -> MigrationProgress:
        self._paused = self._paused or inp.paused
        progress = self._progress = inp.progress or MigrationProgress(inp.migration_id)
        progress.status = "paused" if self._paused else "running"
        for _ in range(BATCHES_PER_RUN):
            if self._paused:
                await self._record(progress)
                await workflow.wait_condition(lambda: not self._paused)
                await self._record(progress)
            batch = MigrationBatch(
                inp.migration_id,
                inp.flow,
                inp.source,
                inp.target,
                inp.by,
                inp.where,
                progress.cursor,
                inp.batch_size,
                inp.concurrency,
            )
            try:
                result = await workflow.execute_activity(
                    "migrate_batch",
                    batch,
                    result_type=MigrationBatchResult,
                    start_to_close_timeout=BATCH_TIMEOUT,
                    heartbeat_timeout=BATCH_HEARTBEAT,
                    retry_policy=BATCH_RETRY,
                )
            except ActivityError as exc:
                progress.status, progress.error = "failed", str(exc.cause or exc)
                await self._record(progress)
                return progress
            progress.moved += result.moved
            progress.already += result.already
            progress.stayed += result.stayed
            progress.stays = (progress.stays + result.stays)[:STAYS_KEPT]
            progress.batches += 1
            progress.cursor = result.cursor
            if result.done:
                progress.status = "completed"
                await self._record(progress)
                return progress
            await self._record(progress)
        workflow.continue_as_new(replace(inp, progress=progress, paused=self._paused))
