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
``intake_backlog`` of them wait; beyond that intake refuses them as
unavailable (``BacklogFull``) and the caller retries (back-pressure instead
of unbounded memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import update
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from engine.definitions import parse_published
from engine.flows import Flow
from oms.db import get_read_engine, session_scope
from oms.models import DefinitionVersion, Order
from oms.settings import get_settings
from services.definitions.live import LiveDefinitions, live_definitions
from services.definitions.publishing import ref
from services.errors import Unavailable
from workflows.contracts import DefinitionRef, OrderInput

log = logging.getLogger("services.orders.outbox")

# How many starts are in flight towards Temporal at once.
CONCURRENCY = 32
# Marks are written in batches: one UPDATE for up to this many orders.
MARK_BATCH = 500


async def start_workflow(client: Client, workflow_id: str, workflow_input: OrderInput) -> None:
    """Start the order's workflow; an existing one (running or ended) counts as started."""
    # Raised only for a retry of an order whose workflow already ran to its end.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            "OrderFlow",
            workflow_input,
            id=workflow_id,
            task_queue=get_settings().task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )


def pinned_rules(live: LiveDefinitions, flow: Flow) -> dict[str, DefinitionRef]:
    """The rule-set versions a flow's audit steps will use, pinned now."""
    return {name: ref(live.require("rules", name)) for name in flow.rule_sets}


def rules_of(pins: list[DefinitionRef]) -> dict[str, DefinitionRef]:
    """The rule sets of a pin set, by name: what the workflow's audit steps look up."""
    return {pin.name: pin for pin in pins if pin.kind == "rules"}


def stored_order_input(session: Session, live: LiveDefinitions, order: Order) -> OrderInput | None:
    """For an order whose workflow start was never confirmed, the input to start it again.

    An order whose first start never reached Temporal (a crash between the
    insert and the start) would otherwise wait forever; starting again is safe
    because an existing workflow is reused.
    """
    if order.workflow_started:
        return None
    return order_input(session, live, order)


def order_input(session: Session, live: LiveDefinitions, order: Order) -> OrderInput:
    """The input to start an order's workflow with: the definitions pinned at intake (an order taken before
    pinning: the flow version it was taken on, the rule sets live now)."""
    if order.pins:
        pins = [DefinitionRef(**pin) for pin in order.pins]
        flow = next(pin for pin in pins if pin.kind == "flow")
        return OrderInput(
            order_id=order.id,
            order=order.document,
            flow=flow,
            flow_text=_body(session, flow),
            rules=rules_of(pins),
            status_push_seconds=_push_seconds(live, order.channel),
            pins=pins,
        )
    flow_row = session.exec(
        select(DefinitionVersion).where(
            DefinitionVersion.kind == "flow",
            DefinitionVersion.name == order.flow_name,
            DefinitionVersion.version == order.flow_version,
        )
    ).one()
    return OrderInput(
        order_id=order.id,
        order=order.document,
        flow=ref(flow_row),
        flow_text=flow_row.body,
        rules=pinned_rules(live, parse_published(flow_row.body)),
        status_push_seconds=_push_seconds(live, order.channel),
    )


def _body(session: Session, pin: DefinitionRef) -> str:
    return session.exec(
        select(DefinitionVersion.body).where(
            DefinitionVersion.kind == pin.kind,
            DefinitionVersion.name == pin.name,
            DefinitionVersion.version == pin.version,
        )
    ).one()


def _push_seconds(live: LiveDefinitions, channel: str) -> float:
    origin = live.require("channel", channel).model
    return origin.callback_expiry_seconds if origin.callback_url else 0


def restart_inputs(before: datetime, limit: int = 1000) -> list[tuple[str, str, OrderInput]]:
    """(order id, workflow id, input) of orders stored before ``before`` whose start was never confirmed."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        live = live_definitions(session)
        orders = session.exec(
            select(Order)
            .where(Order.workflow_started == False, Order.created_at < before)  # noqa: E712
            .order_by(col(Order.created_at))
            .limit(limit)
        ).all()
        return [(order.id, order.workflow_id, order_input(session, live, order)) for order in orders]


def mark_started(order_ids: list[str]) -> None:
    with session_scope() as session:
        session.execute(update(Order).where(col(Order.id).in_(order_ids)).values(workflow_started=True))


class BacklogFull(Unavailable):
    """Too many accepted orders wait for their workflow start; try again shortly."""

    def __init__(self, message: str):
        super().__init__("backlog_full", message, retryable=True)


class WorkflowStarter:
    """Background starts of stored orders' workflows, with retries, marks and a sweep."""

    def __init__(
        self,
        client: Client,
        backlog: int | None = None,
        sweep_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self.client = client
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

    async def drain(self) -> None:
        """Wait until every enqueued order has started and is marked (bound it with the caller's ``fail_after``)."""
        await self._idle.wait()

    # -- the background tasks ----------------------------------------------------------------

    async def __aenter__(self) -> WorkflowStarter:
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
                log.warning(
                    "order %s: workflow start failed (attempt %d), retrying in %.1fs: %s",
                    order_id,
                    attempt + 1,
                    delay,
                    exc,
                    extra={"order_id": order_id, "workflow_id": workflow_id},
                )
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
            await self.reconcile()
            await asyncio.sleep(self.sweep_seconds)

    async def reconcile(self) -> int:
        """Orders and returns whose workflow was terminated: ``failed``, with a repair task."""
        # Imported here: the repair reaches the stock and returns services, which reach intake.
        from services.orders.repair import reconcile

        try:
            return await reconcile(self.client)
        except Exception:
            log.exception("looking for terminated workflows failed")
            return 0

    async def sweep(self) -> int:
        """Enqueue stored orders older than the sweep interval whose start was never confirmed."""
        before = datetime.now(UTC) - timedelta(seconds=self.sweep_seconds)
        try:
            found = await anyio.to_thread.run_sync(restart_inputs, before)
        except Exception:
            log.exception("sweep for orders without a workflow failed")
            return 0
        fresh = [item for item in found if item[0] not in self._pending]
        for order_id, workflow_id, workflow_input in fresh:
            log.info(
                "order %s: starting the workflow of an order stored without one",
                order_id,
                extra={"order_id": order_id, "workflow_id": workflow_id},
            )
            self.enqueue(order_id, workflow_id, workflow_input)
        return len(fresh)
