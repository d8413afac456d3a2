"""The Temporal worker: order and return workflows, flow migrations and every activity."""

from __future__ import annotations

import asyncio
import compileall
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    PollerBehaviorSimpleMaximum,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

import workflows
from activities.channel_pull import CHANNEL_PULL_ACTIVITIES
from activities.migration import MIGRATION_ACTIVITIES
from activities.registry import ALL_ACTIVITIES
from activities.stock_sync import STOCK_SYNC_ACTIVITIES
from oms.logs import about_order
from oms.settings import get_settings
from oms.temporal.client import connect
from workflows.channel_pull import ChannelPull
from workflows.migration import FlowMigration
from workflows.order_flow import OrderWorkflow
from workflows.return_flow import ReturnWorkflow
from workflows.stock_sync import StockSync

log = logging.getLogger("oms.worker")

# Deterministic, side-effect-free code the workflows use; importing it once
# outside the sandbox keeps compiled definitions cached across workflow runs.
# jinja2 (and markupsafe): http steps render their texts in the workflow (engine/http_steps.py); its compiler
# imports lazily and its caches hold a lock, which the sandbox would refuse in a module it imported itself.
PASSTHROUGH = (
    "engine",
    "workflows.contracts",
    "zen",
    "ruamel",
    "jsonschema",
    "referencing",
    "rpds",
    "jinja2",
    "markupsafe",
)


def workflow_runner() -> WorkflowRunner:
    if not get_settings().worker_sandbox:
        return UnsandboxedWorkflowRunner()
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH))


def sdk_runtime() -> Runtime | None:
    """A runtime serving the SDK's workflow and activity metrics for Prometheus, if an address is set."""
    address = get_settings().worker_metrics_address
    if not address:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


def compile_workflow_modules() -> None:
    """Write bytecode for the workflow modules.

    The sandbox imports a workflow's module afresh for every run; without a
    .pyc (PYTHONDONTWRITEBYTECODE, read-only installs) each run recompiles it.
    """
    compileall.compile_dir(str(Path(workflows.__file__).parent), quiet=1)


class OrderLogging(Interceptor):
    """Every log line of an activity names its order and workflow (see oms.logs)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _OrderLoggingInbound(next)


class _OrderLoggingInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput):
        order_id = next((arg.order_id for arg in input.args if isinstance(getattr(arg, "order_id", None), str)), None)
        with about_order(order_id, activity.info().workflow_id):
            return await self.next.execute_activity(input)


# What `oms worker` runs (a benchmark may run another workflow in the interpreter's place).
WORKFLOWS: tuple[type, ...] = (OrderWorkflow, ReturnWorkflow, FlowMigration, ChannelPull, StockSync)


def build_worker(
    client: Client, executor: ThreadPoolExecutor, task_queue: str | None = None, workflows: Sequence[type] = WORKFLOWS
) -> Worker:
    settings = get_settings()
    compile_workflow_modules()
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflows,
        activities=[*ALL_ACTIVITIES, *MIGRATION_ACTIVITIES, *CHANNEL_PULL_ACTIVITIES, *STOCK_SYNC_ACTIVITIES],
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        max_concurrent_activities=settings.worker_threads,
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=settings.worker_workflow_tasks or None,
        max_concurrent_local_activities=settings.worker_local_activities or None,
        workflow_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.worker_pollers),
        activity_task_poller_behavior=PollerBehaviorSimpleMaximum(settings.worker_pollers),
        interceptors=[OrderLogging()],
        # Lets running activities finish their transaction on shutdown.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(stop: asyncio.Event | None = None, workflows: Sequence[type] = WORKFLOWS) -> None:
    from oms.migrate import wait_until_current

    # The web process migrates the database; a worker must not run on an older or newer schema.
    await asyncio.to_thread(wait_until_current)
    runtime = sdk_runtime()
    if runtime is not None:
        log.info("Temporal SDK metrics at http://%s/metrics", get_settings().worker_metrics_address)
    client = await connect(runtime)
    with ThreadPoolExecutor(max_workers=get_settings().worker_threads) as executor:
        worker = build_worker(client, executor, workflows=workflows)
        log.info("worker polling task queue %s", get_settings().task_queue)
        if stop is None:
            await worker.run()
        else:
            async with worker:
                await stop.wait()
