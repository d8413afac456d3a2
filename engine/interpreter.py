"""What a flow step means, free of Temporal: the workflow asks, this answers.

The workflow in ``workflows/order.py`` owns timers, signals, Updates and
activities; every decision about *where to go next* is made here so that it
can be unit-tested without a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.expressions import ExpressionError
from engine.flows import (
    ActivityStep,
    ApprovalStep,
    AuditStep,
    Flow,
    Step,
    SwitchStep,
    WaitStep,
)

TIMEOUT = "timeout"


class FlowError(RuntimeError):
    """A flow that cannot go on: a failure its definition does not handle."""


@dataclass(frozen=True)
class Event:
    type: str
    data: dict


def context(order: dict, audit: dict | None, results: dict, events: dict) -> dict[str, Any]:
    """The names expressions can use: order, audit, results (per step), events (per type)."""
    return {"order": order, "audit": audit or {}, "results": results, "events": events}


def next_step(flow: Flow, step: Step, outcome: str | None, ctx: dict[str, Any] | None = None) -> str:
    """The id of the step after ``step`` given its outcome.

    outcome is: None for a completed activity; a failure type for a failed one;
    the action of an audit; the decision of an approval; the event type of a
    wait; ``"timeout"`` for an approval or a wait whose time ran out. Switches
    ignore outcome and evaluate their cases over ``ctx``.
    """
    if isinstance(step, ActivityStep):
        if outcome is None:
            return step.next
        if outcome in step.on_error:
            return step.on_error[outcome]
        raise FlowError(
            f"step {step.id!r}: activity {step.activity!r} failed with {outcome!r}, which the flow does not handle"
        )
    if isinstance(step, SwitchStep):
        return evaluate_switch(step, ctx or {})[0]
    if isinstance(step, (ApprovalStep, WaitStep)) and outcome == TIMEOUT:
        return step.on_timeout
    if isinstance(step, ApprovalStep) and outcome is not None and outcome in step.events:
        return step.events[outcome]
    if isinstance(step, (AuditStep, ApprovalStep, WaitStep)):
        if outcome is not None and outcome in step.on:
            return step.on[outcome]
        raise FlowError(f"step {step.id!r} has no way on for {outcome!r}")
    raise FlowError(f"step {step.id!r} is an end step")


def evaluate_switch(step: SwitchStep, ctx: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The first case whose condition holds, else the default; with the conditions that failed.

    A condition that cannot be evaluated counts as false, so the order takes a
    path the analyst declared instead of stopping; the failure is reported.
    """
    problems: list[str] = []
    for expression, target in step.cases:
        try:
            if expression.is_true(ctx):
                return target, tuple(problems)
        except ExpressionError as exc:
            problems.append(str(exc))
    return step.default, tuple(problems)


def first_awaited_event(step: WaitStep, events: Sequence[Event]) -> int | None:
    """Index of the first received, unconsumed event this wait step reacts to."""
    for index, event in enumerate(events):
        if event.type in step.on:
            return index
    return None


@dataclass(frozen=True)
class TaskState:
    status: str  # open | decided | expired
    role: str = ""  # who decides now: the step's role, or the escalation role
    approvals_by: tuple[str, ...] = ()


def decision_problem(
    step: ApprovalStep, task: TaskState, decision: str, role: str, comment: str, user: str = ""
) -> tuple[str, str] | None:
    """Why a decision must be refused, as (reason code, message); None when it may go in."""
    if task.status != "open":
        return "already_decided", f"task is already {task.status}"
    deciding_role = task.role or step.role
    if role not in (deciding_role, "admin"):
        return "forbidden", f"only role {deciding_role!r} may decide this task"
    if decision not in step.on:
        return "unknown_decision", f"unknown decision {decision!r}; choose one of: {', '.join(step.on)}"
    if decision in step.comment_required and not comment.strip():
        return "comment_required", f"a comment is required to {decision}"
    if decision == "approve" and user and user in task.approvals_by:
        return "same_person", f"{user} approved already; four-eyes needs a second person"
    return None


def expected_scan(lines: Sequence[dict]) -> dict[str, int]:
    """SKU -> quantity a pick, check or pack of these order lines must scan."""
    expected: dict[str, int] = {}
    for line in lines:
        sku = str(line.get("sku"))
        expected[sku] = expected.get(sku, 0) + int(line.get("qty") or 0)
    return expected


def scan_problem(expected: dict[str, int], scans: Sequence[dict]) -> str | None:
    """Why scans do not confirm exactly the expected SKUs and quantities, or None."""
    scanned: dict[str, int] = {}
    for index, scan in enumerate(scans, start=1):
        sku = str(scan.get("sku") or "").strip()
        qty = scan.get("qty", 1)
        if not sku:
            return f"scan {index}: sku is required"
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
            return f"scan {index}: qty must be a whole number of at least 1"
        if sku not in expected:
            return f"scan {index}: {sku} is not in this order; expected {_items(expected)}"
        scanned[sku] = scanned.get(sku, 0) + qty
    if not scans:
        return f"scan every item: expected {_items(expected)}"
    problems = [
        f"{sku}: scanned {scanned.get(sku, 0)} of {qty}" for sku, qty in expected.items() if scanned.get(sku, 0) != qty
    ]
    return "; ".join(problems) if problems else None


def _items(counts: dict[str, int]) -> str:
    return ", ".join(f"{qty} x {sku}" for sku, qty in counts.items())
