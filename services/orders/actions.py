"""What a person can do to one order from its page, and which of it the order's flow takes now.

Changes in flight (cancel, new address, payment, hold, release) are events
sent through ``changes.request_change``: only while the waiting step takes
them, and each carries the person's name (``by``), which the timeline shows.
A note and a resent notification are timeline lines written here, numbered
above every workflow's own (as ``repair`` numbers its lines).

Hold and release by hand: the flow decides where an order can be held. The
shipped order flow (from the version that added ``held_by_hand``) takes
``hold_requested`` while the order waits for its payment and parks it at
``held_by_hand`` until ``release_requested`` (definitions/flows/order.yaml);
orders on older versions, and steps that take no hold, get no Hold button,
and the page says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from oms.db import session_scope
from oms.models import DefinitionVersion, Order, OrderEvent, Shipment, Task, utcnow
from services.errors import Invalid
from services.notifications import ATTEMPTS, prepare, send
from services.orders.changes import takes
from services.orders.repair import FINAL_STATUSES, OUTSIDE_SEQ
from services.orders.timeline import record
from services.phrases import N_, Phrase, phrase
from workflows.contracts import REPAIR_TITLE, Progress, StepInput

# Page action -> the flow event it sends.
EVENTS = {
    "cancel": "cancel_requested",
    "address": "address_changed",
    "payment": "payment_received",
    "hold": "hold_requested",
    "release": "release_requested",
}
# What each event does to the order, for messages ("the order can be ... only while ...").
DONE = {
    "cancel": "cancelled",
    "address": "given a new address",
    "payment": "marked paid",
    "hold": "held",
    "release": "released",
}
RETURNABLE = ("delivered", "completed")


# Why an action is not offered: a sentence the page says in the reader's language.
Reason = Phrase
_reason = phrase

ASK_TIMEOUT = timedelta(seconds=3)  # a page never waits longer for the flow to say where it is


@dataclass(frozen=True)
class Offer:
    """One action on the order page: offered or not, and why not."""

    action: str
    enabled: bool
    why: Reason = field(default_factory=Reason)  # why it is not offered

    @property
    def reason(self) -> str:
        return self.why.text


async def current_step(client: Client, order: Order) -> tuple[str | None, Reason]:
    """The step the order's flow is at, or None and why (ended, or the flow cannot be asked now)."""
    if order.status in FINAL_STATUSES:
        return None, _reason(N_("the order is %(status)s; its flow has ended"), status=order.status)
    handle = client.get_workflow_handle(order.workflow_id)
    try:
        description = await handle.describe(rpc_timeout=ASK_TIMEOUT)
        if description.status != WorkflowExecutionStatus.RUNNING:
            return None, _reason(N_("the order's flow has ended"))
        state = await handle.query("state", rpc_timeout=ASK_TIMEOUT)
    except RPCError as exc:
        return None, _reason(
            N_("the order's flow cannot be asked where it is now (%(problem)s); reload to try again"),
            problem=exc.message,
        )
    return str(state.get("step") or ""), Reason()


def offers(session: Session, order: Order, step: str | None, why_not: Reason) -> dict[str, Offer]:
    """Every page action with whether the flow takes it at ``step``."""
    flow_text = session.exec(
        select(DefinitionVersion.body).where(
            DefinitionVersion.kind == "flow",
            DefinitionVersion.name == order.flow_name,
            DefinitionVersion.version == order.flow_version,
        )
    ).first()
    shipped = session.exec(select(Shipment.id).where(Shipment.order_id == order.id).limit(1)).first() is not None
    result: dict[str, Offer] = {}
    for action, event in EVENTS.items():
        if shipped and action in ("cancel", "address"):
            result[action] = Offer(action, False, _reason(N_("the order has shipped")))
        elif step is None or flow_text is None:
            result[action] = Offer(
                action, False, why_not if why_not.wording else _reason(N_("the order's flow is unknown"))
            )
        else:
            ok, where = takes(flow_text, step, event)
            if ok:
                result[action] = Offer(action, True)
            elif where:
                wording = N_("not at step %(step)r (the flow takes it at %(steps)s)")
                result[action] = Offer(action, False, _reason(wording, step=step, steps=", ".join(where)))
            else:
                wording = N_("not at step %(step)r (this order's flow never takes it)")
                result[action] = Offer(action, False, _reason(wording, step=step))
    result["note"] = Offer("note", True)
    sent = notifications_sent(session, order.id)
    result["resend"] = Offer("resend", bool(sent), Reason() if sent else _reason(N_("no notification was sent yet")))
    returnable = order.status in RETURNABLE
    result["return"] = Offer(
        "return", returnable, Reason() if returnable else _reason(N_("only a delivered order can be returned"))
    )
    repair = repair_task(session, order.id)
    result["retry"] = Offer(
        "retry",
        repair is not None,
        Reason() if repair else _reason(N_("no step failed: there is no open repair task")),
    )
    return result


def repair_task(session: Session, order_id: str) -> Task | None:
    """The order's open repair task (a failed or stuck flow), if any."""
    return session.exec(
        select(Task).where(Task.order_id == order_id, Task.status == "open", Task.title == REPAIR_TITLE).limit(1)
    ).first()


def notifications_sent(session: Session, order_id: str) -> list[str]:
    """The events the customer was notified of (or meant to be), oldest first, each once."""
    rows = session.exec(
        select(OrderEvent.data).where(OrderEvent.order_id == order_id, OrderEvent.type == "notification")
    ).all()
    return list(dict.fromkeys(str(d["event"]) for d in rows if d.get("event")))


def _write(order_id: str, type_: str, message: str, data: dict) -> None:
    for _ in range(3):  # two people writing at once take the same number: the second tries the next
        try:
            with session_scope() as session:
                seq = col(OrderEvent.seq)
                highest = session.exec(
                    select(func.max(seq)).where(OrderEvent.order_id == order_id, seq >= OUTSIDE_SEQ)
                ).one()
                record(
                    session,
                    Progress(
                        order_id=order_id, seq=(highest or OUTSIDE_SEQ - 1) + 1, type=type_, message=message, data=data
                    ),
                )
            return
        except IntegrityError:
            continue
    raise RuntimeError(f"could not number a timeline line of {order_id}")


def add_note(order_id: str, username: str, text: str) -> None:
    """An internal note on the timeline (never shown to the customer)."""
    text = text.strip()
    if not text or len(text) > 2000:
        raise Invalid("bad_note", "a note needs 1 to 2000 characters", field="note")
    _write(order_id, "note", text, {"by": username})


def resend_notification(order_id: str, event: str, username: str) -> str:
    """Send the customer the ``event`` notification again, rendered now; the timeline line says who."""
    with session_scope() as session:
        if event not in notifications_sent(session, order_id):
            raise Invalid("bad_notification", f"no {event!r} notification was sent for this order", field="event")
        order = session.get(Order, order_id)
        assert order is not None
        # Its own Message-ID (the seq names it): a receiver must not drop it as a duplicate of the first.
        inp = StepInput(order_id=order_id, step="resend", seq=int(utcnow().timestamp()), params={"event": event})
        prepared = prepare(session, order, inp)
    summary, data = (prepared.summary, prepared.data) if prepared.message is None else send(prepared, inp, ATTEMPTS)
    _write(order_id, "notification", f"resent: {summary}", {**data, "by": username, "resent": True})
    return summary
