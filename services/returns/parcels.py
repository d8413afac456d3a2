"""A return waiting for its parcel: recorded as received (by hand, a scan or the carrier), more time, cancelled.

Each is an event the return's flow takes in the wait it is in (``parcel_received``,
``deadline_extended``, ``cancel_requested``; see definitions/flows/return.yaml),
sent as the workflow's ``event`` signal. Before it is sent, the return's pinned
flow is asked whether the step the return waits in takes it: a return started
on an older flow version that knows no extension or cancellation is refused
with that reason, and an event nobody waits for is never left in the workflow.
The person (or carrier) and what they did go on the return's timeline with a
sequence number above the workflow's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlmodel import Session, col, func, select
from temporalio.client import Client
from temporalio.service import RPCError

from engine.definitions import parse_published
from engine.flows import ActivityStep, Flow, Step, WaitStep
from engine.forms import FieldError
from oms.db import get_read_engine, session_scope
from oms.models import Return, ReturnEvent
from services.definitions.pinned import pinned_model
from services.definitions.publishing import version_of
from services.errors import Conflict, Invalid, NotFound, Unavailable
from services.fulfilment.carriers import CarrierEvent
from services.orders.repair import OUTSIDE_SEQ
from services.timeline_words import worded
from workflows.contracts import ExternalEvent

RECEIVED, EXTENDED, CANCEL = "parcel_received", "deadline_extended", "cancel_requested"
ACTIONS = (RECEIVED, EXTENDED, CANCEL)
MAX_NOTE = 500


class ParcelActionRefused(Conflict):
    """The return does not wait for its parcel, or its flow does not take this event there."""


class ParcelMismatch(Invalid):
    """The scanned tracking number is not the return's label."""


class ReturnUnknown(NotFound):
    """No return has that id (or the scanned tracking number)."""


class ReturnFlowUnreachable(Unavailable):
    """Temporal did not take the signal; nothing was recorded."""


@dataclass(frozen=True)
class ParcelWait:
    """The wait a return is in: its step, since when, until when, and what it reacts to."""

    step: str
    since: datetime
    deadline: datetime
    events: tuple[str, ...]
    extension: timedelta | None  # what a deadline_extended gives: the timeout of the wait it leads to

    def takes(self, event: str) -> bool:
        return event in self.events


def _flow(session: Session, ret: Return) -> Flow | None:
    model, _ = pinned_model(session, ret.pins, "flow", ret.flow_name)
    if model is None:
        row = version_of(session, "flow", ret.flow_name, ret.flow_version)
        model = parse_published(row.body) if row is not None else None
    return model if isinstance(model, Flow) else None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def parcel_wait(session: Session, ret: Return) -> ParcelWait | None:
    """The parcel wait ``ret`` is in now, read from its pinned flow and its timeline; None when it is in none.

    The workflow's last timeline line says where it stands: the ``waiting`` line
    of a wait step, or the line of an activity whose next step is a wait (a wait
    without a status writes no line of its own).
    """
    if ret.closed_at is not None or ret.status != "awaiting_parcel":
        return None
    flow = _flow(session, ret)
    last = session.exec(
        select(ReturnEvent)
        .where(ReturnEvent.return_id == ret.id, col(ReturnEvent.seq) < OUTSIDE_SEQ)
        .order_by(col(ReturnEvent.seq).desc())
    ).first()
    if flow is None or last is None or last.step is None:
        return None
    step: Step | None = flow.steps.get(last.step)
    if isinstance(step, ActivityStep):
        step = flow.steps.get(step.next)
    if not isinstance(step, WaitStep):
        return None
    since = _aware(last.at)
    target = flow.steps.get(step.on.get(EXTENDED, ""))
    extension = timedelta(seconds=target.timeout_seconds) if isinstance(target, WaitStep) else None
    return ParcelWait(step.id, since, since + timedelta(seconds=step.timeout_seconds), tuple(step.on), extension)


def next_outside_seq(session: Session, return_id: str) -> int:
    highest = session.exec(
        select(func.max(ReturnEvent.seq)).where(ReturnEvent.return_id == return_id, ReturnEvent.seq >= OUTSIDE_SEQ)
    ).one()
    return (highest or OUTSIDE_SEQ - 1) + 1


def duration_words(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds >= 86400 and seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds)} s"


@dataclass(frozen=True)
class Planned:
    """An event to send to a return's workflow, and the timeline line that says who sent it."""

    return_id: str
    workflow_id: str
    event: str
    data: dict[str, Any]
    message: str


def plan(session: Session, ret: Return, event: str, by: str, tracking_number: str = "", note: str = "") -> Planned:
    """Check that the return takes ``event`` now; what to send and say. Raises ParcelActionRefused or ParcelMismatch."""
    if event not in ACTIONS:
        raise Invalid("unknown_action", f"{event!r} is not one of {', '.join(ACTIONS)}", field="type")
    wait = parcel_wait(session, ret)
    if wait is None:
        raise ParcelActionRefused(
            "not_awaiting_parcel", f"return {ret.id} is not waiting for its parcel (it is {ret.status})"
        )
    if not wait.takes(event):
        raise ParcelActionRefused(
            "not_in_this_flow",
            f"return {ret.id} runs flow {ret.flow_name} v{ret.flow_version}, whose step {wait.step} "
            f"does not take {event} (it takes {', '.join(wait.events)})",
        )
    label = str(ret.label.get("tracking_number") or "")
    number = tracking_number.strip().upper()
    if number and number != label.upper():
        wrong = f"parcel {number} is not the parcel of return {ret.id}" + (f" (its label is {label})" if label else "")
        raise ParcelMismatch(
            "wrong_parcel", wrong, field="tracking_number", details=[FieldError("tracking_number", wrong)]
        )
    note = note.strip()[:MAX_NOTE]
    data: dict[str, Any] = {"by": by}
    if event == RECEIVED:
        data["tracking_number"] = number or label
        message = f"parcel {number or label} recorded as received by {by}" + (" (scanned)" if number else "")
    elif event == EXTENDED:
        more = wait.extension or timedelta(0)
        data["seconds"] = more.total_seconds()
        message = f"deadline extended by {by}: {duration_words(more)} more from now"
    else:
        message = f"return cancelled by {by}"
    if note:
        data["note"] = note
        message += f" ({note})"
    return Planned(ret.id, ret.workflow_id, event, data, message)


def record_line(planned: Planned, type_: str = "action") -> None:
    with session_scope() as session:
        session.add(
            ReturnEvent(
                return_id=planned.return_id,
                seq=next_outside_seq(session, planned.return_id),
                type=type_,
                message=planned.message,
                **worded(type_, planned.message),
                data={"event": planned.event, **planned.data},
            )
        )


async def signal(client: Client, planned: Planned, type_: str = "action") -> None:
    """Send the event to the return's workflow, then write who did it; nothing is written if it was not taken."""
    try:
        await client.get_workflow_handle(planned.workflow_id).signal(
            "event", ExternalEvent(planned.event, planned.data)
        )
    except RPCError as exc:
        raise ReturnFlowUnreachable(
            "flow_unreachable", f"the return's flow did not take {planned.event}: {exc.message}"
        ) from exc
    await anyio.to_thread.run_sync(record_line, planned, type_)


def _planned(return_id: str, event: str, by: str, tracking_number: str, note: str) -> Planned:
    with Session(get_read_engine()) as session:
        ret = session.get(Return, return_id)
        if ret is None:
            raise ReturnUnknown("return_not_found", f"no return {return_id!r}")
        return plan(session, ret, event, by, tracking_number, note)


async def act(client: Client, return_id: str, event: str, by: str, tracking_number: str = "", note: str = "") -> str:
    """Record the parcel as received, extend the deadline or cancel; returns the timeline's sentence."""
    planned = await anyio.to_thread.run_sync(_planned, return_id, event, by, tracking_number, note)
    await signal(client, planned)
    return planned.message


def by_tracking_number(session: Session, number: str) -> Return | None:
    """The return whose label has ``number`` (newest first)."""
    number = number.strip()
    if not number:
        return None
    label_number = col(Return.label)["tracking_number"].as_string()
    return session.exec(
        select(Return).where(func.upper(label_number) == number.upper()).order_by(col(Return.created_at).desc())
    ).first()


def scanned_return_id(number: str) -> str:
    """The id of the return a scanned label belongs to; raises ReturnUnknown."""
    with Session(get_read_engine()) as session:
        ret = by_tracking_number(session, number)
    if ret is None:
        raise ReturnUnknown("parcel_not_found", f"no return has the label {number.strip()!r}", field="tracking_number")
    return ret.id


# ---- the carrier's tracking of a return parcel ----------------------------------------------


@dataclass(frozen=True)
class ReturnTracked:
    """A carrier event of a return label taken: the return, whether it was new, and the event its flow heard."""

    return_id: str
    order_id: str
    tracking_number: str
    type: str
    duplicate: bool
    planned: Planned | None  # parcel_received to send, when the parcel was delivered and the return waits


def track(carrier: str, event: CarrierEvent) -> ReturnTracked | None:
    """Record a carrier event of a return parcel on the return's timeline (once per event id); None if no return
    has that label. A delivered parcel is the return's ``parcel_received`` when its wait takes it."""
    with session_scope() as session:
        ret = by_tracking_number(session, event.tracking_number)
        if ret is None:
            return None
        lines = session.exec(
            select(ReturnEvent).where(ReturnEvent.return_id == ret.id, ReturnEvent.type == "parcel_tracking")
        ).all()
        duplicate = any(line.data.get("event_id") == event.event_id for line in lines)
        planned = None
        if event.type == "delivered" and (wait := parcel_wait(session, ret)) is not None and wait.takes(RECEIVED):
            planned = plan(session, ret, RECEIVED, f"carrier {carrier}")
        if not duplicate:
            words = event.type.replace("_", " ")
            message = f"return parcel {ret.label.get('tracking_number')} {words} ({carrier})" + (
                f": {event.description}" if event.description else ""
            )
            session.add(
                ReturnEvent(
                    return_id=ret.id,
                    seq=next_outside_seq(session, ret.id),
                    type="parcel_tracking",
                    message=message,
                    **worded("parcel_tracking", message),
                    data={"event_id": event.event_id, "status": event.type, "carrier": carrier, **event.data},
                )
            )
        return ReturnTracked(ret.id, ret.order_id, event.tracking_number, event.type, duplicate, planned)
