"""Starting order workflows after the order is stored: the orders table is the outbox.

Intake answers as soon as the order row is committed; the workflow start
(a round trip to Temporal) happens here, in the background of the web
process. Nothing can be lost in between:

- a start that fails is tried again with backoff while the process lives;
- ``workflow_started`` is set on the row only after Temporal took the start,
  and a sweep (at start-up, then every ``intake_sweep_seconds``) starts every
  order older than that which is still unmarked, so a crash of the web process
  between the insert and the start delays an order but never drops it;
- a start is idempotent: the workflow id comes from (channel, external id)
  and a second start of the same id reuses the running workflow.

When Temporal is unreachable, orders are still accepted until
``intake_backlog`` of them wait; beyond that intake answers 503 and the
caller retries (back-pressure instead of unbounded memory).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

import anyio
from sqlalchemy import update
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from oms.db import session_scope
from oms.models import Order
from oms.settings import get_settings
from workflows.contracts import OrderInput

log = logging.getLogger("services.orders.outbox")

# How many starts are in flight towards Temporal at once.
CONCURRENCY = 32
# Marks are written in batches: one UPDATE for up to this many orders.
MARK_BATCH = 500


async def start_workflow(client: Client, workflow_id: str, workflow_input: OrderInput) -> None:
    """Start the order's workflow; an existing one (running or ended) counts as started."""
    try:
        await client.start_workflow(
            "OrderFlow",
            workflow_input,
            id=workflow_id,
            task_queue=get_settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        pass  # a retry of an order whose workflow already ran to its end


def mark_started(order_ids: list[str]) -> None:
    with session_scope() as session:
        session.execute(update(Order).where(Order.id.in_(order_ids)).values(workflow_started=True))


class BacklogFull(RuntimeError):
    """Too many accepted orders wait for their workflow start."""


class WorkflowStarter:
    """Background starts of stored orders' workflows, with retries, marks and a sweep."""

    def __init__(
        self,
        client: Client,
        restart_inputs: Callable[[datetime], list[tuple[str, str, OrderInput]]],  # see services.orders.intake
        backlog: int | None = None,
        sweep_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self.client = client
        self._restart_inputs = restart_inputs
        self.backlog = backlog if backlog is not None else settings.intake_backlog
        self.sweep_seconds = sweep_seconds if sweep_seconds is not None else settings.intake_sweep_seconds
        self._queue: asyncio.Queue[tuple[str, str, OrderInput, int]] = asyncio.Queue()
        self._pending: set[str] = set()
        self._started: list[str] = []
        self._marked = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task] = []

    # -- what intake calls -------------------------------------------------------------------

    def check_room(self) -> None:
        if len(self._pending) >= self.backlog:
            raise BacklogFull(
                f"{len(self._pending)} accepted orders are waiting for the workflow engine; try again shortly"
            )

    def enqueue(self, order_id: str, workflow_id: str, workflow_input: OrderInput) -> None:
        if order_id in self._pending:
            return
        self._pending.add(order_id)
        self._idle.clear()
        self._queue.put_nowait((order_id, workflow_id, workflow_input, 0))

    @property
    def waiting(self) -> int:
        return len(self._pending)

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every enqueued order has started and is marked."""
        with anyio.fail_after(timeout):
            await self._idle.wait()

    # -- the background tasks ----------------------------------------------------------------

    async def __aenter__(self) -> "WorkflowStarter":
        self._tasks = [asyncio.create_task(self._start_loop()) for _ in range(CONCURRENCY)]
        self._tasks.append(asyncio.create_task(self._mark_loop()))
        self._tasks.append(asyncio.create_task(self._sweep_loop()))
        return self

    async def __aexit__(self, *exc) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._started:
            await anyio.to_thread.run_sync(mark_started, self._started)

    async def _start_loop(self) -> None:
        while True:
            order_id, workflow_id, workflow_input, attempt = await self._queue.get()
            try:
                await start_workflow(self.client, workflow_id, workflow_input)
            except Exception as exc:  # Temporal unreachable or overloaded: try again later
                delay = min(30.0, 0.2 * 2**attempt)
                log.warning("order %s: workflow start failed (attempt %d), retrying in %.1fs: %s",
                            order_id, attempt + 1, delay, exc, extra={"order_id": order_id, "workflow_id": workflow_id})
                asyncio.get_running_loop().call_later(
                    delay, self._queue.put_nowait, (order_id, workflow_id, workflow_input, attempt + 1)
                )
                continue
            self._started.append(order_id)
            self._marked.set()

    async def _mark_loop(self) -> None:
        while True:
            await self._marked.wait()
            self._marked.clear()
            batch, self._started = self._started[:MARK_BATCH], self._started[MARK_BATCH:]
            if self._started:
                self._marked.set()
            try:
                await anyio.to_thread.run_sync(mark_started, batch)
            except Exception:
                log.exception("could not mark %d orders as started; the sweep will start them again", len(batch))
            self._pending.difference_update(batch)
            if not self._pending:
                self._idle.set()

    async def _sweep_loop(self) -> None:
        while True:
            await self.sweep()
            await asyncio.sleep(self.sweep_seconds)

    async def sweep(self) -> int:
        """Enqueue stored orders older than the sweep interval whose start was never confirmed."""
        before = datetime.now(timezone.utc) - timedelta(seconds=self.sweep_seconds)
        try:
            found = await anyio.to_thread.run_sync(self._restart_inputs, before)
        except Exception:
            log.exception("sweep for orders without a workflow failed")
            return 0
        fresh = [item for item in found if item[0] not in self._pending]
        for order_id, workflow_id, workflow_input in fresh:
            log.info("order %s: starting the workflow of an order stored without one", order_id,
                     extra={"order_id": order_id, "workflow_id": workflow_id})
            self.enqueue(order_id, workflow_id, workflow_input)
        return len(fresh)
