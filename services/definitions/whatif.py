"""The database side of the designer's what-if and of its per-version order counts.

Reads only: recorded orders with the facts their audit computed and their
timelines (what a flow what-if replays), and how many orders started on each
definition version. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from engine.definitions import compile_text, load, parse_published
from engine.flows import EndStep, Flow
from engine.replay import TimelineLine
from engine.whatif import (
    FlowWhatIf,
    RecordedOrder,
    RulesWhatIf,
    flow_whatif,
    plan_reuse,
    rules_whatif,
)
from oms.models import DefinitionVersion, Order, OrderEvent
from services.definitions.publishing import latest

DEFAULT_LAST = 1000
MAX_LAST = 20000


def _rules_name():
    return col(Order.audit)[("rules", "name")].as_string()


def _rules_version():
    return col(Order.audit)[("rules", "version")].as_integer()


def recorded_orders(
    session: Session, last: int, rule_set: str | None = None, flow: str | None = None
) -> list[RecordedOrder]:
    """The ``last`` orders, newest first: those run by ``flow``, else audited ones (by ``rule_set``, when given)."""
    which = Order.flow_name == flow if flow else col(Order.audit).is_not(None)
    query = select(Order.id, col(Order.document), Order.audit, Order.created_at).where(which)
    if rule_set:
        query = query.where(_rules_name() == rule_set)
    rows = session.exec(query.order_by(col(Order.created_at).desc(), col(Order.id).desc()).limit(last)).all()
    out = []
    for order_id, document, audit, created_at in rows:
        audit = audit or {}
        rules = audit.get("rules") or {}
        fired = audit.get("fired")
        out.append(
            RecordedOrder(
                order_id,
                document or {},
                audit.get("facts") or {},
                audit.get("action"),
                created_at.isoformat() if created_at else "",
                tuple(fired) if isinstance(fired, list) else None,
                rules.get("version"),
            )
        )
    return out


def run_rules_whatif(session: Session, draft, last: int = DEFAULT_LAST, draft_raw: dict | None = None) -> RulesWhatIf:
    """A draft rule set over the last orders its live version audited, against that live version."""
    live = latest(session, "rules", draft.name)
    baseline = parse_published(live.body) if live else None
    orders = recorded_orders(session, last, draft.name if live else None)
    label = f"live version v{live.version}" if live else "outcome recorded at audit"
    reuse = None
    if live and draft_raw:
        live_raw = load(live.body).raw
        assert live_raw is not None  # a published body loads
        reuse = plan_reuse(draft_raw, live_raw, live.version)
    return rules_whatif(draft, baseline, orders, label, reuse)


# Timelines are read for this many orders per query (SQLite allows a limited number of parameters).
TIMELINE_CHUNK = 500


def with_timelines(session: Session, orders: list[RecordedOrder]) -> list[RecordedOrder]:
    """The orders with their timelines, in the order the lines were written."""
    lines: dict[str, list[TimelineLine]] = defaultdict(list)
    ids = [o.order_id for o in orders]
    for start in range(0, len(ids), TIMELINE_CHUNK):
        rows = session.exec(
            select(OrderEvent.order_id, OrderEvent.type, OrderEvent.step, col(OrderEvent.data))
            .where(col(OrderEvent.order_id).in_(ids[start : start + TIMELINE_CHUNK]))
            .order_by(col(OrderEvent.order_id), col(OrderEvent.seq), col(OrderEvent.id))
        ).all()
        for order_id, type_, step, data in rows:
            lines[order_id].append(TimelineLine(type_, step, data or {}))
    return [replace(o, timeline=tuple(lines.get(o.order_id, ()))) for o in orders]


def run_flow_whatif(session: Session, draft: Flow, last: int = DEFAULT_LAST) -> FlowWhatIf:
    """A draft flow over the last orders of its name: each replayed to its end or the next wait it has not passed."""
    live = latest(session, "flow", draft.name)
    baseline = parse_published(live.body) if live else None
    orders = with_timelines(session, recorded_orders(session, last, flow=draft.name))
    return flow_whatif(draft, baseline, orders, f"live version v{live.version}" if live else "")


@dataclass
class VersionUse:
    """Orders started on one version: how many, and how many have not ended yet."""

    orders: int = 0
    running: int = 0


def _end_statuses(body: str) -> set[str]:
    try:
        flow = compile_text(body)
    except ValueError:
        return set()
    return {s.status for s in flow.steps.values() if isinstance(s, EndStep) and s.status}


def version_use(session: Session) -> dict[tuple[str, str, int], VersionUse]:
    """(kind, name, version) -> orders on it.

    Flows: every order records the flow version it started with; an order is
    still running until it reaches a status of one of that version's end
    steps. Rule sets: orders whose audit used the version (the audit records
    it). Other kinds are read live when used and not recorded per order.
    """
    use: dict[tuple[str, str, int], VersionUse] = defaultdict(VersionUse)
    flow_rows = session.exec(
        select(Order.flow_name, Order.flow_version, Order.status, func.count()).group_by(
            col(Order.flow_name), col(Order.flow_version), col(Order.status)
        )
    ).all()
    bodies: dict[tuple[str, int], set[str]] = {}
    for name, version, status, count in flow_rows:
        if (name, version) not in bodies:
            row = session.exec(
                select(DefinitionVersion.body).where(
                    DefinitionVersion.kind == "flow",
                    DefinitionVersion.name == name,
                    DefinitionVersion.version == version,
                )
            ).first()
            bodies[(name, version)] = _end_statuses(row) if row else set()
        entry = use[("flow", name, version)]
        entry.orders += count
        if status not in bodies[(name, version)]:
            entry.running += count
    # Grouped over a subquery: PostgreSQL does not match a JSON path in GROUP BY with the same path in SELECT.
    audited = (
        select(_rules_name().label("name"), _rules_version().label("version"))
        .where(col(Order.audit).is_not(None))
        .subquery()
    )
    rule_rows = session.exec(
        select(audited.c.name, audited.c.version, func.count()).group_by(audited.c.name, audited.c.version)
    ).all()
    for name, version, count in rule_rows:
        if name and version is not None:
            use[("rules", name, int(version))].orders += count
    return dict(use)


def parse_last(value: Any, default: int = DEFAULT_LAST) -> int:
    """How many recorded orders a what-if looks at, kept within 1..MAX_LAST."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(MAX_LAST, number))
