"""The shape every `activity` step's implementation shares.

The work and its timeline line commit together; a retry after a crash finds
the line and returns what was recorded instead of acting twice.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from oms.db import session_scope
from oms.models import Order, OrderEvent
from services.orders.timeline import already_recorded, record
from services.rows import required
from workflows.contracts import Progress, StepInput, StepResult

Work = Callable[[Session, Order, StepInput], tuple[str, dict]]


def run_step(inp: StepInput, event_type: str, work: Work) -> StepResult:
    with session_scope() as session:
        if already_recorded(session, inp.order_id, inp.seq):
            row = session.exec(
                select(OrderEvent).where(OrderEvent.order_id == inp.order_id, OrderEvent.seq == inp.seq)
            ).one()
            return StepResult(data=row.data)
        order = required(session, Order, inp.order_id)
        message, data = work(session, order, inp)
        record(
            session,
            Progress(
                order_id=inp.order_id,
                seq=inp.seq,
                type=event_type,
                step=inp.step,
                message=message,
                status=inp.status,
                data=data,
            ),
        )
        return StepResult(data=data)
