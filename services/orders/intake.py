"""Order intake: validate against the flow's form, store once, start the workflow once."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any

import anyio
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client

from engine.channels import Channel
from engine.definitions import parse_published
from engine.forms import FieldError, FormValidator
from engine.lru import Lru
from engine.payments import DEFAULT_PAYMENTS
from oms import metrics
from oms.db import get_read_engine, session_scope
from oms.models import Order, OrderKey, Sku
from services.definitions.live import LiveDefinitions, live_definitions
from services.definitions.pinned import ORDER_DOCUMENTS, pin_set
from services.definitions.publishing import ref
from services.errors import Invalid, Unavailable
from services.orders.facts import PROMOTIONS, REGIONS
from services.orders.outbox import (
    BacklogFull,
    WorkflowStarter,
    mark_started,
    rules_of,
    start_workflow,
    stored_order_input,
)
from workflows.contracts import OrderInput

_VALIDATORS: Lru[str, FormValidator] = Lru(256)  # by form hash: bounded


class IntakeRejected(Invalid):
    """The order is invalid; ``errors`` (also the ``details``) name each bad field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("order_invalid", "invalid order", details=list(errors))
        self.errors: list[FieldError] = self.details

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)


class IntakeUnavailable(Unavailable):
    """The order could not be started; nothing was stored. Trying again later can work."""

    def __init__(self, message: str):
        super().__init__("intake_unavailable", message, retryable=True)


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
        validator = _VALIDATORS.put(sha256, FormValidator(parse_published(body)))
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
        return Prepared(None, existing, stored_order_input(session, live, existing))
    flow_name = flow_name or origin.flow
    flow_row = live.get("flow", flow_name)
    if flow_row is None:
        raise IntakeRejected([FieldError("flow", f"unknown flow {flow_name!r}")])
    flow = flow_row.model
    form_row = live.require("form", flow.form)
    document, errors = _validator(form_row.body, form_row.sha256).validate(payload)
    if errors:
        raise IntakeRejected(errors)
    channel, external_id = str(document["channel"]), str(document["external_id"])
    if (channel, external_id) != (origin.name, str(looked_up).strip()):
        # The form normalised the key: look again under the normalised one.
        existing = _existing(session, channel, external_id)
        if existing is not None:
            return Prepared(None, existing, stored_order_input(session, live, existing))
    skus = {line["sku"] for line in document["lines"]}
    known = set(session.exec(select(Sku.sku).where(col(Sku.sku).in_(skus))).all())
    unknown = [
        FieldError(f"lines[{i}].sku", f"Line {i + 1}: unknown SKU {line['sku']!r}")
        for i, line in enumerate(document["lines"])
        if line["sku"] not in known
    ]
    if unknown:
        raise IntakeRejected(unknown)
    total = round(sum(float(line["qty"]) * float(line["price"]) for line in document["lines"]), 2)
    order_id = order_id_for(channel, external_id)
    document = {**document, "id": order_id, "total": total}
    # Every definition the order will use, pinned once: the flow's own (form, rules, allocation,
    # carriers, notification templates) and what the order uses besides (channel, audit facts, prints).
    pins = pin_set(
        live,
        flow,
        also=[
            ("channel", origin.name),
            ("regions", REGIONS),
            ("promotions", PROMOTIONS),
            ("payments", DEFAULT_PAYMENTS),  # who refunds it, also when a return does
            *(("template", name) for name in ORDER_DOCUMENTS),
        ],
    )
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
        pins=[asdict(pin) for pin in pins],
    )
    inp = OrderInput(
        order_id=order_id,
        order=document,
        flow=ref(flow_row),
        flow_text=flow_row.body,
        rules=rules_of(pins),
        status_push_seconds=origin.callback_expiry_seconds if origin.callback_url else 0,
        pins=pins,
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
    order = prepared.order
    assert order is not None  # prepare() gives the new order when there is no existing one
    try:
        with session_scope() as session:
            session.add(order)
        return order, True, prepared.workflow_input
    except IntegrityError:
        with Session(get_read_engine(), expire_on_commit=False) as session:
            winner = _existing(session, order.channel, order.external_id)
        if winner is None:  # not a duplicate after all
            raise
        return winner, False, None


def _forget(order_id: str) -> None:
    """Remove an order whose workflow never started, with its search keys."""
    with session_scope() as session:
        session.execute(delete(OrderKey).where(col(OrderKey.order_id) == order_id))
        session.execute(delete(Order).where(col(Order.id) == order_id))


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
