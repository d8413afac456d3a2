"""Activities of the return flow: policy audit, tasks, label, notifications, restock, refund, exchange.

Like the order's activities, every write carries the workflow's sequence
number; the return's timeline row (return, seq) is written in the same
transaction as the change it records, so a retried activity never acts twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select
from temporalio.client import Client

from engine.returns import arrived, refund_for
from engine.rules import evaluate_rules
from oms.db import get_read_engine, session_scope
from oms.models import (
    Order,
    Return,
    ReturnEvent,
    ReturnLine,
    Sku,
    StockLot,
    StockMovement,
    Task,
    Warehouse,
    utcnow,
)
from services import escalations
from services.adapter_calls import Answers, CallsNeeded, Pending, with_calls
from services.definitions.pinned import compiled
from services.errors import StepFailed
from services.fulfilment.carriers import ParcelRequest, adapter
from services.notifications import prepare, send
from services.orders.intake import order_id_for
from services.orders.payments import move_money, payment_request, provider_of
from services.orders.timeline import MOVED, moved_to
from services.rows import required
from services.rule_reasons import fired_rows, without_translations
from services.stock.ledger import Movement, receive
from services.stock.reservation import Short, release_reserved, reserve_order
from services.timeline_words import worded
from workflows.contracts import (
    ReturnAuditInput,
    ReturnAuditOutcome,
    ReturnProgress,
    ReturnStepInput,
    ReturnTaskClose,
    ReturnTaskEscalation,
    ReturnTaskInput,
    StepInput,
)

log = logging.getLogger("services.returns.requests")

# End statuses of a return whose goods never came back: its lines stop counting as returned.
CLOSED_WITHOUT_GOODS = ("rejected", "expired", "cancelled")
DELIVERED_STATUSES = ("delivered", "completed")
# External id of an exchange order: the prefix and the return id (the order itself names its origin).
EXCHANGE_PREFIX = "EXCHANGE-"

Work = Callable[[Session, Return, ReturnStepInput], tuple[str, dict]]


# ---- the timeline ------------------------------------------------------------------------


def already_recorded(session: Session, return_id: str, seq: int) -> ReturnEvent | None:
    return session.exec(select(ReturnEvent).where(ReturnEvent.return_id == return_id, ReturnEvent.seq == seq)).first()


def record(session: Session, progress: ReturnProgress) -> None:
    """Append a timeline line and set the status, in the caller's transaction."""
    session.add(
        ReturnEvent(
            return_id=progress.return_id,
            seq=progress.seq,
            type=progress.type,
            step=progress.step,
            status=progress.status,
            message=progress.message,
            **worded(progress.type, progress.message),
            data=progress.data,
        )
    )
    if progress.type == MOVED:
        moved = required(session, Return, progress.return_id)
        moved_to(moved, progress.data)
        session.add(moved)
    if progress.status or progress.final:
        ret = required(session, Return, progress.return_id)
        if progress.status:
            ret.status = progress.status
        ret.updated_at = utcnow()
        if progress.final:
            ret.closed_at = utcnow()
            if ret.status in CLOSED_WITHOUT_GOODS:
                for line in _lines(session, ret.id):
                    line.counted = 0
                    session.add(line)
        session.add(ret)


def record_return_progress(progress: ReturnProgress) -> None:
    """Write one timeline line (and the new status) unless it is already there."""
    with session_scope() as session:
        if already_recorded(session, progress.return_id, progress.seq) is None:
            record(session, progress)


def await_return_stored(return_id: str) -> bool:
    """True once the return's row is committed (the request commits right after starting the workflow);
    retried by the workflow until its deadline, after which the workflow ends without acting."""
    with Session(get_read_engine()) as session:
        if session.get(Return, return_id) is None:
            raise StepFailed("return_missing", f"return {return_id} is not stored (yet)", retryable=True)
    return True


def run_return_step(inp: ReturnStepInput, event_type: str, work: Work) -> dict:
    """The work and its timeline line in one transaction; a retry returns what was recorded."""
    with session_scope() as session:
        done = already_recorded(session, inp.return_id, inp.seq)
        if done is not None:
            return done.data
        ret = required(session, Return, inp.return_id)
        message, data = work(session, ret, inp)
        record(
            session,
            ReturnProgress(
                return_id=inp.return_id,
                seq=inp.seq,
                type=event_type,
                step=inp.step,
                message=message,
                status=inp.status,
                data=data,
            ),
        )
        return data


def _lines(session: Session, return_id: str) -> list[ReturnLine]:
    return list(
        session.exec(
            select(ReturnLine).where(ReturnLine.return_id == return_id).order_by(col(ReturnLine.line_no))
        ).all()
    )


# ---- the policy audit --------------------------------------------------------------------


def delivered_at(order: Order) -> datetime:
    """When the order was delivered (its first delivered or completed status)."""
    for status in DELIVERED_STATUSES:
        if order.milestones.get(status):
            at = datetime.fromisoformat(order.milestones[status])
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    at = order.updated_at
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def counted_elsewhere(session: Session, order_id: str, return_id: str | None = None) -> dict[int, int]:
    """Per order line, the quantity other returns of the order hold (asked, or received once inspected)."""
    query = select(ReturnLine).where(ReturnLine.order_id == order_id)
    if return_id:
        query = query.where(ReturnLine.return_id != return_id)
    counted: dict[int, int] = {}
    for line in session.exec(query).all():
        counted[line.line_no] = counted.get(line.line_no, 0) + line.counted
    return counted


def return_facts(session: Session, ret: Return) -> dict[str, Any]:
    """What the return_policy rules see as ``facts``."""
    order = required(session, Order, ret.order_id)
    lines = _lines(session, ret.id)
    skus = {s.sku: s for s in session.exec(select(Sku).where(col(Sku.sku).in_([line.sku for line in lines]))).all()}
    others = counted_elsewhere(session, ret.order_id, ret.id)
    order_lines = order.document.get("lines") or []
    days = (utcnow() - delivered_at(order)).total_seconds() / 86400
    facts_lines: list[dict[str, Any]] = []
    for line in lines:
        delivered = int(order_lines[line.line_no - 1].get("qty") or 0)
        facts_lines.append(
            {
                "line": line.line_no,
                "sku": line.sku,
                "qty": line.qty,
                "price": line.price,
                "value": round(line.qty * line.price, 2),
                "category": skus[line.sku].category if line.sku in skus else "unknown",
                "delivered": delivered,
                "left": delivered - others.get(line.line_no, 0),
            }
        )
    earlier = session.exec(select(Return.id).where(Return.order_id == ret.order_id, Return.id != ret.id)).all()
    return {
        "days_since_delivery": round(days, 2),
        "delivered_at": delivered_at(order).isoformat(),
        "value": round(ret.value, 2),
        "reason": ret.reason,
        "kind": ret.kind,
        "photos": len(ret.photos),
        "lines": facts_lines,
        "categories": sorted({fact["category"] for fact in facts_lines}),
        "quantity_ok": all(fact["qty"] <= fact["left"] for fact in facts_lines),
        "returns_before": len(earlier),
        "order_total": order.total,
    }


def _recorded_outcome(ret: Return) -> ReturnAuditOutcome:
    """The outcome of an audit already on the timeline (stored in the same transaction as its line)."""
    if ret.audit is None:
        raise StepFailed("audit_missing", f"return {ret.id} was audited but its outcome is not stored", retryable=True)
    audit = ret.audit
    return ReturnAuditOutcome(
        action=audit["action"], fired=without_translations(audit["fired"]), tags=audit["tags"], facts=audit["facts"]
    )


def audit_return(inp: ReturnAuditInput) -> ReturnAuditOutcome:
    """Apply the pinned return_policy rules to the return and its facts; store the outcome."""
    rule_set = compiled(inp.rules)
    with Session(get_read_engine()) as session:
        ret = required(session, Return, inp.return_id)
        done = already_recorded(session, inp.return_id, inp.seq)
        if done is not None:
            return _recorded_outcome(ret)
        facts = return_facts(session, ret)
        order = required(session, Order, ret.order_id).document
        request = {"id": ret.id, "kind": ret.kind, "reason": ret.reason, "value": ret.value}
    decision = evaluate_rules(rule_set, {"order": order, "facts": facts, "return": request})
    rows = fired_rows(decision.fired)
    fired = without_translations(rows)
    outcome = ReturnAuditOutcome(action=decision.action, fired=fired, tags=list(decision.tags), facts=facts)
    with session_scope() as session:
        if already_recorded(session, inp.return_id, inp.seq) is not None:
            return _recorded_outcome(required(session, Return, inp.return_id))
        ret = required(session, Return, inp.return_id)
        ret.audit = {
            "action": outcome.action,
            "fired": rows,
            "tags": outcome.tags,
            "facts": facts,
            "rules": {"name": inp.rules.name, "version": inp.rules.version},
        }
        session.add(ret)
        reasons = "; ".join(f["reason"] for f in fired if f["action"] != "tag") or "no rule held it"
        record(
            session,
            ReturnProgress(
                return_id=inp.return_id,
                seq=inp.seq,
                type="audited",
                step=inp.step,
                status=inp.status,
                message=f"policy {inp.rules.name} v{inp.rules.version}: {outcome.action} ({reasons})",
                data={"action": outcome.action, "fired": fired, "tags": outcome.tags},
            ),
        )
    return outcome


# ---- human tasks (review, quality check) in the operator inbox ------------------------------------


def open_return_task(inp: ReturnTaskInput) -> str:
    """Put a return's task in the inbox (it names the return); returns its id, stable across retries."""
    task_id = f"{inp.return_id}-t{inp.seq}"
    with session_scope() as session:
        if already_recorded(session, inp.return_id, inp.seq) is not None:
            return task_id
        session.add(
            Task(
                id=task_id,
                order_id=inp.order_id,
                return_id=inp.return_id,
                workflow_id=inp.workflow_id,
                step=inp.step,
                title=inp.title,
                role=inp.role,
                reason=inp.reason,
                decisions=inp.decisions,
                due_at=utcnow() + timedelta(seconds=inp.due_seconds),
            )
        )
        record(
            session,
            ReturnProgress(
                return_id=inp.return_id,
                seq=inp.seq,
                type="task_opened",
                step=inp.step,
                status=inp.status,
                message=f"{inp.title}: waiting for {inp.role}" + (f" ({inp.reason})" if inp.reason else ""),
                data={"task_id": task_id, "role": inp.role, "decisions": inp.decisions},
            ),
        )
    return task_id


def close_return_task(inp: ReturnTaskClose) -> None:
    """Record a return task's decision (with the QC results), or its expiry."""
    with session_scope() as session:
        if already_recorded(session, inp.return_id, inp.seq) is not None:
            return
        task = required(session, Task, inp.task_id)
        expired = inp.outcome == "timeout"
        task.status = "expired" if expired else "decided"
        task.decision = None if expired else inp.outcome
        task.decided_by, task.comment, task.decided_at = inp.decided_by, inp.comment, utcnow()
        session.add(task)
        message = (
            f"{task.title}: no decision before the due time"
            if expired
            else f"{task.title}: {inp.outcome} by {inp.decided_by}" + (f" ({inp.comment})" if inp.comment else "")
        )
        record(
            session,
            ReturnProgress(
                return_id=inp.return_id,
                seq=inp.seq,
                type="task_expired" if expired else "task_decided",
                step=task.step,
                message=message,
                data={
                    "task_id": task.id,
                    "decision": task.decision,
                    "by": inp.decided_by,
                    "comment": inp.comment,
                    **inp.data,
                },
            ),
        )


def escalate_return_task(inp: ReturnTaskEscalation) -> None:
    """Hand an undecided return task to the escalation role, with a new due time, and e-mail its holders."""
    with Session(get_read_engine()) as session:
        if already_recorded(session, inp.return_id, inp.seq) is not None:
            return
        previous = required(session, Task, inp.task_id).role
    due_at = utcnow() + timedelta(seconds=inp.due_seconds)
    told = escalations.announce(inp.task_id, inp.seq, previous, inp.role, due_at.strftime("%Y-%m-%d %H:%M UTC"))
    with session_scope() as session:
        if already_recorded(session, inp.return_id, inp.seq) is not None:
            return
        task = required(session, Task, inp.task_id)
        previous, task.role, task.claimed_by = task.role, inp.role, None
        task.escalated_at = utcnow()
        task.due_at = due_at
        session.add(task)
        message = f"{task.title}: no decision by {previous} in time; escalated to {inp.role}"
        record(
            session,
            ReturnProgress(
                return_id=inp.return_id,
                seq=inp.seq,
                type="task_escalated",
                step=task.step,
                message=message + (f"; {told.summary}" if told.summary else ""),
                data={"task_id": task.id, "from": previous, "to": inp.role, "emailed": told.sent},
            ),
        )


# ---- label and notifications --------------------------------------------------------------


def _weight_kg(session: Session, sku: str) -> float:
    """The SKU's weight; half a kilo for a SKU no longer in the catalogue."""
    row = session.get(Sku, sku)
    return float(row.weight_kg) if row else 0.5


def _label(session: Session, ret: Return, inp: ReturnStepInput) -> tuple[str, dict]:
    order = required(session, Order, ret.order_id)
    sent_from = session.exec(
        select(StockMovement.warehouse).where(StockMovement.order_id == order.id, StockMovement.operation == "ship")
    ).first()
    code = str(inp.params.get("warehouse") or sent_from or "")
    warehouse = session.get(Warehouse, code) if code else None
    weight = sum(_weight_kg(session, line.sku) * line.qty for line in _lines(session, ret.id))
    carrier = str(inp.params.get("carrier") or "simulated")
    request = ParcelRequest(
        order_id=ret.id,
        parcel=1,
        carrier=carrier,
        service="return",
        weight_kg=round(weight, 3),
        sender=dict(order.document.get("shipping_address") or {}),
        recipient={
            "code": code,
            "name": warehouse.name if warehouse else code,
            "country": warehouse.country if warehouse else "",
        },
    )
    shipment = adapter(str(inp.params.get("adapter") or "simulated")).create_shipment(request)
    ret.label = {
        "carrier": carrier,
        "tracking_number": shipment.tracking_number,
        "warehouse": code,
        "weight_kg": round(weight, 3),
        **shipment.label,
    }
    session.add(ret)
    return f"return label {shipment.tracking_number} issued ({carrier}, to {code or 'the warehouse'})", {
        "label": ret.label
    }


def issue_return_label(inp: ReturnStepInput) -> dict:
    """A return label from the carrier adapter (params.carrier, params.adapter; to params.warehouse or
    the warehouse the order shipped from)."""
    return run_return_step(inp, "label_issued", _label)


def notify_return(inp: ReturnStepInput, attempt: int) -> dict:
    """Send the customer the notification of params.event (template notify_<event>) about the return."""
    with Session(get_read_engine()) as session:
        done = already_recorded(session, inp.return_id, inp.seq)
        if done is not None:
            return done.data
        ret = required(session, Return, inp.return_id)
        order = required(session, Order, ret.order_id)
        about = {
            "return_id": ret.id,
            "kind": ret.kind,
            "reason": ret.reason,
            "status": ret.status,
            "refunded": ret.refunded,
            "exchange_order_id": ret.exchange_order_id,
            # What the customer quotes: the replacement order's external id.
            "exchange_external_id": exchange.external_id
            if ret.exchange_order_id and (exchange := session.get(Order, ret.exchange_order_id))
            else None,
            "tracking_number": ret.label.get("tracking_number"),
            "lines": [{"sku": line.sku, "qty": line.qty} for line in _lines(session, ret.id)],
            **(inp.event or {}),
        }
        step = StepInput(order_id=ret.id, step=inp.step, seq=inp.seq, params=dict(inp.params), event=about)
        # The return's own pins: its flow's templates, not those of the order it returns.
        prepared = prepare(session, order, step, pins=ret.pins)
    if prepared.message is not None:
        message_id = f"<{inp.return_id}.{inp.seq}@oms>"
        prepared.data["message_id"] = message_id
        prepared.webhook["message_id"] = message_id
        prepared.webhook["return_id"] = inp.return_id
        summary, data = send(prepared, step, attempt)
    else:
        summary, data = prepared.summary, prepared.data
    with session_scope() as session:
        if already_recorded(session, inp.return_id, inp.seq) is None:
            record(
                session,
                ReturnProgress(
                    return_id=inp.return_id,
                    seq=inp.seq,
                    type="notification",
                    step=inp.step,
                    message=summary,
                    status=inp.status,
                    data=data,
                ),
            )
    return data


# ---- exchange: stock held from approval, the new order once the goods are back ---------------------


def exchange_key(ret: Return, order: Order) -> tuple[str, str]:
    """(channel, external id) of the exchange order: its id is known before it exists."""
    return order.channel, f"{EXCHANGE_PREFIX}{ret.id[4:]}"


def _exchange_document(session: Session, ret: Return, order: Order, quantities: dict[int, int] | None = None) -> dict:
    """The exchange order: the replacement for each returned line (``quantities``: what arrived, per line)."""
    channel, external_id = exchange_key(ret, order)
    lines = _lines(session, ret.id)
    quantities = quantities if quantities is not None else {line.line_no: line.qty for line in lines}
    document = {
        k: v for k, v in order.document.items() if k not in ("id", "total", "lines", "payment", "external_id", "coupon")
    }
    items = [
        {"sku": ret.replacement_sku, "qty": quantities[line.line_no], "price": line.price}
        for line in lines
        if quantities[line.line_no] > 0
    ]
    return {
        **document,
        "channel": channel,
        "external_id": external_id,
        "lines": items,
        # Settled by the goods sent back: the order counts as paid at the returned lines' prices.
        "payment": {"method": (order.document.get("payment") or {}).get("method") or "card", "status": "paid"},
        "exchange_of": {"return_id": ret.id, "order_id": order.id},
    }


def _reserve_exchange(session: Session, ret: Return, inp: ReturnStepInput) -> tuple[str, dict]:
    order = required(session, Order, ret.order_id)
    channel, external_id = exchange_key(ret, order)
    document = _exchange_document(session, ret, order)
    # Reserved under the exchange order's id: when that order runs its flow, its reservation finds this one.
    holder = Order(
        id=order_id_for(channel, external_id),
        channel=channel,
        external_id=external_id,
        workflow_id="",
        flow_name="",
        flow_version=0,
        address_key="",
        document=document,
        pins=ret.pins,
        created_at=utcnow(),
    )
    message, data = reserve_order(session, holder, str(inp.params.get("allocation") or "default"))
    return f"replacement {ret.replacement_sku} held for the exchange: {message}", {**data, "exchange_order": holder.id}


def reserve_exchange(inp: ReturnStepInput) -> dict:
    """Reserve the replacement now, under the exchange order's id; failure out_of_stock."""
    try:
        return run_return_step(inp, "exchange_reserved", _reserve_exchange)
    except Short as short:
        raise StepFailed("out_of_stock", short.message) from None


def _release_exchange(session: Session, ret: Return, inp: ReturnStepInput) -> tuple[str, dict]:
    if ret.kind != "exchange" or ret.exchange_order_id:
        return "no replacement held", {"released": []}
    order = required(session, Order, ret.order_id)
    released = release_reserved(
        session, order_id_for(*exchange_key(ret, order)), str(inp.params.get("reason") or f"return {ret.id} closed")
    )
    summary = ", ".join(f"{r['qty']} x {r['sku']} to {r['warehouse']}" for r in released)
    return (f"replacement released: {summary}" if released else "no replacement held"), {"released": released}


def release_exchange(inp: ReturnStepInput) -> dict:
    """Give back the replacement held for an exchange that will not happen."""
    return run_return_step(inp, "exchange_released", _release_exchange)


def _placed(session: Session, ret: Return, inp: ReturnStepInput) -> tuple[str, dict]:
    event = inp.event or {}
    ret.exchange_order_id = event["order_id"]
    session.add(ret)
    return f"exchange order {event['order_id']} placed for {ret.replacement_sku}", {"exchange_order": event["order_id"]}


async def place_exchange(inp: ReturnStepInput, client: Client) -> dict:
    """The exchange order for the replacement, through the standard intake and order flow.

    Its id was fixed when the replacement was reserved, so the order's own
    reservation finds the stock held for it. Goods that did not arrive (QC
    missing) are not replaced: the held stock is released and the order
    reserves only what it needs.
    """
    import anyio

    from services.orders.intake import IntakeRejected, submit_order

    def exchange_payload() -> tuple[dict | None, dict]:
        with session_scope() as session:
            done = already_recorded(session, inp.return_id, inp.seq)
            if done is not None:
                return done.data, {}
            ret = required(session, Return, inp.return_id)
            order = required(session, Order, ret.order_id)
            asked = {line.line_no: line.qty for line in _lines(session, ret.id)}
            quantities = dict(asked)
            if inp.qc:
                counts = arrived(inp.qc, asked)
                quantities = {n: counts[n]["resellable"] + counts[n]["damaged"] for n in asked}
            payload = _exchange_document(session, ret, order, quantities)
            if quantities != asked:
                release_reserved(
                    session,
                    order_id_for(payload["channel"], payload["external_id"]),
                    "exchange for fewer items than asked",
                )
            return None, payload

    done, payload = await anyio.to_thread.run_sync(exchange_payload)
    if done is not None:
        return done
    if not payload["lines"]:
        event = {"order_id": None}
        with session_scope() as session:
            if already_recorded(session, inp.return_id, inp.seq) is None:
                record(
                    session,
                    ReturnProgress(
                        return_id=inp.return_id,
                        seq=inp.seq,
                        type="exchange_skipped",
                        step=inp.step,
                        status=inp.status,
                        message="nothing arrived: no exchange order",
                        data={},
                    ),
                )
        return event
    try:
        accepted = await submit_order(client, payload)
    except IntakeRejected as exc:
        # The order form or the catalogue changed since the request: no retry will help.
        raise StepFailed("exchange_refused", f"the exchange order was refused: {exc}") from None
    done_inp = ReturnStepInput(**{**inp.__dict__, "event": {"order_id": accepted.order_id}})
    return await anyio.to_thread.run_sync(run_return_step, done_inp, "exchange_placed", _placed)


# ---- goods back: restock and write-off ---------------------------------------------------------


def _ship_origin(session: Session, order_id: str, line_no: int) -> StockMovement | None:
    return session.exec(
        select(StockMovement)
        .where(
            StockMovement.order_id == order_id,
            StockMovement.line_no == line_no,
            StockMovement.operation == "ship",
        )
        .order_by(col(StockMovement.id))
    ).first()


def _restock(session: Session, ret: Return, inp: ReturnStepInput) -> tuple[str, dict]:
    lines = _lines(session, ret.id)
    counts = arrived(inp.qc, {line.line_no: line.qty for line in lines})
    reasons: dict[int, list[str]] = {}
    for entry in inp.qc:
        if entry["result"] == "damaged":
            reasons.setdefault(entry["line"], []).append(str(entry.get("reason") or "damaged"))
    moved, written_off = [], []
    for line in lines:
        count = counts[line.line_no]
        origin = _ship_origin(session, ret.order_id, line.line_no)
        warehouse = str(inp.params.get("warehouse") or (origin.warehouse if origin else "") or "")
        if count["resellable"]:
            if not warehouse:
                raise StepFailed(
                    "no_warehouse", f"line {line.line_no}: no warehouse to restock {line.sku} to; set params.warehouse"
                )
            lot = origin.lot if origin and origin.lot and origin.warehouse == warehouse else None
            expires = None
            if lot:
                lot_row = session.get(StockLot, (warehouse, line.sku, lot))
                expires = lot_row.expires_on if lot_row else None
            row = receive(
                session,
                Movement(warehouse, line.sku, count["resellable"], f"return {ret.id}", lot, expires, None, ret.id),
                "return",
            )
            moved.append({**row, "line": line.line_no})
        if count["damaged"]:
            written_off.append(
                {
                    "line": line.line_no,
                    "sku": line.sku,
                    "qty": count["damaged"],
                    "reason": "; ".join(reasons.get(line.line_no, [])),
                }
            )
        line.results = [e for e in inp.qc if e["line"] == line.line_no]
        line.restocked = count["resellable"]
        line.written_off = count["damaged"]
        line.counted = count["resellable"] + count["damaged"]
        session.add(line)
    parts = [f"{m['qty']} x {m['sku']} back to {m['warehouse']}" for m in moved]
    parts += [f"{w['qty']} x {w['sku']} written off ({w['reason']})" for w in written_off]
    missing = sum(c["missing"] for c in counts.values())
    if missing:
        parts.append(f"{missing} missing")
    return "; ".join(parts) or "nothing to restock", {
        "restocked": moved,
        "written_off": written_off,
        "missing": missing,
        "qc": inp.qc,
    }


def restock_return(inp: ReturnStepInput) -> dict:
    """Resellable items back to stock (a `return` ledger movement tied to the return, to params.warehouse
    or the warehouse they left from); damaged ones written off with their reason."""
    return run_return_step(inp, "restocked", _restock)


# ---- money back ----------------------------------------------------------------------------


def paid_amount(order: Order) -> float:
    payment = order.document.get("payment") or {}
    if payment.get("status") not in ("paid", "refunded"):
        return 0.0
    return float(payment.get("amount") or (order.total + float(order.document.get("shipping_fee") or 0)))


def _refund(session: Session, ret: Return, inp: ReturnStepInput, answers: Answers | None = None) -> tuple[str, dict]:
    # The order row is the lock: two returns of one order refund one after the other.
    order = session.exec(select(Order).where(Order.id == ret.order_id).with_for_update()).one()
    lines = _lines(session, ret.id)
    if inp.qc:
        counts = arrived(inp.qc, {line.line_no: line.qty for line in lines})
        goods = sum(
            (counts[line.line_no]["resellable"] + counts[line.line_no]["damaged"]) * line.price for line in lines
        )
    else:  # refunded without the goods coming back (e.g. damaged on arrival below the policy's value)
        goods = sum(line.qty * line.price for line in lines)
    others = session.exec(select(Return).where(Return.order_id == order.id, Return.id != ret.id)).all()
    payment = dict(order.document.get("payment") or {})
    refunded_before = sum(r.refunded for r in others) + float(payment.get("refunded_amount") or 0)
    shipping_before = sum(r.refunded_shipping for r in others)
    refund_shipping = "refund_shipping" in inp.tags or bool(inp.params.get("shipping"))
    refund = refund_for(
        round(goods, 2),
        paid_amount(order),
        refunded_before,
        float(order.document.get("shipping_fee") or 0),
        refund_shipping,
        shipping_before,
    )
    if refund.amount <= 0:
        return "nothing to refund", {"amount": 0.0, "goods": 0.0, "shipping": 0.0, "capped": refund.capped}
    # The order's payment provider (its pinned `payments` definition); an API is called outside the transaction.
    pending: Pending = {}
    request = payment_request(order, refund.amount, f"oms-{ret.id}-refund")
    result = move_money(provider_of(session, order), "refund", request, answers or {}, pending)
    if result is None:
        raise CallsNeeded(pending)
    reference = result.reference
    ret.refunded = refund.amount
    ret.refunded_shipping = refund.shipping
    session.add(ret)
    message = (
        f"refunded {refund.amount:.2f} (ref {reference})"
        + (f", shipping {refund.shipping:.2f} included" if refund.shipping else "")
        + ("; capped at what is left of the payment" if refund.capped else "")
    )
    return message, {
        "amount": refund.amount,
        "goods": refund.goods,
        "shipping": refund.shipping,
        "capped": refund.capped,
        "reference": reference,
    }


def refund_return(inp: ReturnStepInput) -> dict:
    """Refund the goods that came back through the payment adapter, never more than the order paid;
    shipping only when the policy tagged refund_shipping."""
    return with_calls(lambda answers: run_return_step(inp, "refunded", lambda s, r, i: _refund(s, r, i, answers)))
