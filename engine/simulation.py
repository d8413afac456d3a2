"""Simulated effects for the one interpreter: test cases and what-if run a flow without a server.

A script says what the world does; everything else is what production does,
because the steps run in ``engine.runtime.run_flow`` exactly as in a workflow:

- ``audit``: the action of every audit step, or ``{step: action}``, or ``{step: [action per visit]}``;
- ``decisions``: ``{step: decision}`` (every visit) or ``{step: [decision, ...]}``, one per
  period the task waits: ``timeout`` lets that period run out (an escalation, then expiry);
  a four-eyes approval takes two ``approve``;
- ``events``: event types (or ``{type, data}``) that have arrived, in order; a wait or an
  approval takes the first one it reacts to, as a workflow takes queued signals;
- ``failures``: ``{step: failure}`` (every visit) or ``{step: [failure or null per visit]}``;
- ``results``: ``{step: data}`` an activity returns (e.g. ``{order_update: {...}}``);
- ``responses``: ``{step: {status, body}}`` an http step gets (or ``{error: timeout}``), or a list: one
  per visit; a step without one gets its ``example_response`` (default: 200, an empty body);
- ``timeouts``: ``{step: true}`` (every visit) or ``{step: [true or false per visit]}``: a wait
  that runs out on that visit whatever has arrived (what-if replays a recorded timeout so);
- ``audit_default``: the action of an audit step ``audit`` (a mapping) does not name.

An approval or wait with nothing scripted times out, or, with ``stop_at_waits``, the
walk stops there: where a recorded order would now be waiting.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from engine.flows import ActivityStep, ApprovalStep, AuditStep, Flow, HttpStep, WaitStep
from engine.http_steps import FAILURE_PREFIX, HttpRequest, HttpResponse, scripted_answer
from engine.interpreter import TIMEOUT, Event, FlowError, first_awaited_event
from engine.runtime import FlowState, StepFailed, TaskOutcome, run_flow, task_event


class Suspended(Exception):
    """The walk reached a wait with nothing scripted, and was asked to stop there."""


@dataclass
class Script:
    audit: Any = "approve"
    decisions: dict[str, Any] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)
    failures: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)
    stop_at_waits: bool = False
    timeouts: dict[str, Any] = field(default_factory=dict)
    audit_default: str = "approve"
    responses: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exchange:
    """An http step's simulated call: the request it rendered and the answer it took, and whose answer that was."""

    step: str
    method: str
    target: str
    answer: str  # "200", "404", "timeout"
    source: str  # "scripted" (the case or the recorded order) or "example" (the step's example_response)
    body: str | None = None

    def __str__(self) -> str:
        said = f"answered {self.answer}" if self.answer.isdigit() else f"got no answer ({self.answer})"
        return f"{self.step}: {self.method} {self.target} {said} ({self.source})"


@dataclass(frozen=True)
class Simulated:
    """Where the flow took the order: path, status, whether it ended, the activities called."""

    path: tuple[str, ...]
    status: str | None
    ended: bool
    activities: tuple[str, ...]
    problem: str = ""
    exchanges: tuple[Exchange, ...] = ()


def _per_visit(value: Any, visit: int) -> Any:
    if isinstance(value, list):
        return value[visit] if visit < len(value) else None
    return value


class SimulatedEffects:
    """FlowEffects from a Script: no timers, no I/O; every call is noted."""

    def __init__(self, flow: Flow, script: Script):
        self.flow = flow
        self.script = script
        self.pending = [
            Event(e, {}) if isinstance(e, str) else Event(str(e.get("type")), dict(e.get("data") or {}))
            for e in script.events
        ]
        self.visits: dict[str, int] = {}
        self.decision_pulls: dict[str, int] = {}
        self.calls: list[str] = []
        self.exchanges: list[Exchange] = []
        self.approvals = 0
        self.needs = 1

    def _visit(self, step_id: str) -> int:
        visit = self.visits.get(step_id, 0)
        self.visits[step_id] = visit + 1
        return visit

    async def activity(self, step: ActivityStep, state: FlowState) -> dict:
        self.calls.append(step.activity)
        failure = _per_visit(self.script.failures.get(step.id), self._visit(step.id))
        if failure:
            raise StepFailed(str(failure), f"{step.activity} failed with {failure} (scripted)")
        return dict(self.script.results.get(step.id) or {})

    async def http(self, step: HttpStep, request: HttpRequest) -> HttpResponse:
        scripted = _per_visit(self.script.responses.get(step.id), self._visit(step.id))
        answer = scripted_answer(scripted if isinstance(scripted, dict) else step.call.example)
        outcome = str(answer.status) if isinstance(answer, HttpResponse) else answer
        source = "scripted" if isinstance(scripted, dict) else "example"
        self.exchanges.append(Exchange(step.id, request.method, request.target, outcome, source, request.body))
        if isinstance(answer, str):
            said = f"gave no answer ({answer})" if not answer.isdigit() else f"answered {answer}"
            raise StepFailed(FAILURE_PREFIX + answer, f"{request.method} {request.target} {said} ({source})")
        return answer

    async def audit(self, step: AuditStep, state: FlowState) -> dict:
        self.calls.append("audit_order" if self.flow.serves != "return" else "audit_return")
        audit = self.script.audit
        default = self.script.audit_default
        action = audit.get(step.id, default) if isinstance(audit, dict) else audit
        action = _per_visit(action, self._visit(step.id)) or default
        return {"action": str(action), "fired": [], "tags": []}

    async def open_task(self, step: ApprovalStep, state: FlowState) -> None:
        self.calls.append("open_task")
        self.approvals = 0
        self.needs = 2 if step.needs_two_approvals(float(state.order.get("total") or 0)) else 1

    async def escalate_task(self, step: ApprovalStep, role: str, seconds: float) -> None:
        self.calls.append("escalate_task")

    def _next_decision(self, step: ApprovalStep) -> str | None:
        scripted = self.script.decisions.get(step.id)
        if scripted is None:
            return None
        if isinstance(scripted, list):
            pulls = self.decision_pulls.get(step.id, 0)
            self.decision_pulls[step.id] = pulls + 1
            return str(scripted[pulls]) if pulls < len(scripted) else None
        return str(scripted)

    async def await_task(self, step: ApprovalStep, seconds: float) -> TaskOutcome | None:
        index = task_event(step, self.pending)
        if index is not None:
            return TaskOutcome(event=self.pending.pop(index))
        while True:
            decision = self._next_decision(step)
            if decision is None:
                if self.script.stop_at_waits:
                    raise Suspended(step.id)
                return None
            if decision == TIMEOUT:
                return None
            if decision == "approve" and self.approvals + 1 < self.needs:
                self.approvals += 1
                self.calls.append("record_approval")
                continue
            return TaskOutcome(decision=decision)

    async def close_task(self, step: ApprovalStep, outcome: TaskOutcome) -> None:
        self.calls.append("close_task")

    async def await_event(self, step: WaitStep) -> Event | None:
        if _per_visit(self.script.timeouts.get(step.id), self._visit(step.id)):
            return None
        index = first_awaited_event(step, self.pending)
        if index is None:
            if self.script.stop_at_waits:
                raise Suspended(step.id)
            return None
        return self.pending.pop(index)

    async def record(
        self, type_: str, step_id: str, message: str, status: str | None = None, data: dict | None = None
    ) -> None:
        return None

    def reached(self, status: str | None) -> None:
        return None


def run_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never waits (simulated effects) to its end, inside or outside an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a simulated flow waited on something real")


def simulate(flow: Flow, order: dict, script: Script, extra: dict | None = None) -> Simulated:
    """Walk ``flow`` for ``order`` under ``script`` with the production interpreter."""
    effects = SimulatedEffects(flow, script)
    state = FlowState(order=order, audit={} if flow.serves == "return" else None, extra=dict(extra or {}))
    problem, ended = "", False
    try:
        run_now(run_flow(flow, effects, state))
        ended = True
    except Suspended:
        pass
    except (FlowError, StepFailed) as exc:
        problem = str(exc)
    status = None
    for step_id in state.path:
        status = flow.steps[step_id].status or status
    if problem:
        status = "failed"  # as in production, where the order then waits for an operator's repair
    return Simulated(tuple(state.path), status, ended, tuple(effects.calls), problem, tuple(effects.exchanges))
