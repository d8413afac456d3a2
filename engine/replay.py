"""Read what a recorded order met from its timeline, as a script the simulated effects replay.

What-if walks a draft flow for orders already running or done. What the world
did to an order is on its timeline: the audits' actions, the events that
arrived (and which waits ran out instead), the decisions taken on its tasks
(escalations, four-eyes approvals, expiries), the failures its activities
raised and the data they returned, the answers its http steps got. Keyed by step id, that is an
``engine.simulation.Script``: a draft that keeps a step sees what the order
met there; a step the order never reached finds nothing scripted, and the
walk stops at its first real wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.flows import ActivityStep, Flow
from engine.interpreter import TIMEOUT
from engine.simulation import Script

# Lines the runtime and the task activities write; any other line at an activity step is its activity's.
RUNTIME_LINES = frozenset(
    {
        "waiting",
        "event",
        "timed_out",
        "status",
        "expression_error",
        "completed",
        "ended",
        "webhook_failed",
        "audited",
        "task_opened",
        "task_decided",
        "task_expired",
        "task_closed",
        "task_escalated",
        "task_approved_once",
        "http_response",
        "http_error",
    }
)


@dataclass(frozen=True)
class TimelineLine:
    """One line of an order's timeline, as recorded: its type, the step that wrote it, its data."""

    type: str
    step: str | None
    data: dict[str, Any] = field(default_factory=dict)


def recorded_script(lines: Sequence[TimelineLine], flows: Iterable[Flow], audit_action: str | None = None) -> Script:
    """The script that replays ``lines`` and stops at the first wait the order has not passed.

    ``flows`` (the draft and the version compared with) tell which steps run
    activities and which failures their ``on_error`` handles; ``audit_action``
    is the recorded audit outcome, for an audit step the timeline does not show.
    """
    on_error: dict[str, set[str]] = {}
    for flow in flows:
        for flow_step in flow.steps.values():
            if isinstance(flow_step, ActivityStep):
                on_error.setdefault(flow_step.id, set()).update(flow_step.on_error)
    audit: dict[str, list[str]] = {}
    decisions: dict[str, list[str]] = {}
    events: list[dict[str, Any]] = []
    timeouts: dict[str, list[bool]] = {}
    visits: dict[str, list[str | None]] = {}
    results: dict[str, dict] = {}
    responses: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        step, data = line.step or "", line.data or {}
        if line.type in ("http_response", "http_error"):
            responses.setdefault(step, []).append(_recorded_answer(line.type, data))
        elif line.type == "audited":
            audit.setdefault(step, []).append(str(data.get("action") or audit_action or "approve"))
        elif line.type in ("task_escalated", "task_expired"):
            decisions.setdefault(step, []).append(TIMEOUT)  # a waiting period ran out
        elif line.type == "task_approved_once":
            decisions.setdefault(step, []).append("approve")
        elif line.type == "task_decided":
            decisions.setdefault(step, []).append(str(data.get("decision")))
        elif line.type == "task_closed" and data.get("event"):
            events.append({"type": str(data["event"]), "data": {}})
        elif line.type == "event":
            events.append({"type": str(data.get("type")), "data": dict(data.get("data") or {})})
            timeouts.setdefault(step, []).append(False)
        elif line.type == "timed_out":
            timeouts.setdefault(step, []).append(True)
        elif step in on_error and line.type not in RUNTIME_LINES:
            failed = line.type in on_error[step]
            visits.setdefault(step, []).append(line.type if failed else None)
            if not failed:
                results[step] = dict(data)
    return Script(
        audit=audit,
        decisions={step: list(taken) for step, taken in decisions.items()},
        events=events,
        failures={step: outcomes for step, outcomes in visits.items() if any(outcomes)},
        results=results,
        stop_at_waits=True,
        timeouts={step: outcomes for step, outcomes in timeouts.items() if any(outcomes)},
        audit_default=audit_action or "approve",
        responses={step: list(answers) for step, answers in responses.items()},
    )


def _recorded_answer(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """The answer an http step's timeline line records, as a test case scripts one."""
    if type_ == "http_response":
        return {"status": int(data.get("status") or 200), "body": data.get("body")}
    outcome = str(data.get("outcome") or "")
    return {"status": int(outcome)} if outcome.isdigit() else {"error": outcome or "unreachable"}
