"""Order intake: validate against the flow's form, store once, start the workflow once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from temporalio.client import Client

from engine.channels import Channel
from engine.definitions import compile_text
from engine.forms import FieldError, FormValidator
from oms import metrics
from oms.db import get_read_engine, session_scope
from oms.models import DefinitionVersion, Order, Sku
from services.definitions.live import LiveDefinitions, live_definitions
from services.definitions.publishing import ref
from services.orders.outbox import (
    BacklogFull,
    WorkflowStarter,
    mark_started,
    start_workflow,
)
from workflows.contracts import DefinitionRef, OrderInput

_VALIDATORS: dict[str, FormValidator] = {}


class IntakeRejected(ValueError):
    """The order is invalid; ``errors`` name each bad field."""

    def __init__(self, errors: list[FieldError], status_code: int = 422):
        self.errors = errors
        self.status_code = status_code
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class IntakeUnavailable(RuntimeError):
    """The order could not be started; nothing was stored."""


@dataclass(frozen=True)
class Accepted:
    order_id: str
    status: str
    created: bool


def order_id_for(channel: str, external_id: str) -> str:
    return "ord_" + hashlib.sha256(f"{channel}\x00{external_id}".encode()).hexdigest()[:16]


def workflow_id_for(channel: str, external_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", external_id)
    return f"order-{channel}-{safe}-{order_id_for(channel, external_id)[4:12]}"


def address_key(address: dict[str, Any]) -> str:
    parts = [str(address.get(k, "")).strip().lower() for k in ("street", "postal_code", "city", "country")]
    return hashlib.sha256("|".join(re.sub(r"\s+", " ", p) for p in parts).encode()).hexdigest()[:32]


def normalized_phone(phone: str | None) -> str | None:
    digits = re.sub(r"[^0-9+]", "", phone or "")
    return digits or None


def _validator(body: str, sha256: str) -> FormValidator:
    validator = _VALIDATORS.get(sha256)
    if validator is None:
        validator = _VALIDATORS[sha256] = FormValidator(compile_text(body))
    return validator


@dataclass(frozen=True)
class Prepared:
    order: Order | None  # None when the order exists already
    existing: Order | None
    workflow_input: OrderInput | None


def _channel(live: LiveDefinitions, payload: dict) -> Channel:
    """The order's channel; an unknown channel is refused."""
    name = payload.get("channel")
    if not isinstance(name, str) or not name:
        raise IntakeRejected([FieldError("channel", "Channel is required")])
    row = live.get("channel", name)
    if row is None:
        known = ", ".join(live.names("channel"))
        raise IntakeRejected([FieldError("channel", f"unknown channel {name!r}; channels are: {known}")])
    return row.model


def _existing(session: Session, channel: str, external_id: Any) -> Order | None:
    if external_id is None or not str(external_id).strip():
        return None
    return session.exec(
        select(Order).where(Order.channel == channel, Order.external_id == str(external_id).strip())
    ).first()


def _pinned_rules(live: LiveDefinitions, flow: Any) -> dict[str, DefinitionRef]:
    return {name: ref(live.get("rules", name)) for name in flow.rule_sets}


def _restart_input(session: Session, live: LiveDefinitions, order: Order) -> OrderInput | None:
    """For an order whose workflow start was never confirmed, the input to start it again.

    An order whose first start never reached Temporal (a crash between the
    insert and the start) would otherwise wait forever; starting again is safe
    because an existing workflow is reused.
    """
    if order.workflow_started:
        return None
    flow_row = session.exec(
        select(DefinitionVersion).where(
            DefinitionVersion.kind == "flow", DefinitionVersion.name == order.flow_name,
            DefinitionVersion.version == order.flow_version,
        )
    ).one()
    origin = live.get("channel", order.channel).model
    return OrderInput(
        order_id=order.id, order=order.document, flow=ref(flow_row), flow_text=flow_row.body,
        rules=_pinned_rules(live, compile_text(flow_row.body)),
        status_push_seconds=origin.callback_expiry_seconds if origin.callback_url else 0,
    )


def prepare(session: Session, payload: Any, flow_name: str | None) -> Prepared:
    """Validate and build the order row and the workflow input; raises IntakeRejected."""
    if not isinstance(payload, dict):
        raise IntakeRejected([FieldError("", "The order must be a JSON object")])
    live = live_definitions(session)
    origin = _channel(live, payload)
    # A retry is recognised before validation: a stricter form published since
    # must not turn an order we have into a rejected one.
    looked_up = payload.get("external_id")
    existing = _existing(session, origin.name, looked_up)
    if existing is not None:
        return Prepared(None, existing, _restart_input(session, live, existing))
    flow_name = flow_name or origin.flow
    flow_row = live.get("flow", flow_name)
    if flow_row is None:
        raise IntakeRejected([FieldError("flow", f"unknown flow {flow_name!r}")])
    flow = flow_row.model
    form_row = live.get("form", flow.form)
    document, errors = _validator(form_row.body, form_row.sha256).validate(payload)
    if errors:
        raise IntakeRejected(errors)
    channel, external_id = str(document["channel"]), str(document["external_id"])
    if (channel, external_id) != (origin.name, str(looked_up).strip()):
        # The form normalised the key: look again under the normalised one.
        existing = _existing(session, channel, external_id)
        if existing is not None:
            return Prepared(None, existing, _restart_input(session, live, existing))
    skus = {line["sku"] for line in document["lines"]}
    known = set(session.exec(select(Sku.sku).where(Sku.sku.in_(skus))).all())
    unknown = [
        FieldError(f"lines[{i}].sku", f"Line {i + 1}: unknown SKU {line['sku']!r}")
        for i, line in enumerate(document["lines"])
        if line["sku"] not in known
    ]
    if unknown:
        raise IntakeRejected(unknown)
    total = round(sum(float(l["qty"]) * float(l["price"]) for l in document["lines"]), 2)
    order_id = order_id_for(channel, external_id)
    document = {**document, "id": order_id, "total": total}
    rules = _pinned_rules(live, flow)
    customer = document.get("customer") or {}
    order = Order(
        id=order_id,
        channel=channel,
        external_id=external_id,
        workflow_id=workflow_id_for(channel, external_id),
        flow_name=flow_row.name,
        flow_version=flow_row.version,
        customer_id=customer.get("id") or None,
        customer_type=customer.get("type") or "consumer",
        address_key=address_key(document.get("shipping_address") or {}),
        client_ip=document.get("client_ip") or None,
        phone=normalized_phone(customer.get("phone")),
        total=total,
        document=document,
    )
    inp = OrderInput(
        order_id=order_id, order=document, flow=ref(flow_row), flow_text=flow_row.body, rules=rules,
        status_push_seconds=origin.callback_expiry_seconds if origin.callback_url else 0,
    )
    return Prepared(order, None, inp)


def _store(payload: Any, flow_name: str | None) -> tuple[Order, bool, OrderInput | None]:
    """Insert the order: (order, created, the input to start its workflow with, if any).

    Validation only reads, so it runs outside the write transaction: on SQLite
    the write lock is held just for the insert. A concurrent duplicate that
    wins the insert is returned as the existing order.
    """
    with Session(get_read_engine(), expire_on_commit=False) as session:
        prepared = prepare(session, payload, flow_name)
    if prepared.existing is not None:
        return prepared.existing, False, prepared.workflow_input
    try:
        with session_scope() as session:
            session.add(prepared.order)
        return prepared.order, True, prepared.workflow_input
    except IntegrityError:
        with Session(get_read_engine(), expire_on_commit=False) as session:
            return _existing(session, prepared.order.channel, prepared.order.external_id), False, None


def _forget(order_id: str) -> None:
    with session_scope() as session:
        order = session.get(Order, order_id)
        if order is not None:
            session.delete(order)


def restart_inputs(before: datetime, limit: int = 1000) -> list[tuple[str, str, OrderInput]]:
    """(order id, workflow id, input) of orders stored before ``before`` whose start was never confirmed."""
    with Session(get_read_engine(), expire_on_commit=False) as session:
        live = live_definitions(session)
        orders = session.exec(
            select(Order)
            .where(Order.workflow_started == False, Order.created_at < before)  # noqa: E712
            .order_by(Order.created_at)
            .limit(limit)
        ).all()
        return [(order.id, order.workflow_id, _restart_input(session, live, order)) for order in orders]


async def submit_order(
    client: Client, payload: Any, flow_name: str | None = None, starter: WorkflowStarter | None = None
) -> Accepted:
    """Idempotent on (channel, external_id): the same order twice gives the same id.

    The flow is ``flow_name`` if given, else the one the order's channel runs.
    With a ``starter`` (the web app) the answer comes once the order is stored
    and the workflow starts in the background (see ``services.orders.outbox``); without
    one (the importer) the workflow has started when this returns, and an
    order whose start fails is removed again.
    """
    channel = str(payload.get("channel", "")) if isinstance(payload, dict) else ""
    with metrics.INTAKE_SECONDS.time():
        try:
            accepted = await _submit(client, payload, flow_name, starter)
        except IntakeRejected:
            metrics.INTAKE_ORDERS.labels(channel, "rejected").inc()
            raise
        except IntakeUnavailable:
            metrics.INTAKE_ORDERS.labels(channel, "busy").inc()
            raise
    metrics.INTAKE_ORDERS.labels(channel, "created" if accepted.created else "existing").inc()
    return accepted


async def _submit(client: Client, payload: Any, flow_name: str | None, starter: WorkflowStarter | None) -> Accepted:
    if starter is not None:
        try:
            starter.check_room()
        except BacklogFull as exc:
            raise IntakeUnavailable(str(exc)) from exc
    order, created, workflow_input = await anyio.to_thread.run_sync(_store, payload, flow_name)
    if workflow_input is None:
        return Accepted(order.id, order.status, created=False)
    if starter is not None:
        starter.enqueue(order.id, order.workflow_id, workflow_input)
        return Accepted(order.id, order.status, created=created)
    try:
        await start_workflow(client, order.workflow_id, workflow_input)
        await anyio.to_thread.run_sync(mark_started, [order.id])
    except BaseException as exc:
        if created:
            # Nothing half-written: without its workflow the order must not exist.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_forget, order.id)
        if isinstance(exc, Exception):
            raise IntakeUnavailable(f"the order could not be started: {exc}") from exc
        raise
    return Accepted(order.id, order.status, created=created)
