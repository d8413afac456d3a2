"""The Temporal worker: order workflows and every activity."""

from __future__ import annotations

import asyncio
import compileall
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import workflows
from activities.registry import ALL_ACTIVITIES
from oms.settings import get_settings
from workflows.order import OrderWorkflow

log = logging.getLogger("oms.worker")

# Deterministic, side-effect-free code the workflows use; importing it once
# outside the sandbox keeps compiled definitions cached across workflow runs.
PASSTHROUGH = ("engine", "activities.contracts", "zen", "ruamel", "jsonschema", "referencing", "rpds")


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


async def connect() -> Client:
    settings = get_settings()
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)


def compile_workflow_modules() -> None:
    """Write bytecode for the workflow modules.

    The sandbox imports a workflow's module afresh for every run; without a
    .pyc (PYTHONDONTWRITEBYTECODE, read-only installs) each run recompiles it.
    """
    compileall.compile_dir(str(Path(workflows.__file__).parent), quiet=1)


def build_worker(client: Client, executor: ThreadPoolExecutor, task_queue: str | None = None) -> Worker:
    settings = get_settings()
    compile_workflow_modules()
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[OrderWorkflow],
        activities=ALL_ACTIVITIES,
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        max_concurrent_activities=settings.worker_threads,
        # Lets running activities finish their transaction on shutdown.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(stop: asyncio.Event | None = None) -> None:
    from oms.db import create_tables

    create_tables()
    client = await connect()
    with ThreadPoolExecutor(max_workers=get_settings().worker_threads) as executor:
        worker = build_worker(client, executor)
        log.info("worker polling task queue %s", get_settings().task_queue)
        if stop is None:
            await worker.run()
        else:
            async with worker:
                await stop.wait()
