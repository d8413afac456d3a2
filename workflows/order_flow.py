"""The order workflow: runs the flow definition version it was started with.

Plumbing only: timers, signals, Updates, activities. Where to go next is
decided by ``engine.interpreter``.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.definitions import compile_text
    from engine.flows import (
        ActivityStep,
        ApprovalStep,
        AuditStep,
        EndStep,
        Flow,
        Step,
        SwitchStep,
        WaitStep,
    )
    from engine.interpreter import (
        TIMEOUT,
        Event,
        TaskState,
        context,
        decision_problem,
        evaluate_switch,
        expected_scan,
        first_awaited_event,
        next_step,
        scan_problem,
    )
    from workflows.contracts import (
        AuditInput,
        AuditOutcome,
        Decision,
        DecisionAccepted,
        ExternalEvent,
        OrderInput,
        OrderResult,
        Progress,
        StatusPush,
        StepInput,
        StepResult,
        TaskApproval,
        TaskClose,
        TaskEscalation,
        TaskInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30))
PUSH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=5))


@workflow.defn(name="OrderFlow")
class OrderWorkflow:
    def __init__(self) -> None:
        self._seq = 0
        self._events: list[Event] = []
        self._received: dict[str, dict] = {}
        self._results: dict[str, dict] = {}
        self._audit: dict[str, Any] | None = None
        self._step_id = ""
        self._path: list[str] = []
        self._task: dict[str, Any] | None = None  # id, step, state
        self._decision: Decision | None = None
        self._decision_recorded = False
        self._flow: Flow | None = None
        self._order: dict[str, Any] = {}
        self._last_event: Event | None = None
        self._status: str | None = None
        self._pushes_running = 0

    # ---- handlers -------------------------------------------------------

    @workflow.signal(name="event")
    def on_event(self, event: ExternalEvent) -> None:
        self._events.append(Event(event.type, dict(event.data)))

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        return {"step": self._step_id, "path": list(self._path), "task": self._task}

    @workflow.update(name="decide")
    async def decide(self, decision: Decision) -> DecisionAccepted:
        task = self._task
        step = self._flow.steps[task["step"]]
        if decision.decision == "approve" and len(task["approvals"]) + 1 < task["needs"]:
            # Four-eyes: the first approval is recorded; the task waits for a second person.
            task["approvals"].append(decision.user)
            await workflow.execute_activity(
                "record_approval",
                TaskApproval(task_id=task["id"], order_id=self._inp.order_id, seq=self._next_seq(),
                             user=decision.user, role=decision.role, comment=decision.comment),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
            )
            return DecisionAccepted(task_id=decision.task_id, decision=decision.decision, next_step=step.id)
        self._decision = decision
        task["state"] = "decided"
        target = next_step(self._flow, step, decision.decision)
        await workflow.wait_condition(lambda: self._decision_recorded)
        return DecisionAccepted(task_id=decision.task_id, decision=decision.decision, next_step=target)

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        task = self._task
        if task is None or task["id"] != decision.task_id:
            raise ApplicationError("task is not open on this order", type="already_decided")
        step = self._flow.steps[task["step"]]
        state = TaskState(task["state"], task["role"], tuple(task["approvals"]))
        problem = decision_problem(step, state, decision.decision, decision.role, decision.comment, decision.user)
        if problem:
            code, message = problem
            raise ApplicationError(message, type=code)
        if decision.decision in step.scan:
            problem = scan_problem(expected_scan(self._order.get("lines", [])), decision.scans)
            if problem:
                raise ApplicationError(problem, type="scan_mismatch")

    # ---- the interpreter loop -------------------------------------------

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        self._flow = flow = compile_text(inp.flow_text)
        self._order = inp.order
        self._inp = inp
        step: Step = flow.steps[flow.start]
        while not isinstance(step, EndStep):
            self._step_id = step.id
            self._path.append(step.id)
            outcome = await self._run_step(step)
            ctx = context(self._order, self._audit, self._results, self._received)
            step = flow.steps[next_step(flow, step, outcome, ctx)]
        self._step_id = step.id
        self._path.append(step.id)
        await self._progress("completed" if step.status == "completed" else "ended", step.id,
                             f"flow {flow.name} v{inp.flow.version} ended: {step.status}", step.status)
        await workflow.wait_condition(lambda: self._pushes_running == 0)
        return OrderResult(order_id=inp.order_id, status=step.status or "", path=self._path)

    async def _run_step(self, step: Step) -> str | None:
        if isinstance(step, ActivityStep):
            return await self._activity(step)
        if isinstance(step, AuditStep):
            return await self._audit_step(step)
        if isinstance(step, ApprovalStep):
            return await self._approval(step)
        if isinstance(step, WaitStep):
            return await self._wait(step)
        if isinstance(step, SwitchStep):
            ctx = context(self._order, self._audit, self._results, self._received)
            target, problems = evaluate_switch(step, ctx)
            if problems or step.status:
                message = "; ".join(problems) + (f"; went on to {target}" if problems else "")
                await self._progress("expression_error" if problems else "status", step.id, message, step.status)
            return None
        raise ApplicationError(f"unknown step type {type(step).__name__}", non_retryable=True)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _activity(self, step: ActivityStep) -> str | None:
        last_event = self._last_event
        inp = StepInput(
            order_id=self._inp.order_id, step=step.id, seq=self._next_seq(), status=step.status,
            params=dict(step.params), event=last_event.data if last_event else None,
        )
        try:
            result: StepResult = await workflow.execute_activity(
                step.activity, inp, result_type=StepResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type in step.on_error:
                await self._progress(cause.type, step.id, str(cause.message))
                return cause.type
            raise
        self._results[step.id] = result.data
        # An activity that changed the order (e.g. its address) says so; expressions then see the change.
        if isinstance(result.data.get("order_update"), dict):
            self._order = {**self._order, **result.data["order_update"]}
        self._status_changed(step.status)
        return None

    async def _audit_step(self, step: AuditStep) -> str:
        outcome: AuditOutcome = await workflow.execute_activity(
            "audit_order",
            AuditInput(order_id=self._inp.order_id, step=step.id, seq=self._next_seq(),
                       rules=self._inp.rules[step.rules], status=step.status),
            result_type=AuditOutcome, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        self._audit = {"action": outcome.action, "fired": [asdict(f) for f in outcome.fired]}
        self._status_changed(step.status)
        return outcome.action

    async def _approval(self, step: ApprovalStep) -> str:
        reason = "; ".join(f["reason"] for f in (self._audit or {}).get("fired", []) if f["action"] != "tag")
        if step.scan:
            reason = "scan " + ", ".join(f"{q} x {s}" for s, q in expected_scan(self._order.get("lines", [])).items())
        needs = 2 if step.needs_two_approvals(float(self._order.get("total") or 0)) else 1
        task_id: str = await workflow.execute_activity(
            "open_task",
            TaskInput(order_id=self._inp.order_id, workflow_id=workflow.info().workflow_id, step=step.id,
                      seq=self._next_seq(), title=step.title, role=step.role, decisions=list(step.on),
                      due_seconds=step.due_seconds, reason=reason, status=step.status, needs_approvals=needs),
            result_type=str, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        self._task = {"id": task_id, "step": step.id, "state": "open", "role": step.role,
                      "approvals": [], "needs": needs}
        self._status_changed(step.status)
        self._decision, self._decision_recorded = None, False
        for index, (role, seconds) in enumerate(step.phases()):
            if index:
                self._task["role"] = role
                await workflow.execute_activity(
                    "escalate_task",
                    TaskEscalation(task_id=task_id, order_id=self._inp.order_id, seq=self._next_seq(),
                                   role=role, due_seconds=seconds),
                    start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
                )
            try:
                await workflow.wait_condition(
                    lambda: self._decision is not None or self._task_event(step) is not None,
                    timeout=timedelta(seconds=seconds),
                )
                break
            except asyncio.TimeoutError:
                continue
        decision = self._decision
        event = None
        if decision is None and self._task_event(step) is not None:
            event = self._events.pop(self._task_event(step))
            self._received[event.type] = event.data
            self._last_event = event
            self._task["state"] = "closed"
        elif decision is None:
            self._task["state"] = "expired"
        await workflow.execute_activity(
            "close_task",
            TaskClose(task_id=task_id, order_id=self._inp.order_id, seq=self._next_seq(),
                      outcome=decision.decision if decision else (event.type if event else TIMEOUT),
                      decided_by=decision.user if decision else None,
                      comment=decision.comment if decision else "",
                      role=decision.role if decision else "",
                      event=event.type if event else "",
                      data={"scans": decision.scans} if decision and decision.scans else {}),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        self._decision_recorded = True
        self._task = None
        if event is not None:
            return event.type
        return decision.decision if decision else TIMEOUT

    def _task_event(self, step: ApprovalStep) -> int | None:
        """Index of a received event that ends this approval step's task, if any."""
        if not step.events:
            return None
        for index, event in enumerate(self._events):
            if event.type in step.events:
                return index
        return None

    async def _wait(self, step: WaitStep) -> str:
        if step.status:
            await self._progress("waiting", step.id, f"waiting for {', '.join(step.on)}", step.status)
        try:
            await workflow.wait_condition(
                lambda: first_awaited_event(step, self._events) is not None,
                timeout=timedelta(seconds=step.timeout_seconds),
            )
        except asyncio.TimeoutError:
            await self._progress("timed_out", step.id, f"no {' or '.join(step.on)} within the timeout")
            return TIMEOUT
        event = self._events.pop(first_awaited_event(step, self._events))
        self._received[event.type] = event.data
        self._last_event = event
        await self._progress("event", step.id, f"event {event.type} received", data={"type": event.type, "data": event.data})
        return event.type

    async def _progress(self, type_: str, step_id: str, message: str, status: str | None = None,
                        data: dict | None = None) -> None:
        await workflow.execute_local_activity(
            "record_progress",
            Progress(order_id=self._inp.order_id, seq=self._next_seq(), type=type_, step=step_id,
                     message=message, status=status, data=data or {}),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        self._status_changed(status)

    # ---- status push-back to the channel ---------------------------------

    def _status_changed(self, status: str | None) -> None:
        if not status or status == self._status:
            return
        self._status = status
        if self._inp.status_push_seconds:
            self._pushes_running += 1
            asyncio.create_task(self._push(status, self._seq))

    async def _push(self, status: str, seq: int) -> None:
        """Retried by Temporal with backoff until it succeeds or the channel's expiry passes."""
        try:
            await workflow.execute_activity(
                "push_status", StatusPush(order_id=self._inp.order_id, status=status, seq=seq),
                schedule_to_close_timeout=timedelta(seconds=self._inp.status_push_seconds),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=PUSH_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause.message if exc.cause else str(exc)
            await self._progress("webhook_failed", self._step_id, f"status {status} not delivered to the channel: {cause}")
        finally:
            self._pushes_running -= 1
