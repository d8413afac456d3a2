"""The flow workflow: Temporal effects for the one interpreter in ``engine.runtime``.

Orders (``order_flow.py``) and returns (``return_flow.py``) are small
extensions of this class: what they add is the document expressions see, the
activity payloads, the decision Update with its validator, and what a task
must carry (four-eyes for orders, a quality check for returns). The step loop,
waits, timeouts and the ``event`` signal are here, once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from engine.flows import ApprovalStep, Flow, HttpStep, WaitStep
    from engine.http_steps import HttpRequest, HttpResponse
    from engine.interpreter import Event, FlowError, first_awaited_event
    from engine.runtime import FlowEffects, FlowState, StepFailed, TaskOutcome, run_flow, task_event
    from workflows.contracts import (
        REPAIR_DECISIONS,
        REPAIR_ROLE,
        Decision,
        DecisionAccepted,
        ExternalEvent,
        HttpAnswer,
        HttpCall,
        HttpSecret,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Bounded: an activity that keeps failing fails its workflow, which the order shows as `failed`
# with an operator task, instead of retrying for ever. Business failures are non-retryable.
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)

# An http step's attempt may take its own timeout (at most 60s) and this much more before Temporal gives up on it.
HTTP_GRACE = timedelta(seconds=10)

# workflow.patched markers (see README, "Changing workflow code safely").
TASK_BEFORE_OPEN = "task-recorded-before-open"
# A failure no on_error maps no longer fails the workflow: the order shows `failed` with the error
# and waits for an operator's repair decision.
REPAIR_ON_FAILURE = "failure-opens-repair-task"


class FlowWorkflow:
    """Shared plumbing of the flow workflows; not a workflow by itself."""

    def __init__(self) -> None:
        self._seq = 0
        self._events: list[Event] = []
        self._task: dict[str, Any] | None = None  # id, step, state, role, approvals, needs
        self._decision: Any = None
        self._decision_recorded = False
        self._flow: Flow | None = None
        self._state = FlowState(order={})

    # ---- handlers -------------------------------------------------------

    @workflow.signal(name="event")
    def on_event(self, event: ExternalEvent) -> None:
        self._events.append(Event(event.type, dict(event.data)))

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        return {"step": self._state.step_id, "path": list(self._state.path), "task": self._task}

    def _open_task(self, task_id: str, what: str) -> tuple[Flow, dict[str, Any], ApprovalStep]:
        """The flow, the open task ``task_id`` names and the approval step that opened it; refused otherwise."""
        task = self._task
        if self._flow is None or task is None or task["id"] != task_id:
            raise ApplicationError(f"task is not open on this {what}", type="already_decided")
        step = self._flow.steps[task["step"]]
        assert isinstance(step, ApprovalStep)  # only approval steps open tasks
        return self._flow, task, step

    def _refuse_if_closing(self, step: ApprovalStep) -> None:
        """An event that ends the task has arrived (a cancellation, say): it wins over a decision,
        as it does in test cases and what-if, which take the events that arrived first."""
        if task_event(step, self._events) is not None:
            raise ApplicationError("the task is closing: an event that ends it has arrived", type="already_decided")

    # ---- failures: visible and repairable -------------------------------

    async def run_repairable(self, flow: Flow) -> tuple[str, str | None]:
        """Run the flow to its end: (the last step, the final status).

        An activity failure no ``on_error`` maps (after its bounded retries) sets the order or
        return to ``failed`` with the error on its timeline and opens a repair task: ``retry``
        runs the failed step again (or the cancellation that failed), ``cancel`` releases what
        is held and gives the money back, ``handled`` ends the flow as it is.
        """
        start: str | None = None
        cancelling = False
        while True:
            try:
                if cancelling:
                    await self.cancel_after_failure()
                    return self._state.step_id, "cancelled"
                end = await run_flow(flow, cast(FlowEffects, self), self._state, start)
                return end.id, end.status
            except (ActivityError, FlowError) as exc:
                if isinstance(exc, ActivityError) and isinstance(exc.cause, CancelledError):
                    raise
                # Histories recorded before this patch failed here: they keep failing on replay.
                if not workflow.patched(REPAIR_ON_FAILURE):
                    raise
                decision = await self._repair(exc)
            if decision == "handled":
                return self._state.step_id, "handled"
            if decision == "cancel":
                cancelling = True
            start = self._state.step_id

    async def _repair(self, exc: Exception) -> str:
        """Record the failure, open the repair task and wait (without a timeout) for its decision."""
        step_id = self._state.step_id
        message = failure_message(exc)
        await self.record(
            "failed", step_id, f"step {step_id} failed: {message}", "failed", {"error": message, "step": step_id}
        )
        seq = self._next_seq()
        self._task = {
            "id": self.task_id(seq),
            "step": step_id,
            "state": "open",
            "role": REPAIR_ROLE,
            "approvals": [],
            "needs": 1,
            "repair": True,
        }
        self._decision, self._decision_recorded = None, False
        await self.open_repair_task(seq, step_id, message)
        await workflow.wait_condition(lambda: self._decision is not None)
        decision: str = self._decision.decision
        await self.close_task(None, TaskOutcome(decision=decision))
        return decision

    def _repairing(self, task_id: str) -> bool:
        return self._task is not None and self._task["id"] == task_id and bool(self._task.get("repair"))

    def _repair_problem(self, decision: Decision) -> tuple[str, str] | None:
        """Why the repair task refuses ``decision``, as the validator's (code, message); None if it takes it."""
        assert self._task is not None
        if self._task["state"] != "open":
            return "already_decided", "task is already decided"
        if decision.role not in (REPAIR_ROLE, "admin"):
            return "forbidden", f"only role {REPAIR_ROLE!r} may decide this task"
        if decision.decision not in REPAIR_DECISIONS:
            return (
                "unknown_decision",
                f"unknown decision {decision.decision!r}; expected one of {list(REPAIR_DECISIONS)}",
            )
        return None

    async def _decide_repair(self, decision: Decision) -> DecisionAccepted:
        assert self._task is not None
        step_id = self._task["step"]
        self._decision = decision
        self._task["state"] = "decided"
        await workflow.wait_condition(lambda: self._decision_recorded)
        target = step_id if decision.decision == "retry" else decision.decision
        return DecisionAccepted(task_id=decision.task_id, decision=decision.decision, next_step=target)

    def task_id(self, seq: int) -> str:
        """The id the task opened at ``seq`` gets (the services derive the same)."""
        raise NotImplementedError

    async def record(
        self, type_: str, step_id: str, message: str, status: str | None = None, data: dict | None = None
    ) -> None:
        raise NotImplementedError

    async def close_task(self, step: ApprovalStep | None, outcome: TaskOutcome) -> None:
        """Record how the open task ended (``step`` None: the repair task)."""
        raise NotImplementedError

    async def open_repair_task(self, seq: int, step_id: str, message: str) -> None:
        raise NotImplementedError

    async def cancel_after_failure(self) -> None:
        """Release what the order (or return) holds and give the money back."""
        raise NotImplementedError

    # ---- effects shared by every flow ------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _execute(
        self,
        name: str,
        arg: Any,
        result_type: type | None = None,
        start_to_close: timedelta = ACTIVITY_TIMEOUT,
        retry: RetryPolicy = RETRY,
    ) -> Any:
        return await workflow.execute_activity(
            name, arg, result_type=result_type, start_to_close_timeout=start_to_close, retry_policy=retry
        )

    async def _execute_step(
        self,
        name: str,
        arg: Any,
        result_type: type,
        start_to_close: timedelta = ACTIVITY_TIMEOUT,
        retry: RetryPolicy = RETRY,
    ) -> Any:
        """Run a step's activity; a typed business failure becomes StepFailed for the flow's on_error."""
        try:
            return await self._execute(name, arg, result_type, start_to_close, retry)
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type is not None:
                raise StepFailed(cause.type, str(cause.message), exc) from exc
            raise

    async def http(self, step: HttpStep, request: HttpRequest) -> HttpResponse:
        """An http step's request as the ``http_request`` activity, retried by the step's own policy.

        Its failure is typed for the flow's ``on_error`` (``http_404``, ``http_timeout`` ...).
        """
        spec = step.call
        call = HttpCall(
            workflow_id=workflow.info().workflow_id,
            step=step.id,
            seq=self._next_seq(),
            method=request.method,
            url=request.url,
            endpoint=request.endpoint,
            path=request.path,
            headers=dict(request.headers),
            secrets=[HttpSecret(header=s.name, env=s.env, prefix=s.prefix) for s in request.secrets],
            body=request.body,
            timeout_seconds=spec.timeout_seconds,
        )
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=spec.backoff_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(seconds=spec.max_backoff_seconds),
            maximum_attempts=spec.max_attempts,
        )
        start_to_close = timedelta(seconds=spec.timeout_seconds) + HTTP_GRACE
        try:
            answer: HttpAnswer = await self._execute_step("http_request", call, HttpAnswer, start_to_close, retry)
        except ActivityError as exc:
            # The attempt outlived even the grace Temporal gives it: as good as no answer.
            if isinstance(exc.cause, ActivityTimeout):
                message = f"{request.method} {request.target} did not answer in time"
                raise StepFailed("http_timeout", message, exc) from exc
            raise
        return HttpResponse(answer.status, answer.body, dict(answer.headers))

    async def await_task(self, step: ApprovalStep, seconds: float) -> TaskOutcome | None:
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None or task_event(step, self._events) is not None,
                timeout=timedelta(seconds=seconds),
            )
        except TimeoutError:
            return None
        if self._decision is not None:
            return TaskOutcome(decision=self._decision.decision)
        index = task_event(step, self._events)
        assert index is not None  # the wait ended because a closing event arrived
        return TaskOutcome(event=self._events.pop(index))

    def _task_ended(self, outcome: TaskOutcome) -> None:
        assert self._task is not None
        if outcome.event is not None:
            self._task["state"] = "closed"
        elif outcome.decision is None:
            self._task["state"] = "expired"

    async def await_event(self, step: WaitStep) -> Event | None:
        try:
            await workflow.wait_condition(
                lambda: first_awaited_event(step, self._events) is not None,
                timeout=timedelta(seconds=step.timeout_seconds),
            )
        except TimeoutError:
            return None
        index = first_awaited_event(step, self._events)
        assert index is not None  # the wait ended because an awaited event arrived
        return self._events.pop(index)

    def reached(self, status: str | None) -> None:
        """Nothing by default; orders push their status to the channel."""


def failure_message(exc: BaseException) -> str:
    """What went wrong, for the timeline and the repair task: the activity and its last error."""
    if isinstance(exc, ActivityError):
        cause = exc.cause
        detail = cause.message if isinstance(cause, FailureError) else str(cause or exc)
        kind = f" ({cause.type})" if isinstance(cause, ApplicationError) and cause.type else ""
        return f"activity {exc.activity_type} failed{kind}: {detail}"
    return str(exc)
