"""Changes asked of an order in flight (cancel, new address), and tracking events to its workflow.

A change is sent to the order's workflow as an event only when the step the
order is at takes that event (a wait step's ``on`` or an approval step's
``events``); otherwise it is refused (``ChangeNotTaken``) with the reason, and
nothing is sent. Once a parcel has left, neither is possible.
"""

from __future__ import annotations

import anyio
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from engine.definitions import parse_published
from engine.flows import ApprovalStep, WaitStep
from oms.db import get_read_engine
from oms.models import DefinitionVersion, Order, Shipment
from services.errors import Conflict, DomainError, NotFound, Unavailable
from workflows.contracts import ExternalEvent


class ChangeRefused(DomainError):
    """A change the order cannot take; nothing was sent to its flow."""


class UnknownOrder(ChangeRefused, NotFound):
    """No order has that id."""


class ChangeNotTaken(ChangeRefused, Conflict):
    """The order has shipped, its flow has ended, or its current step takes no such event."""


class ChangeUnavailable(ChangeRefused, Unavailable):
    """The order's flow could not be asked where it is; trying again can work."""

    def __init__(self, message: str):
        super().__init__("flow_unavailable", message, retryable=True)


def _load(order_id: str) -> tuple[Order, list[Shipment], str]:
    with Session(get_read_engine()) as session:
        order = session.get(Order, order_id)
        if order is None:
            raise UnknownOrder("order_not_found", f"no order {order_id!r}")
        parcels = list(session.exec(select(Shipment).where(Shipment.order_id == order_id)).all())
        # The version the order started on: published versions are never removed.
        body = session.exec(
            select(DefinitionVersion.body).where(
                DefinitionVersion.kind == "flow",
                DefinitionVersion.name == order.flow_name,
                DefinitionVersion.version == order.flow_version,
            )
        ).one()
    return order, parcels, body


def takes(flow_text: str, step_id: str, event_type: str) -> tuple[bool, list[str]]:
    """Whether step ``step_id`` takes ``event_type``, and every step of the flow that does."""
    flow = parse_published(flow_text)

    def listens(step) -> bool:
        return (isinstance(step, WaitStep) and event_type in step.on) or (
            isinstance(step, ApprovalStep) and event_type in step.events
        )

    return listens(flow.steps.get(step_id)), [s.id for s in flow.steps.values() if listens(s)]


async def request_change(client: Client, order_id: str, event_type: str, data: dict, what: str) -> dict:
    """Send ``event_type`` to the order's workflow if its current step takes it; else ChangeRefused."""
    order, parcels, flow_text = await anyio.to_thread.run_sync(_load, order_id)
    if parcels:
        numbers = ", ".join(p.tracking_number for p in parcels)
        raise ChangeNotTaken("order_shipped", f"order {order_id} has shipped ({numbers}); it can no longer be {what}")
    handle = client.get_workflow_handle(order.workflow_id)
    try:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise ChangeNotTaken("flow_ended", f"order {order_id} is {order.status}; its flow has ended")
        state = await handle.query("state")
    except RPCError as exc:
        raise ChangeUnavailable(f"the order's flow is unavailable, try again: {exc.message}") from exc
    step = state.get("step", "")
    ok, where = takes(flow_text, step, event_type)
    if not ok:
        at = f" ({', '.join(where)})" if where else ""
        raise ChangeNotTaken(
            "step_does_not_take",
            f"order {order_id} is {order.status} at step {step!r}, which takes no {event_type}; "
            f"it can be {what} only while waiting at a step that does{at}",
        )
    await handle.signal("event", ExternalEvent(type=event_type, data=data))
    return {"accepted": True, "order_id": order_id, "type": event_type, "step": step}


async def signal_order(client: Client, workflow_id: str, event_type: str, data: dict) -> bool:
    """Send a tracking event to the order; False when its flow has ended already."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.signal("event", ExternalEvent(type=event_type, data=data))
    except RPCError:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return False
        raise
    return True
