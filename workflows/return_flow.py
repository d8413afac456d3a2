"""The return workflow: runs the `return` flow definition version it was started with.

Plumbing only, like ``workflows/order.py``: timers, the ``event`` signal
(parcel_received, ...), the ``decide`` Update with its validator (review and
quality check). Where to go next is decided by ``engine.interpreter``; what a
quality check must contain by ``engine.returns``.
"""

from __future__ import annotations

import asyncio
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
        decision_problem,
        evaluate_switch,
        first_awaited_event,
        next_step,
    )
    from engine.returns import qc_problem
    from workflows.contracts import (
        QC_DECISION,
        DecisionAccepted,
        ExternalEvent,
        ReturnAuditInput,
        ReturnAuditOutcome,
        ReturnDecision,
        ReturnInput,
        ReturnProgress,
        ReturnResult,
        ReturnStepInput,
        ReturnTaskClose,
        ReturnTaskEscalation,
        ReturnTaskInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
STORED_WITHIN = timedelta(minutes=5)
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30))


@workflow.defn(name="ReturnFlow")
class ReturnWorkflow:
    def __init__(self) -> None:
        self._seq = 0
        self._events: list[Event] = []
        self._received: dict[str, dict] = {}
        self._results: dict[str, dict] = {}
        self._audit: dict[str, Any] = {}
        self._qc: list[dict] = []
        self._step_id = ""
        self._path: list[str] = []
        self._task: dict[str, Any] | None = None
        self._decision: ReturnDecision | None = None
        self._decision_recorded = False
        self._flow: Flow | None = None
        self._last_event: Event | None = None

    # ---- handlers -------------------------------------------------------

    @workflow.signal(name="event")
    def on_event(self, event: ExternalEvent) -> None:
        self._events.append(Event(event.type, dict(event.data)))

    @workflow.query(name="state")
    def state(self) -> dict[str, Any]:
        return {"step": self._step_id, "path": list(self._path), "task": self._task}

    @workflow.update(name="decide")
    async def decide(self, decision: ReturnDecision) -> DecisionAccepted:
        step = self._flow.steps[self._task["step"]]
        self._decision = decision
        self._task["state"] = "decided"
        target = next_step(self._flow, step, decision.decision)
        await workflow.wait_condition(lambda: self._decision_recorded)
        return DecisionAccepted(task_id=decision.task_id, decision=decision.decision, next_step=target)

    @decide.validator
    def _validate_decision(self, decision: ReturnDecision) -> None:
        task = self._task
        if task is None or task["id"] != decision.task_id:
            raise ApplicationError("task is not open on this return", type="already_decided")
        step = self._flow.steps[task["step"]]
        problem = decision_problem(step, TaskState(task["state"], task["role"]), decision.decision, decision.role,
                                   decision.comment, decision.user)
        if problem:
            code, message = problem
            raise ApplicationError(message, type=code)
        if decision.decision == QC_DECISION:
            lines = {int(l["line"]): int(l["qty"]) for l in self._inp.request["lines"]}
            problem = qc_problem(lines, decision.qc)
            if problem:
                raise ApplicationError(problem, type="qc_invalid")

    # ---- the interpreter loop -------------------------------------------

    @workflow.run
    async def run(self, inp: ReturnInput) -> ReturnResult:
        self._flow = flow = compile_text(inp.flow_text)
        self._inp = inp
        if not await self._stored():
            return ReturnResult(return_id=inp.return_id, status="not_stored", path=[])
        step: Step = flow.steps[flow.start]
        while not isinstance(step, EndStep):
            self._step_id = step.id
            self._path.append(step.id)
            outcome = await self._run_step(step)
            step = flow.steps[next_step(flow, step, outcome, self._context())]
        self._step_id = step.id
        self._path.append(step.id)
        await self._progress("ended", step.id, f"flow {flow.name} v{inp.flow.version} ended: {step.status}",
                             step.status, final=True)
        return ReturnResult(return_id=inp.return_id, status=step.status or "", path=self._path)

    async def _stored(self) -> bool:
        """The request commits just after it starts this workflow; a request that never committed
        (its process died in between) leaves nothing to do."""
        try:
            return await workflow.execute_activity(
                "await_return_stored", self._inp.return_id, result_type=bool,
                schedule_to_close_timeout=STORED_WITHIN, start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_interval=timedelta(seconds=5)),
            )
        except ActivityError:
            return False

    def _context(self) -> dict[str, Any]:
        """The names a return flow's expressions use: order, return, audit, results, events."""
        return {"order": self._inp.order, "return": self._inp.request, "audit": self._audit,
                "results": self._results, "events": self._received}

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
            target, problems = evaluate_switch(step, self._context())
            if problems or step.status:
                message = "; ".join(problems) + (f"; went on to {target}" if problems else "")
                await self._progress("expression_error" if problems else "status", step.id, message, step.status)
            return None
        raise ApplicationError(f"unknown step type {type(step).__name__}", non_retryable=True)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def _activity(self, step: ActivityStep) -> str | None:
        inp = ReturnStepInput(
            return_id=self._inp.return_id, step=step.id, seq=self._next_seq(), status=step.status,
            params=dict(step.params), event=self._last_event.data if self._last_event else None,
            qc=list(self._qc), tags=list(self._audit.get("tags", [])),
        )
        try:
            result = await workflow.execute_activity(
                step.activity, inp, result_type=dict, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type in step.on_error:
                await self._progress(cause.type, step.id, str(cause.message))
                return cause.type
            raise
        self._results[step.id] = result
        return None

    async def _audit_step(self, step: AuditStep) -> str:
        outcome: ReturnAuditOutcome = await workflow.execute_activity(
            "audit_return",
            ReturnAuditInput(return_id=self._inp.return_id, step=step.id, seq=self._next_seq(),
                             rules=self._inp.rules[step.rules], status=step.status),
            result_type=ReturnAuditOutcome, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        self._audit = {"action": outcome.action, "fired": outcome.fired, "tags": outcome.tags}
        return outcome.action

    async def _approval(self, step: ApprovalStep) -> str:
        reason = "; ".join(f["reason"] for f in self._audit.get("fired", []) if f["action"] != "tag")
        if QC_DECISION in step.on:
            reason = "check " + ", ".join(f"{l['qty']} x {l['sku']}" for l in self._inp.request["lines"])
        seq = self._next_seq()
        # The task is open for decisions from the moment its row can be seen: a decision that
        # arrives while the workflow has not yet heard back from open_return_task is taken.
        self._task = {"id": f"{self._inp.return_id}-t{seq}", "step": step.id, "state": "open", "role": step.role}
        self._decision, self._decision_recorded = None, False
        task_id: str = await workflow.execute_activity(
            "open_return_task",
            ReturnTaskInput(return_id=self._inp.return_id, order_id=self._inp.order_id,
                            workflow_id=workflow.info().workflow_id, step=step.id, seq=seq,
                            title=step.title, role=step.role, decisions=list(step.on), due_seconds=step.due_seconds,
                            reason=reason, status=step.status),
            result_type=str, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        for index, (role, seconds) in enumerate(step.phases()):
            if index:
                self._task["role"] = role
                await workflow.execute_activity(
                    "escalate_return_task",
                    ReturnTaskEscalation(task_id=task_id, return_id=self._inp.return_id, seq=self._next_seq(),
                                         role=role, due_seconds=seconds),
                    start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
                )
            try:
                await workflow.wait_condition(lambda: self._decision is not None, timeout=timedelta(seconds=seconds))
                break
            except asyncio.TimeoutError:
                continue
        decision = self._decision
        if decision is None:
            self._task["state"] = "expired"
        elif decision.decision == QC_DECISION:
            self._qc = [dict(entry) for entry in decision.qc]
        await workflow.execute_activity(
            "close_return_task",
            ReturnTaskClose(task_id=task_id, return_id=self._inp.return_id, seq=self._next_seq(),
                            outcome=decision.decision if decision else TIMEOUT,
                            decided_by=decision.user if decision else None,
                            comment=decision.comment if decision else "", role=decision.role if decision else "",
                            data={"qc": decision.qc} if decision and decision.qc else {}),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
        self._decision_recorded = True
        self._task = None
        return decision.decision if decision else TIMEOUT

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
                        data: dict | None = None, final: bool = False) -> None:
        await workflow.execute_local_activity(
            "record_return_progress",
            ReturnProgress(return_id=self._inp.return_id, seq=self._next_seq(), type=type_, step=step_id,
                           message=message, status=status, data=data or {}, final=final),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=RETRY,
        )
