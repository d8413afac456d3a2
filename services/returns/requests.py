"""Return requests: validate by the return flow's form, store once within what is left, start the workflow.

Returned quantity never exceeds delivered minus already returned, whatever
the concurrency: the check and the insert run in one transaction holding the
order's row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write
transactions begin IMMEDIATE and queue), so two requests for the last item
of a line cannot both pass.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import anyio
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from engine.definitions import parse_published
from engine.forms import FieldError, FormValidator
from engine.lru import Lru
from engine.returns import over_returned, resolve_lines
from oms.auth import Principal
from oms.db import get_read_engine, session_scope
from oms.models import Order, Return, ReturnLine, Sku, Task
from oms.settings import get_settings
from services import analytics, scopes
from services.definitions.live import live_definitions
from services.definitions.pinned import pin_set
from services.definitions.publishing import ref
from services.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from services.orders import decisions
from services.orders.decisions import Actor, FlowUnreachable, TaskTaken, UnknownTask, refused_by_flow
from services.orders.repair import CLOSED_STEP
from services.orders.search import AmbiguousOrder, resolve_order
from services.returns.steps import DELIVERED_STATUSES, counted_elsewhere
from workflows.contracts import DecisionAccepted, DefinitionRef, ReturnDecision, ReturnInput

DEFAULT_FLOW = "return"
_VALIDATORS: Lru[str, FormValidator] = Lru(256)  # by form hash: bounded


class ReturnRefused(DomainError):
    """A request that cannot be taken: ``errors`` (also the ``details``) name each bad field; nothing was stored."""

    def __init__(self, errors: list[FieldError], code: str = "return_invalid"):
        super().__init__(code, "invalid return request", details=list(errors))
        self.errors: list[FieldError] = self.details

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)


class ReturnInvalid(ReturnRefused, Invalid):
    """The request breaks the return form or names lines, SKUs or a flow that do not exist."""


class ReturnOrderAmbiguous(ReturnInvalid):
    """An external id several channels' orders have, given without the channel: ``matches`` are their
    (channel, order id)."""

    def __init__(self, errors: list[FieldError], matches: tuple[tuple[str, str], ...]):
        super().__init__(errors, "order_ambiguous")
        self.matches = matches


class ReturnOrderUnknown(ReturnRefused, NotFound):
    """No order has the id the request names."""


class ReturnNotAllowed(ReturnRefused, Conflict):
    """The order is not delivered, or more would come back than is left to return."""


class ReturnUnavailable(Unavailable):
    """The return's workflow could not be started; nothing was stored. Trying again can work."""

    def __init__(self, message: str):
        super().__init__("return_unavailable", message, retryable=True)


@dataclass(frozen=True)
class Requested:
    return_id: str
    status: str
    workflow_id: str
    workflow_input: ReturnInput


def _validator(body: str, sha256: str) -> FormValidator:
    validator = _VALIDATORS.get(sha256)
    if validator is None:
        validator = _VALIDATORS.put(sha256, FormValidator(parse_published(body)))
    return validator


def _photos_as_rows(payload: dict) -> dict:
    """Photos may come as plain links; the form describes them as rows with a url."""
    photos = payload.get("photos")
    if isinstance(photos, list):
        payload = {**payload, "photos": [{"url": p} if isinstance(p, str) else p for p in photos]}
    return payload


def _validated(session: Session, payload: Any, flow_name: str) -> tuple[dict, Any, Any, dict, list[DefinitionRef]]:
    if not isinstance(payload, dict):
        raise ReturnInvalid([FieldError("", "The return request must be a JSON object")])
    live = live_definitions(session)
    flow_row = live.get("flow", flow_name)
    if flow_row is None:
        raise ReturnInvalid([FieldError("flow", f"unknown flow {flow_name!r}")])
    flow = flow_row.model
    form_row = live.require("form", flow.form)
    document, errors = _validator(form_row.body, form_row.sha256).validate(_photos_as_rows(payload))
    if errors:
        raise ReturnInvalid(errors)
    rules = {name: ref(live.require("rules", name)) for name in flow.rule_sets}
    return document, flow_row, flow, rules, pin_set(live, flow)


def find_order(session: Session, wanted: str, caller: Principal | None = None, channel: str = "") -> Order | None:
    """The order ``wanted`` names: its internal id (``ord_…``) or the channel's external id, resolved as the
    order page and the search box do (``services.orders.search.resolve_order``).

    An external id several channels share, given without ``channel``, is refused
    naming each match; an order outside the caller's scope counts as none.
    """
    try:
        return resolve_order(session, caller, wanted, channel)
    except AmbiguousOrder as exc:
        raise ReturnOrderAmbiguous([FieldError("order_id", exc.message)], exc.matches) from None


def _channel_named(document: dict) -> str:
    """The optional ``channel`` beside an external id in ``order_id``: which channel's order it is."""
    channel = document.get("channel")
    if channel is None:
        return ""
    if not isinstance(channel, str) or len(channel) > 64:
        raise ReturnInvalid([FieldError("channel", "channel must be a channel's name (text)")])
    return channel


def _store(
    payload: Any, flow_name: str, user: str, start: Callable[[ReturnInput, str], None], caller: Principal | None = None
) -> Requested:
    """Validate, check what is left and insert in one transaction; ``start`` the workflow before it commits.

    A start that fails rolls the insert back; a crash after the start and before
    the commit leaves a workflow that finds no return and ends without acting
    (see ``await_return_stored``). Either way no return waits without a workflow.
    """
    with Session(get_read_engine(), expire_on_commit=False) as session:
        document, flow_row, _flow, rules, pins = _validated(session, payload, flow_name)
        # The external id works as well as the internal one; the return names the internal one.
        channel = _channel_named(document)
        if (named := find_order(session, str(document["order_id"]), caller, channel)) is not None:
            document["order_id"] = named.id
        elif channel:
            where = f"no order {document['order_id']!r} in channel {channel!r}"
            raise ReturnOrderUnknown([FieldError("order_id", where)], "order_not_found")
        if document.get("kind") == "exchange" and session.get(Sku, document["replacement_sku"]) is None:
            raise ReturnInvalid([FieldError("replacement_sku", f"unknown SKU {document['replacement_sku']!r}")])
    return_id = "ret_" + uuid.uuid4().hex[:16]
    with session_scope() as session:
        order = session.exec(select(Order).where(Order.id == document["order_id"]).with_for_update()).first()
        # An order outside the caller's scope answers as one that does not exist.
        if order is None or (caller is not None and not scopes.sees_order(session, caller, order)):
            raise ReturnOrderUnknown([FieldError("order_id", f"no order {document['order_id']!r}")], "order_not_found")
        if order.status not in DELIVERED_STATUSES:
            raise ReturnNotAllowed(
                [FieldError("order_id", f"order {order.id} is {order.status}; only a delivered order can be returned")],
                "order_not_delivered",
            )
        order_lines = order.document.get("lines") or []
        asked, problems = resolve_lines(order_lines, document["lines"])
        if problems:
            raise ReturnInvalid([FieldError(f, m) for f, m in problems])
        position = {item.line: index for index, item in enumerate(asked)}
        over = over_returned(order_lines, asked, counted_elsewhere(session, order.id))
        if over:
            raise ReturnNotAllowed(
                [FieldError(f"lines[{position[line]}].qty", message) for line, message in over], "over_returned"
            )
        lines = []
        for item in asked:
            source = order_lines[item.line - 1]
            lines.append(
                ReturnLine(
                    return_id=return_id,
                    line_no=item.line,
                    order_id=order.id,
                    sku=source["sku"],
                    qty=item.qty,
                    price=float(source.get("price") or 0),
                    counted=item.qty,
                )
            )
        value = round(sum(line.qty * line.price for line in lines), 2)
        ret = Return(
            id=return_id,
            order_id=order.id,
            workflow_id=f"return-{return_id}",
            kind=document.get("kind", "refund"),
            reason=document["reason"],
            comment=document.get("comment") or "",
            replacement_sku=document.get("replacement_sku"),
            photos=[p["url"] for p in document.get("photos") or []],
            flow_name=flow_row.name,
            flow_version=flow_row.version,
            value=value,
            created_by=user,
            pins=[asdict(pin) for pin in pins],
        )
        session.add(ret)
        session.flush()
        for line in lines:
            session.add(line)
        analytics.observe_return(
            session, order, ret.reason, [{"sku": line.sku, "qty": line.qty, "price": line.price} for line in lines]
        )
        request = {
            "id": return_id,
            "kind": ret.kind,
            "reason": ret.reason,
            "value": value,
            "replacement_sku": ret.replacement_sku,
            "lines": [{"line": line.line_no, "sku": line.sku, "qty": line.qty, "price": line.price} for line in lines],
        }
        inp = ReturnInput(
            return_id=return_id,
            order_id=order.id,
            request=request,
            order=order.document,
            flow=ref(flow_row),
            flow_text=flow_row.body,
            rules=rules,
            pins=pins,
        )
        session.flush()
        start(inp, ret.workflow_id)
        return Requested(return_id, ret.status, ret.workflow_id, inp)


async def request_return(
    client: Client, payload: Any, user: str, flow_name: str | None = None, caller: Principal | None = None
) -> Requested:
    """Store the return and start its workflow; raises ReturnRefused (an order outside ``caller``'s scope
    is unknown).

    Nothing is stored unless Temporal took the start.
    """

    async def _start(inp: ReturnInput, workflow_id: str) -> None:
        try:
            await client.start_workflow("ReturnFlow", inp, id=workflow_id, task_queue=get_settings().task_queue)
        except (RPCError, RuntimeError) as exc:  # Temporal unreachable or refusing: nothing is stored
            raise ReturnUnavailable(f"the return could not be started, try again: {exc}") from exc

    def start(inp: ReturnInput, workflow_id: str) -> None:
        anyio.from_thread.run(_start, inp, workflow_id)

    return await anyio.to_thread.run_sync(_store, payload, flow_name or DEFAULT_FLOW, user, start, caller)


def _open_task(return_id: str) -> Task:
    with Session(get_read_engine()) as session:
        if session.get(Return, return_id) is None:
            raise UnknownTask("return_not_found", f"no return {return_id!r}")
        task = session.exec(
            select(Task).where(Task.return_id == return_id, Task.status == "open").order_by(col(Task.created_at).desc())
        ).first()
    if task is None:
        raise TaskTaken("no_open_task", f"return {return_id} has no open task")
    return task


async def decide(
    client: Client, return_id: str, actor: Actor, decision: str, comment: str, qc: list[dict] | None = None
) -> DecisionAccepted:
    """Decide the return's open task (review: approve/reject; quality check: inspected with ``qc``).

    Raises a TaskRefused of its kind; the workflow's validator refuses a
    quality check that does not cover every returned item, and nothing is written then.
    """
    task = await anyio.to_thread.run_sync(_open_task, return_id)
    if task.step == CLOSED_STEP:  # the repair of a workflow that closed: no workflow is left to ask
        return await decisions.decide(client, task.id, actor, decision, comment)
    if task.claimed_by and task.claimed_by != actor.username:
        raise TaskTaken("task_claimed", f"task is claimed by {task.claimed_by}")
    update = ReturnDecision(
        task_id=task.id,
        decision=decision,
        user=actor.username,
        role=actor.acting_as(task.role),
        comment=comment,
        qc=list(qc or []),
    )
    try:
        return await client.get_workflow_handle(task.workflow_id).execute_update(
            "decide", update, result_type=DecisionAccepted
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            raise refused_by_flow(cause) from exc
        raise FlowUnreachable(f"the return's flow could not take the decision: {cause or exc}") from exc
    except RPCError as exc:
        raise TaskTaken("flow_ended", f"the return's flow no longer accepts decisions: {exc.message}") from exc
