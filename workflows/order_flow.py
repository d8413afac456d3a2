"""The order workflow ("OrderFlow"): the flow workflow extended for orders.

What orders add to ``workflows/flow.py``: the order document expressions see,
their activity payloads, the ``decide`` Update (four-eyes approval, scans) and
the status push to the channel. The steps themselves run in ``engine.runtime``.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from engine.definitions import parse_published
    from engine.flows import ActivityStep, ApprovalStep, AuditStep
    from engine.interpreter import TIMEOUT, TaskState, decision_problem, expected_scan, next_step, scan_problem
    from engine.runtime import FlowState, TaskOutcome, approval_reason
    from workflows.contracts import (
        REPAIR_DECISIONS,
        REPAIR_DUE_SECONDS,
        REPAIR_ROLE,
        REPAIR_TITLE,
        AuditInput,
        AuditOutcome,
        Decision,
        DecisionAccepted,
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
    from workflows.flow import (
        ACTIVITY_TIMEOUT,
        RETRY,
        TASK_BEFORE_OPEN,
    )
    from workflows.moving import MovableFlowWorkflow, MoveRequested

# Bounded by the channel's callback expiry (schedule_to_close) and, explicitly, by attempts.
PUSH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=1000,
)


@workflow.defn(name="OrderFlow")
class OrderWorkflow(MovableFlowWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._status: str | None = None
        self._pushes_running = 0
        self._push_tasks: set[asyncio.Task[None]] = set()  # held so a running push is not collected

    # ---- the decision Update ----------------------------------------------

    @workflow.update(name="decide")
    async def decide(self, decision: Decision) -> DecisionAccepted:
        if self._repairing(decision.task_id):
            return await self._decide_repair(decision)
        flow, task, step = self._open_task(decision.task_id, "order")
        if decision.decision == "approve" and len(task["approvals"]) + 1 < task["needs"]:
            # Four-eyes: the first approval is recorded; the task waits for a second person.
            task["approvals"].append(decision.user)
            await self._execute(
                "record_approval",
                TaskApproval(
                    task_id=task["id"],
                    order_id=self._inp.order_id,
                    seq=self._next_seq(),
                    user=decision.user,
                    role=decision.role,
                    comment=decision.comment,
                ),
            )
            return DecisionAccepted(task_id=decision.task_id, decision=decision.decision, next_step=step.id)
        self._decision = decision
        task["state"] = "decided"
        target = next_step(flow, step, decision.decision)
        await workflow.wait_condition(lambda: self._decision_recorded)
        return DecisionAccepted(task_id=decision.task_id, decision=decision.decision, next_step=target)

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        if self._repairing(decision.task_id):
            refused = self._repair_problem(decision)
            if refused:
                raise ApplicationError(refused[1], type=refused[0])
            return
        _, task, step = self._open_task(decision.task_id, "order")
        self._refuse_if_closing(step)
        state = TaskState(task["state"], task["role"], tuple(task["approvals"]))
        problem = decision_problem(step, state, decision.decision, decision.role, decision.comment, decision.user)
        if problem:
            code, message = problem
            raise ApplicationError(message, type=code)
        if decision.decision in step.scan:
            mismatch = scan_problem(expected_scan(self._state.order.get("lines", [])), decision.scans)
            if mismatch:
                raise ApplicationError(mismatch, type="scan_mismatch")

    # ---- run ----------------------------------------------------------------

    @workflow.run
    async def run(self, inp: OrderInput) -> OrderResult:
        self._flow = flow = parse_published(inp.flow_text)
        self._inp = inp
        self._state = FlowState(order=inp.order)
        if inp.resume is not None:
            # Moved here from another version of the flow while it waited (workflows/moving.py).
            self._flow = flow = self.resumed_flow(flow, inp.resume)
            self._status = inp.resume.status
        try:
            end_id, status = await self.run_repairable(flow)
        except MoveRequested:
            resume = await self.move(flow)
            resume.status = self._status
            await self.handlers_done(resume)
            assert self._move is not None
            move = self._move
            workflow.continue_as_new(
                replace(
                    inp,
                    flow=move.flow,
                    flow_text=move.flow_text,
                    rules=move.rules or inp.rules,
                    pins=move.pins or inp.pins,
                    resume=resume,
                )
            )
        await self.record(
            "completed" if status == "completed" else "ended",
            end_id,
            f"flow {flow.name} v{inp.flow.version} ended: {status}",
            status,
        )
        await workflow.wait_condition(lambda: self._pushes_running == 0)
        return OrderResult(order_id=inp.order_id, status=status or "", path=self._state.path)

    # ---- repair after a failure (see FlowWorkflow.run_repairable) ---------------

    def task_id(self, seq: int) -> str:
        return f"{self._inp.order_id}-t{seq}"

    async def open_repair_task(self, seq: int, step_id: str, message: str) -> None:
        await self._execute(
            "open_task",
            TaskInput(
                order_id=self._inp.order_id,
                workflow_id=workflow.info().workflow_id,
                step=step_id,
                seq=seq,
                title=REPAIR_TITLE,
                role=REPAIR_ROLE,
                decisions=list(REPAIR_DECISIONS),
                due_seconds=REPAIR_DUE_SECONDS,
                reason=message,
            ),
            str,
        )

    async def cancel_after_failure(self) -> None:
        step_id = self._state.step_id
        for activity, params in (
            ("release_stock", {"reason": "cancelled after a failure"}),
            ("cancel_payment", {}),
            ("notify", {"event": "cancelled"}),
        ):
            await self._execute(
                activity,
                StepInput(order_id=self._inp.order_id, step=step_id, seq=self._next_seq(), params=params),
                StepResult,
            )

    # ---- effects ------------------------------------------------------------

    async def activity(self, step: ActivityStep, state: FlowState) -> dict:
        inp = StepInput(
            order_id=self._inp.order_id,
            step=step.id,
            seq=self._next_seq(),
            status=step.status,
            params=dict(step.params),
            event=state.last_event.data if state.last_event else None,
        )
        result: StepResult = await self._execute_step(step.activity, inp, StepResult)
        return result.data

    async def audit(self, step: AuditStep, state: FlowState) -> dict:
        outcome: AuditOutcome = await self._execute(
            "audit_order",
            AuditInput(
                order_id=self._inp.order_id,
                step=step.id,
                seq=self._next_seq(),
                rules=self._inp.rules[step.rules],
                status=step.status,
            ),
            AuditOutcome,
        )
        return {"action": outcome.action, "fired": [asdict(f) for f in outcome.fired]}

    async def open_task(self, step: ApprovalStep, state: FlowState) -> None:
        if self.reopen_moved_task(step):
            return
        reason = approval_reason(step, state)
        if step.scan:
            reason = "scan " + ", ".join(f"{q} x {s}" for s, q in expected_scan(state.order.get("lines", [])).items())
        needs = 2 if step.needs_two_approvals(float(state.order.get("total") or 0)) else 1

        def task_input(seq: int) -> TaskInput:
            return TaskInput(
                order_id=self._inp.order_id,
                workflow_id=workflow.info().workflow_id,
                step=step.id,
                seq=seq,
                title=step.title,
                role=step.role,
                decisions=list(step.on),
                due_seconds=step.due_seconds,
                reason=reason,
                status=step.status,
                needs_approvals=needs,
            )

        def task(task_id: str) -> dict[str, Any]:
            return {"id": task_id, "step": step.id, "state": "open", "role": step.role, "approvals": [], "needs": needs}

        if self._record_task_first():
            # The task is open for decisions from the moment its row can be seen: a decision that
            # arrives while the workflow has not yet heard back from open_task is taken.
            seq = self._next_seq()
            self._task = task(f"{self._inp.order_id}-t{seq}")
            self._decision, self._decision_recorded = None, False
            await self._execute("open_task", task_input(seq), str)
            self.reached(step.status)
            return
        task_id: str = await self._execute("open_task", task_input(self._next_seq()), str)
        self._task = task(task_id)
        self.reached(step.status)
        self._decision, self._decision_recorded = None, False

    def _record_task_first(self) -> bool:
        """Workflows started before the task-race fix open the task first and record it after."""
        return workflow.patched(TASK_BEFORE_OPEN)

    async def escalate_task(self, step: ApprovalStep, role: str, seconds: float) -> None:
        assert self._task is not None
        if self.escalated_before_move():
            return
        self._task["role"] = role
        await self._execute(
            "escalate_task",
            TaskEscalation(
                task_id=self._task["id"],
                order_id=self._inp.order_id,
                seq=self._next_seq(),
                role=role,
                due_seconds=seconds,
            ),
        )

    async def close_task(self, step: ApprovalStep | None, outcome: TaskOutcome) -> None:
        assert self._task is not None
        self._task_ended(outcome)
        decision: Decision | None = self._decision if outcome.decision is not None else None
        await self._execute(
            "close_task",
            TaskClose(
                task_id=self._task["id"],
                order_id=self._inp.order_id,
                seq=self._next_seq(),
                outcome=decision.decision if decision else (outcome.event.type if outcome.event else TIMEOUT),
                decided_by=decision.user if decision else None,
                comment=decision.comment if decision else "",
                role=decision.role if decision else "",
                event=outcome.event.type if outcome.event else "",
                data={"scans": decision.scans} if decision and decision.scans else {},
            ),
        )
        self._decision_recorded = True
        self._task = None

    async def record(
        self, type_: str, step_id: str, message: str, status: str | None = None, data: dict | None = None
    ) -> None:
        await workflow.execute_local_activity(
            "record_progress",
            Progress(
                order_id=self._inp.order_id,
                seq=self._next_seq(),
                type=type_,
                step=step_id,
                message=message,
                status=status,
                data=data or {},
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        self.reached(status)

    # ---- status push-back to the channel ---------------------------------

    def reached(self, status: str | None) -> None:
        if not status or status == self._status:
            return
        self._status = status
        if self._inp.status_push_seconds:
            self._pushes_running += 1
            task = asyncio.create_task(self._push(status, self._seq))
            self._push_tasks.add(task)
            task.add_done_callback(self._push_tasks.discard)

    async def _push(self, status: str, seq: int) -> None:
        """Retried by Temporal with backoff until it succeeds or the channel's expiry passes."""
        try:
            await workflow.execute_activity(
                "push_status",
                StatusPush(order_id=self._inp.order_id, status=status, seq=seq),
                schedule_to_close_timeout=timedelta(seconds=self._inp.status_push_seconds),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=PUSH_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause.message if isinstance(exc.cause, FailureError) else str(exc)
            await self.record(
                "webhook_failed", self._state.step_id, f"status {status} not delivered to the channel: {cause}"
            )
        finally:
            self._pushes_running -= 1
