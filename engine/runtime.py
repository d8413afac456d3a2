"""The one flow interpreter: walks a flow step by step, driving an effects interface.

Production (``workflows/flow.py``) supplies effects that run activities, wait
on Temporal timers and signals and open human tasks; test cases and what-if
(``engine/simulation.py``) supply simulated ones: scripted events, decisions,
failures and timeouts. What a step *means* — which outcome leads where, what
expressions see, what is recorded on the timeline — is decided here only, so
what the designer predicts is what production does.

The order of the effects called here is the order of the commands a workflow
sends to Temporal: changing it breaks the replay of recorded histories (see
``tests/workflows/test_replay.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.flows import (
    ActivityStep,
    ApprovalStep,
    AuditStep,
    EndStep,
    Flow,
    HttpStep,
    Step,
    SwitchStep,
    WaitStep,
)
from engine.http_steps import (
    HttpRequest,
    HttpResponse,
    HttpStepError,
    describe_saved,
    error_key,
    outcome_of,
    recorded_body,
)
from engine.interpreter import TIMEOUT, Event, FlowError, evaluate_switch, next_step

MAX_STEPS = 10_000


class StepFailed(Exception):
    """An activity failed with a typed business failure; the flow's ``on_error`` may handle it."""

    def __init__(self, type_: str, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.type = type_
        self.message = message
        self.cause = cause


@dataclass(frozen=True)
class TaskOutcome:
    """How a human task ended: a decision, an event that closes it, or neither (timed out)."""

    decision: str | None = None
    event: Event | None = None

    @property
    def name(self) -> str:
        if self.event is not None:
            return self.event.type
        return self.decision if self.decision is not None else TIMEOUT


@dataclass
class FlowState:
    """What a running flow knows: the order (or return) document and what its steps produced."""

    order: dict[str, Any]
    audit: dict[str, Any] | None = None
    results: dict[str, dict] = field(default_factory=dict)
    received: dict[str, dict] = field(default_factory=dict)
    last_event: Event | None = None
    step_id: str = ""
    path: list[str] = field(default_factory=list)
    # Further names expressions see (a return flow: ``return``).
    extra: dict[str, Any] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """The names expressions can use: order, audit, results (per step), events (per type), extras."""
        return {
            "order": self.order,
            "audit": self.audit or {},
            "results": self.results,
            "events": self.received,
            **self.extra,
        }


class FlowEffects(Protocol):
    """What the interpreter asks of the world. Real in a workflow, simulated in the designer."""

    async def activity(self, step: ActivityStep, state: FlowState) -> dict:
        """Run the step's activity; its result data. Raises StepFailed for a typed business failure."""
        ...

    async def audit(self, step: AuditStep, state: FlowState) -> dict:
        """Evaluate the step's rules: {action, fired, ...}."""
        ...

    async def http(self, step: HttpStep, request: HttpRequest) -> HttpResponse:
        """Send an http step's request; its 2xx answer. Raises StepFailed typed ``http_<outcome>`` otherwise."""
        ...

    async def open_task(self, step: ApprovalStep, state: FlowState) -> None:
        """Put the approval step's task in the inbox, open for decisions from now on."""
        ...

    async def escalate_task(self, step: ApprovalStep, role: str, seconds: float) -> None:
        """Hand the open task to ``role`` for ``seconds``."""
        ...

    async def await_task(self, step: ApprovalStep, seconds: float) -> TaskOutcome | None:
        """A decision or a closing event within ``seconds``; None when the time ran out."""
        ...

    async def close_task(self, step: ApprovalStep, outcome: TaskOutcome) -> None:
        """Record how the task ended."""
        ...

    async def await_event(self, step: WaitStep) -> Event | None:
        """The first received event the wait step reacts to (consumed); None after its timeout."""
        ...

    async def record(
        self, type_: str, step_id: str, message: str, status: str | None = None, data: dict | None = None
    ) -> None:
        """A line on the timeline (and the status, if given)."""
        ...

    def reached(self, status: str | None) -> None:
        """The order reached ``status`` by a step's own activity (no extra timeline line)."""
        ...


async def run_flow(flow: Flow, effects: FlowEffects, state: FlowState, start: str | None = None) -> EndStep:
    """Walk ``flow`` from its start (or from step ``start``: a repair's retry) to an end step; the end step."""
    step: Step = flow.steps[start or flow.start]
    for _ in range(MAX_STEPS):
        if isinstance(step, EndStep):
            state.step_id = step.id
            state.path.append(step.id)
            return step
        state.step_id = step.id
        state.path.append(step.id)
        step = flow.steps[await run_step(flow, step, effects, state)]
    raise FlowError(f"no end after {MAX_STEPS} steps (a loop?)")


async def run_step(flow: Flow, step: Step, effects: FlowEffects, state: FlowState) -> str:
    """Run one step; the id of the step after it."""
    if isinstance(step, SwitchStep):
        # Evaluated once: the target recorded is the target taken.
        target, problems = evaluate_switch(step, state.context())
        if problems or step.status:
            message = "; ".join(problems) + (f"; went on to {target}" if problems else "")
            await effects.record("expression_error" if problems else "status", step.id, message, step.status)
        return target
    if isinstance(step, HttpStep):
        return await _http(step, effects, state)
    outcome: str | None
    if isinstance(step, ActivityStep):
        outcome = await _activity(step, effects, state)
    elif isinstance(step, AuditStep):
        outcome = await _audit(step, effects, state)
    elif isinstance(step, ApprovalStep):
        outcome = await _approval(step, effects, state)
    elif isinstance(step, WaitStep):
        outcome = await _wait(step, effects, state)
    else:
        raise FlowError(f"unknown step type {type(step).__name__}")
    return next_step(flow, step, outcome)


async def _activity(step: ActivityStep, effects: FlowEffects, state: FlowState) -> str | None:
    try:
        data = await effects.activity(step, state)
    except StepFailed as failure:
        if failure.type in step.on_error:
            await effects.record(failure.type, step.id, failure.message)
            return failure.type
        if failure.cause is not None:
            # The original failure, its cause (the activity's error) kept for the repair task to show.
            raise failure.cause from failure.cause.__cause__
        raise FlowError(
            f"step {step.id!r}: activity {step.activity!r} failed with {failure.type!r}, which the flow does not handle"
        ) from None
    state.results[step.id] = data
    # An activity that changed the order (e.g. its address) says so; expressions then see the change.
    if isinstance(data.get("order_update"), dict):
        state.order = {**state.order, **data["order_update"]}
    effects.reached(step.status)
    return None


async def _http(step: HttpStep, effects: FlowEffects, state: FlowState) -> str:
    try:
        request = step.call.request(state.context())
    except HttpStepError as exc:
        raise FlowError(f"step {step.id!r}: {exc}") from None
    try:
        response = await effects.http(step, request)
    except StepFailed as failure:
        return await _http_failed(step, request, failure, effects)
    saved, problems = step.call.saved(response)
    state.results[step.id] = {"status": response.status, **saved}
    message = f"{request.method} {request.target} answered {response.status}"
    await effects.record(
        "http_response",
        step.id,
        message + (f"; saved {describe_saved(saved)}" if saved else ""),
        step.status,
        {
            "method": request.method,
            "url": request.target,
            "status": response.status,
            "saved": saved,
            **recorded_body(response.body),
        },
    )
    if problems:
        await effects.record("expression_error", step.id, "; ".join(problems))
    return step.next


async def _http_failed(step: HttpStep, request: HttpRequest, failure: StepFailed, effects: FlowEffects) -> str:
    """Where an http step goes without a 2xx answer: the on_error key naming the outcome, else the step fails."""
    outcome = outcome_of(failure.type)
    key = error_key(step.on_error, outcome) if outcome is not None else None
    if outcome is not None and key is not None:
        target = step.on_error[key]
        data = {"outcome": outcome, "on_error": key, "method": request.method, "url": request.target}
        await effects.record("http_error", step.id, f"{failure.message}; on_error {key}: {target}", data=data)
        return target
    if failure.cause is not None:
        # The activity's failure itself, for the repair task to show.
        raise failure.cause from failure.cause.__cause__
    raise FlowError(f"step {step.id!r}: {failure.message}, which the flow does not handle") from None


async def _audit(step: AuditStep, effects: FlowEffects, state: FlowState) -> str:
    state.audit = await effects.audit(step, state)
    effects.reached(step.status)
    return str(state.audit["action"])


async def _approval(step: ApprovalStep, effects: FlowEffects, state: FlowState) -> str:
    await effects.open_task(step, state)
    outcome: TaskOutcome | None = None
    for index, (role, seconds) in enumerate(step.phases()):
        if index:
            await effects.escalate_task(step, role, seconds)
        outcome = await effects.await_task(step, seconds)
        if outcome is not None:
            break
    outcome = outcome or TaskOutcome()
    if outcome.event is not None:
        state.received[outcome.event.type] = outcome.event.data
        state.last_event = outcome.event
    await effects.close_task(step, outcome)
    return outcome.name


async def _wait(step: WaitStep, effects: FlowEffects, state: FlowState) -> str:
    if step.status:
        await effects.record("waiting", step.id, f"waiting for {', '.join(step.on)}", step.status)
    event = await effects.await_event(step)
    if event is None:
        await effects.record("timed_out", step.id, f"no {' or '.join(step.on)} within the timeout")
        return TIMEOUT
    state.received[event.type] = event.data
    state.last_event = event
    await effects.record(
        "event", step.id, f"event {event.type} received", data={"type": event.type, "data": event.data}
    )
    return event.type


def task_event(step: ApprovalStep, events: list[Event]) -> int | None:
    """Index of a received event that ends this approval step's task, if any."""
    if not step.events:
        return None
    for index, event in enumerate(events):
        if event.type in step.events:
            return index
    return None


def approval_reason(step: ApprovalStep, state: FlowState) -> str:
    """What the task says: the reasons of the audit rules that held the order."""
    return "; ".join(f["reason"] for f in (state.audit or {}).get("fired", []) if f["action"] != "tag")
