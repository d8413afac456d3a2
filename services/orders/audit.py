"""Audit: evaluate a rule set over the order and its facts, record the outcome."""

from __future__ import annotations

from dataclasses import asdict

from sqlmodel import Session

from engine.rules import evaluate_rules
from oms.db import get_read_engine, session_scope
from oms.models import Order
from services.definitions.pinned import compiled
from services.orders.facts import order_facts
from services.orders.timeline import already_recorded, record
from services.rows import required
from services.rule_reasons import fired_rows, without_translations
from workflows.contracts import AuditInput, AuditOutcome, FiredRuleRecord, Progress


def _stored(audit: dict, rules) -> AuditOutcome:
    return AuditOutcome(
        action=audit["action"],
        fired=[FiredRuleRecord(**f) for f in without_translations(audit["fired"])],
        facts=audit["facts"],
        rules=rules,
    )


def audit_order(inp: AuditInput) -> AuditOutcome:
    """Compute facts, apply the pinned rule set, store the outcome on the order.

    Facts and rules only read, so they run outside the write transaction; the
    write re-checks that no retry of this activity got there first.
    """
    rule_set = compiled(inp.rules)
    with Session(get_read_engine()) as session:
        order = required(session, Order, inp.order_id)
        if order.audit and already_recorded(session, inp.order_id, inp.seq):
            return _stored(order.audit, inp.rules)
        facts = order_facts(session, order)
        document = order.document
    decision = evaluate_rules(rule_set, {"order": document, "facts": facts})
    rows = fired_rows(decision.fired)
    fired = [FiredRuleRecord(**f) for f in without_translations(rows)]
    with session_scope() as session:
        order = required(session, Order, inp.order_id)
        if order.audit and already_recorded(session, inp.order_id, inp.seq):
            return _stored(order.audit, inp.rules)
        order.audit = {
            "action": decision.action,
            "fired": rows,
            "tags": list(decision.tags),
            "facts": facts,
            "rules": asdict(inp.rules),
        }
        order.tags = sorted(set(order.tags) | set(decision.tags))
        session.add(order)
        reasons = "; ".join(f.reason for f in fired if f.action != "tag") or "no rule held it"
        record(
            session,
            Progress(
                order_id=inp.order_id,
                seq=inp.seq,
                type="audited",
                step=inp.step,
                message=f"audit by {inp.rules.name} v{inp.rules.version}: {decision.action} ({reasons})",
                status=inp.status,
                data={"action": decision.action, "fired": [asdict(f) for f in fired]},
            ),
        )
    return AuditOutcome(action=decision.action, fired=fired, facts=facts, rules=inp.rules)
