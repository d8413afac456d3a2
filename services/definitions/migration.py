"""Moving the waiting orders and returns of one flow version to another (issue 15).

``select`` reads the instances from the read model (orders and returns of the
flow at the source version, not closed, optionally of some statuses) with the
step each one waits at, taken from its timeline as the return's parcel wait is
(``services/returns/parcels.py``). ``preview`` applies the pure plan
(``engine.migration``) to them: how many move, to which step, which stay and
why. ``migrate`` sends each movable one the workflow's Update ``migrate``
(``workflows/moving.py``) in bounded batches; the workflow's validator has the
last word, so an instance that left its wait meanwhile is reported as staying.
Moving is idempotent: a moved instance runs the target version, so it is no
longer selected, and the Update answers "already on vN" for it anyway.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from engine.definitions import parse_published
from engine.flows import ActivityStep, ApprovalStep, EndStep, Flow, HttpStep, Step, WaitStep
from engine.migration import MigrationPlan, StepPlan, plan_migration
from engine.pins import definitions_used
from oms.db import get_read_engine
from oms.models import Order, OrderEvent, Return, ReturnEvent
from services.definitions.live import live_definitions
from services.definitions.publishing import ref, version_of
from services.errors import Invalid, NotFound
from services.orders.repair import FINAL_STATUSES, OUTSIDE_SEQ
from workflows.contracts import DefinitionRef, MigrateRequest, MigrateResult, MigrationCursor

FILTERS = ("status",)
DEFAULT_BATCH = 100
DEFAULT_CONCURRENCY = 16


class MigrationRefused(Invalid):
    """The versions or the filter do not make a migration (unknown version, another flow, a bad filter)."""


class VersionUnknown(NotFound):
    """No such published version of the flow."""


@dataclass(frozen=True)
class Instance:
    """A waiting order or return of the source version, as the read model has it."""

    kind: str  # order | return
    id: str
    workflow_id: str
    status: str
    step: str | None  # the step it waits at (None: it is not waiting)
    since: datetime | None  # when it began to wait there
    pins: list[dict[str, Any]]


@dataclass(frozen=True)
class InstancePlan:
    """What the plan does with one instance: move to ``target`` (and when its wait ends), or stay and why."""

    kind: str
    id: str
    status: str
    step: str | None
    movable: bool
    target: str | None = None
    deadline: str | None = None  # ISO time the moved wait times out (a wait step only)
    reason: str = ""


@dataclass(frozen=True)
class Preview:
    flow: str
    source: int
    target: int
    rows: tuple[InstancePlan, ...]

    @property
    def movable(self) -> int:
        return sum(1 for row in self.rows if row.movable)

    @property
    def blocked(self) -> int:
        return len(self.rows) - self.movable

    def counts(self) -> dict[str, Any]:
        """Counts by outcome: movable per (step -> target), staying per reason."""
        moves = Counter(f"{row.step} -> {row.target}" for row in self.rows if row.movable)
        stays = Counter(row.reason for row in self.rows if not row.movable)
        return {"movable": self.movable, "blocked": self.blocked, "moves": dict(moves), "stays": dict(stays)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "from": self.source,
            "to": self.target,
            **self.counts(),
            "instances": [asdict(row) for row in self.rows],
        }


@dataclass(frozen=True)
class Moved:
    """How one instance came out of the migration."""

    kind: str
    id: str
    outcome: str  # moved | already | stayed | failed
    step: str | None = None
    target: str | None = None
    reason: str = ""


@dataclass
class Summary:
    moved: int = 0
    already: int = 0
    stayed: int = 0
    failed: int = 0
    rows: list[Moved] = field(default_factory=list)

    def add(self, result: Moved) -> None:
        setattr(self, result.outcome, getattr(self, result.outcome) + 1)
        self.rows.append(result)

    @property
    def line(self) -> str:
        return f"moved {self.moved}, already moved {self.already}, stayed {self.stayed}, failed {self.failed}"


@dataclass(frozen=True)
class Versions:
    """The source and target flow versions, compiled, with what the Update needs."""

    name: str
    source: Flow
    source_version: int
    target: Flow
    target_ref: DefinitionRef
    target_text: str
    plan: MigrationPlan


# ---- selection -----------------------------------------------------------------------------


def parse_where(where: Iterable[str]) -> dict[str, list[str]]:
    """``status=a,b`` (repeatable) into {"status": ["a", "b"]}; raises MigrationRefused for anything else."""
    parsed: dict[str, list[str]] = {}
    for clause in where:
        key, sep, value = clause.partition("=")
        key = key.strip()
        if not sep or key not in FILTERS or not value.strip():
            raise MigrationRefused(
                "bad_filter", f"filter {clause!r}: expected {' or '.join(f'{k}=VALUE[,VALUE]' for k in FILTERS)}"
            )
        parsed.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
    return parsed


def versions(session: Session, name: str, source: int, target: int) -> Versions:
    """Both versions of flow ``name``, compiled, and the plan between them."""
    if source == target:
        raise MigrationRefused("same_version", f"flow {name} v{source} is already the target")
    rows = {}
    for number in (source, target):
        row = version_of(session, "flow", name, number)
        if row is None:
            raise VersionUnknown("version_not_found", f"flow {name} has no version {number}")
        rows[number] = row
    old, new = parse_published(rows[source].body), parse_published(rows[target].body)
    assert isinstance(old, Flow) and isinstance(new, Flow)
    return Versions(name, old, source, new, ref(rows[target]), rows[target].body, plan_migration(old, new))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def waiting_step(flow: Flow, last_step: str | None) -> str | None:
    """The step an instance whose last workflow line names ``last_step`` is at: an activity (or http step) whose
    next step is a wait or an approval (a wait without a status writes no line of its own) stands for that step."""
    step: Step | None = flow.steps.get(last_step or "")
    if isinstance(step, (ActivityStep, HttpStep)):
        following = flow.steps.get(step.next or "")
        if isinstance(following, (WaitStep, ApprovalStep)):
            return following.id
    return step.id if step is not None else None


def _last_lines(session: Session, kind: str, ids: Sequence[str]) -> dict[str, tuple[str | None, datetime]]:
    """The last line each instance's workflow wrote (its step and time)."""
    event: Any = OrderEvent if kind == "order" else ReturnEvent
    owner = col(event.order_id) if kind == "order" else col(event.return_id)
    last: dict[str, tuple[int, str | None, datetime]] = {}
    for chunk in range(0, len(ids), 500):
        lines = session.exec(
            select(owner, event.seq, event.step, event.at).where(
                owner.in_(ids[chunk : chunk + 500]), col(event.seq) < OUTSIDE_SEQ
            )
        ).all()
        for owner_id, seq, step, at in lines:
            if owner_id not in last or seq > last[owner_id][0]:
                last[owner_id] = (seq, step, _aware(at))
    return {owner_id: (step, at) for owner_id, (_, step, at) in last.items()}


def select_instances(
    session: Session,
    flow: Flow,
    name: str,
    version: int,
    where: dict[str, list[str]],
    after: MigrationCursor | None = None,
    limit: int | None = None,
) -> list[Instance]:
    """Orders and returns of flow ``name`` v``version`` whose flow has not ended, oldest first; with ``after``,
    the next ``limit`` of them after that keyset position (orders, then returns, by id)."""
    found: list[Instance] = []
    ended = {
        *FINAL_STATUSES,
        *(step.status for step in flow.steps.values() if isinstance(step, EndStep) and step.status),
    }
    order_query: Any = select(Order).where(Order.flow_name == name, Order.flow_version == version)
    return_query: Any = select(Return).where(
        Return.flow_name == name, Return.flow_version == version, col(Return.closed_at).is_(None)
    )
    for kind, model, query in (("order", Order, order_query), ("return", Return, return_query)):
        query = query.where(col(model.status).not_in(ended))
        if where.get("status"):
            query = query.where(col(model.status).in_(where["status"]))
        if after is None:
            query = query.order_by(col(model.created_at), col(model.id))
        elif after.kind == "return" and kind == "order":
            continue
        else:
            if after.kind == kind and after.id:
                query = query.where(col(model.id) > after.id)
            query = query.order_by(col(model.id))
        if limit is not None:
            query = query.limit(limit - len(found))
        rows = session.exec(query).all()
        last = _last_lines(session, kind, [row.id for row in rows])
        for row in rows:
            step, since = last.get(row.id, (None, None))
            found.append(
                Instance(kind, row.id, row.workflow_id, row.status, waiting_step(flow, step), since, list(row.pins))
            )
        if limit is not None and len(found) >= limit:
            break
    return found


# ---- the plan over the instances ----------------------------------------------------------------


def instance_plan(v: Versions, instance: Instance, now: datetime) -> InstancePlan:
    """The plan's answer for one instance; its deadline on the target when it moves out of a wait."""
    base: dict[str, Any] = {"kind": instance.kind, "id": instance.id, "status": instance.status, "step": instance.step}
    if instance.step is None:
        return InstancePlan(**base, movable=False, reason="not waiting: its flow has not reached a step yet")
    plan: StepPlan | None = v.plan.step(instance.step)
    if plan is None:
        return InstancePlan(**base, movable=False, reason=f"unknown step {instance.step!r}")
    if not plan.movable:
        return InstancePlan(**base, movable=False, target=plan.target, reason=plan.reason)
    deadline = None
    source_step, target_step = v.source.steps[plan.source], v.target.steps[plan.target or plan.source]
    if isinstance(source_step, WaitStep) and isinstance(target_step, WaitStep):
        if plan.timers == "restart":
            deadline = now + timedelta(seconds=target_step.timeout_seconds)
        elif instance.since is not None:
            deadline = instance.since + timedelta(seconds=source_step.timeout_seconds)
    return InstancePlan(
        **base,
        movable=True,
        target=plan.target,
        deadline=deadline.isoformat() if deadline else None,
        reason="; ".join(plan.notes),
    )


def preview(
    name: str, source: int, target: int, where: dict[str, list[str]] | None = None, now: datetime | None = None
) -> Preview:
    """What moving flow ``name`` from v``source`` to v``target`` would do to each selected instance; moves nothing."""
    with Session(get_read_engine()) as session:
        v = versions(session, name, source, target)
        instances = select_instances(session, v.source, name, source, where or {})
    at = now or datetime.now(UTC)
    return Preview(name, source, target, tuple(instance_plan(v, i, at) for i in instances))


# ---- the move ------------------------------------------------------------------------------------


def moved_pins(instance_pins: list[dict[str, Any]], target: Flow, target_ref: DefinitionRef, live: Any) -> list:
    """The instance's pin set on the target: the flow swapped, every definition the target uses that the
    source did not pinned at its live version; the rest (channel, templates, ...) as pinned. An instance
    taken before pinning keeps its empty set (it reads the live versions, as it always did)."""
    if not instance_pins:
        return []
    pins = [DefinitionRef(**pin) for pin in instance_pins if pin["kind"] != "flow"]
    have = {(pin.kind, pin.name) for pin in pins}
    for kind, name in definitions_used(target)[1:]:
        row = live.get(kind, name)
        if (kind, name) not in have and row is not None:
            pins.append(ref(row))
            have.add((kind, name))
    return [target_ref, *pins]


def request_for(
    session: Session, v: Versions, instance: Instance, by: str, migration_id: str, live: Any = None
) -> MigrateRequest:
    """The Update ``migrate`` for one instance."""
    live = live if live is not None else live_definitions(session)
    pins = moved_pins(instance.pins, v.target, v.target_ref, live)
    if pins:
        rules = {pin.name: pin for pin in pins if pin.kind == "rules"}
    else:
        rules = {name: ref(row) for name in v.target.rule_sets if (row := live.get("rules", name)) is not None}
    return MigrateRequest(
        flow=v.target_ref, flow_text=v.target_text, pins=pins, rules=rules, by=by, migration_id=migration_id
    )


async def move_one(client: Client, request: MigrateRequest, instance: Instance) -> Moved:
    """Send the Update; a refusal (not waiting, not movable) or an ended flow is a stay, not a failure."""
    handle = client.get_workflow_handle(instance.workflow_id)
    update_id = f"migrate-{request.migration_id}-{request.flow.version}"
    try:
        result = await handle.execute_update("migrate", request, id=update_id, result_type=MigrateResult)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
        return Moved(instance.kind, instance.id, "stayed", instance.step, reason=reason)
    except RPCError as exc:
        description = await _describe(client, instance.workflow_id)
        if description is not None and description != "RUNNING":
            return Moved(
                instance.kind, instance.id, "stayed", instance.step, reason=f"its flow has ended ({description})"
            )
        return Moved(instance.kind, instance.id, "failed", instance.step, reason=exc.message)
    if not result.moved:
        return Moved(instance.kind, instance.id, "already", result.step, reason=result.reason)
    return Moved(instance.kind, instance.id, "moved", result.step, result.target_step)


async def _describe(client: Client, workflow_id: str) -> str | None:
    try:
        status = (await client.get_workflow_handle(workflow_id).describe()).status
    except RPCError:
        return None
    return status.name if status is not None else None


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[start : start + size] for start in range(0, len(items), max(1, size))]


async def migrate(
    client: Client,
    name: str,
    source: int,
    target: int,
    by: str,
    migration_id: str,
    where: dict[str, list[str]] | None = None,
    batch_size: int = DEFAULT_BATCH,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[Moved, Summary], None] | None = None,
    on_selected: Callable[[int], None] | None = None,
) -> Summary:
    """Move the selected instances the plan allows, ``concurrency`` Updates at a time, batch by batch.

    Instances the plan blocks stay without being asked. Running it again moves nothing twice.
    """
    with Session(get_read_engine()) as session:
        v = versions(session, name, source, target)
        instances = select_instances(session, v.source, name, source, where or {})
        live = live_definitions(session)
        now = datetime.now(UTC)
        planned = [(instance, instance_plan(v, instance, now)) for instance in instances]
        requests = {
            instance.id: request_for(session, v, instance, by, migration_id, live)
            for instance, plan in planned
            if plan.movable
        }
    if on_selected is not None:
        on_selected(len(planned))
    summary = Summary()
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(instance: Instance, plan: InstancePlan) -> Moved:
        if not plan.movable:
            return Moved(instance.kind, instance.id, "stayed", instance.step, reason=plan.reason)
        async with gate:
            return await move_one(client, requests[instance.id], instance)

    for batch in batches(planned, batch_size):
        for result in await asyncio.gather(*(one(instance, plan) for instance, plan in batch)):
            summary.add(result)
            if on_done is not None:
                on_done(result, summary)
    return summary
