"""The return workflow ("ReturnFlow"): the flow workflow extended for returns.

What returns add to ``workflows/flow.py``: the request (``return``) next to
the order in expressions, their activity payloads, the wait until the request
is stored, and the ``decide`` Update whose quality check must cover every
returned item (``engine.returns``). The steps run in ``engine.runtime``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.definitions import parse_published
    from engine.flows import ActivityStep, ApprovalStep, AuditStep
    from engine.interpreter import TaskState, decision_problem, next_step
    from engine.returns import qc_problem
    from engine.runtime import FlowState, TaskOutcome, approval_reason
    from workflows.contracts import (
        QC_DECISION,
        REPAIR_DECISIONS,
        REPAIR_DUE_SECONDS,
        REPAIR_ROLE,
        REPAIR_TITLE,
        DecisionAccepted,
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
    from workflows.flow import (
        ACTIVITY_TIMEOUT,
        RETRY,
    )
    from workflows.moving import MovableFlowWorkflow, MoveRequested

STORED_WITHIN = timedelta(minutes=5)


@workflow.defn(name="ReturnFlow")
class ReturnWorkflow(MovableFlowWorkflow):
    def __init__(self) -> None:
        super().__init__()
        self._qc: list[dict] = []

    # ---- the decision Update ----------------------------------------------

    @workflow.update(name="decide")
    async def decide(self, decision: ReturnDecision) -> DecisionAccepted:
        if self._repairing(decision.task_id):
            return await self._decide_repair(decision)
        flow, task, step = self._open_task(decision.task_id, "return")
        self._decision = decision
        task["state"] = "decided"
        target = next_step(flow, step, decision.decision)
        await workflow.wait_condition(lambda: self._decision_recorded)
        return DecisionAccepted(task_id=decision.task_id, decision=decision.decision, next_step=target)

    @decide.validator
    def _validate_decision(self, decision: ReturnDecision) -> None:
        if self._repairing(decision.task_id):
            refused = self._repair_problem(decision)
            if refused:
                raise ApplicationError(refused[1], type=refused[0])
            return
        _, task, step = self._open_task(decision.task_id, "return")
        self._refuse_if_closing(step)
        problem = decision_problem(
            step,
            TaskState(task["state"], task["role"]),
            decision.decision,
            decision.role,
            decision.comment,
            decision.user,
        )
        if problem:
            code, message = problem
            raise ApplicationError(message, type=code)
        if decision.decision == QC_DECISION:
            lines = {int(line["line"]): int(line["qty"]) for line in self._inp.request["lines"]}
            mismatch = qc_problem(lines, decision.qc)
            if mismatch:
                raise ApplicationError(mismatch, type="qc_invalid")

    # ---- run ----------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ReturnInput) -> ReturnResult:
        self._flow = flow = parse_published(inp.flow_text)
        self._inp = inp
        self._state = FlowState(order=inp.order, audit={}, extra={"return": inp.request})
        if inp.resume is not None:
            # Moved here from another version of the flow while it waited (workflows/moving.py).
            self._flow = flow = self.resumed_flow(flow, inp.resume)
            self._qc = [dict(entry) for entry in inp.resume.qc]
        elif not await self._stored():
            return ReturnResult(return_id=inp.return_id, status="not_stored", path=[])
        try:
            end_id, status = await self.run_repairable(flow)
        except MoveRequested:
            resume = await self.move(flow)
            resume.qc = list(self._qc)
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
        await self._progress(
            "ended", end_id, f"flow {flow.name} v{inp.flow.version} ended: {status}", status, final=True
        )
        return ReturnResult(return_id=inp.return_id, status=status or "", path=self._state.path)

    # ---- repair after a failure (see FlowWorkflow.run_repairable) ---------------

    def task_id(self, seq: int) -> str:
        return f"{self._inp.return_id}-t{seq}"

    async def open_repair_task(self, seq: int, step_id: str, message: str) -> None:
        await self._execute(
            "open_return_task",
            ReturnTaskInput(
                return_id=self._inp.return_id,
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
        """Nothing was refunded or restocked yet unless a step did it; a held replacement goes back."""
        await self._execute(
            "release_exchange",
            ReturnStepInput(
                return_id=self._inp.return_id,
                step=self._state.step_id,
                seq=self._next_seq(),
                params={"reason": "return cancelled after a failure"},
            ),
            dict,
        )

    async def _stored(self) -> bool:
        """The request commits just after it starts this workflow; a request that never committed
        (its process died in between) leaves nothing to do."""
        try:
            return await workflow.execute_activity(
                "await_return_stored",
                self._inp.return_id,
                result_type=bool,
                schedule_to_close_timeout=STORED_WITHIN,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                # Bounded twice: by STORED_WITHIN and by attempts (about 65 fit in it).
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100),
                    maximum_interval=timedelta(seconds=5),
                    maximum_attempts=100,
                ),
            )
        except ActivityError:
            return False

    # ---- effects ------------------------------------------------------------

    async def activity(self, step: ActivityStep, state: FlowState) -> dict:
        inp = ReturnStepInput(
            return_id=self._inp.return_id,
            step=step.id,
            seq=self._next_seq(),
            status=step.status,
            params=dict(step.params),
            event=state.last_event.data if state.last_event else None,
            qc=list(self._qc),
            tags=list((state.audit or {}).get("tags", [])),
        )
        return await self._execute_step(step.activity, inp, dict)

    async def audit(self, step: AuditStep, state: FlowState) -> dict:
        outcome: ReturnAuditOutcome = await self._execute(
            "audit_return",
            ReturnAuditInput(
                return_id=self._inp.return_id,
                step=step.id,
                seq=self._next_seq(),
                rules=self._inp.rules[step.rules],
                status=step.status,
            ),
            ReturnAuditOutcome,
        )
        return {"action": outcome.action, "fired": outcome.fired, "tags": outcome.tags}

    async def open_task(self, step: ApprovalStep, state: FlowState) -> None:
        if self.reopen_moved_task(step):
            return
        reason = approval_reason(step, state)
        if QC_DECISION in step.on:
            reason = "check " + ", ".join(f"{line['qty']} x {line['sku']}" for line in self._inp.request["lines"])
        seq = self._next_seq()
        # The task is open for decisions from the moment its row can be seen: a decision that
        # arrives while the workflow has not yet heard back from open_return_task is taken.
        self._task = {"id": f"{self._inp.return_id}-t{seq}", "step": step.id, "state": "open", "role": step.role}
        self._decision, self._decision_recorded = None, False
        await self._execute(
            "open_return_task",
            ReturnTaskInput(
                return_id=self._inp.return_id,
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
            ),
            str,
        )

    async def escalate_task(self, step: ApprovalStep, role: str, seconds: float) -> None:
        assert self._task is not None
        if self.escalated_before_move():
            return
        self._task["role"] = role
        await self._execute(
            "escalate_return_task",
            ReturnTaskEscalation(
                task_id=self._task["id"],
                return_id=self._inp.return_id,
                seq=self._next_seq(),
                role=role,
                due_seconds=seconds,
            ),
        )

    async def close_task(self, step: ApprovalStep | None, outcome: TaskOutcome) -> None:
        assert self._task is not None
        self._task_ended(outcome)
        decision: ReturnDecision | None = self._decision if outcome.decision is not None else None
        if decision is not None and decision.decision == QC_DECISION:
            self._qc = [dict(entry) for entry in decision.qc]
        await self._execute(
            "close_return_task",
            ReturnTaskClose(
                task_id=self._task["id"],
                return_id=self._inp.return_id,
                seq=self._next_seq(),
                outcome=outcome.name,
                decided_by=decision.user if decision else None,
                comment=decision.comment if decision else "",
                role=decision.role if decision else "",
                data={"qc": decision.qc} if decision and decision.qc else {},
            ),
        )
        self._decision_recorded = True
        self._task = None

    async def record(
        self, type_: str, step_id: str, message: str, status: str | None = None, data: dict | None = None
    ) -> None:
        await self._progress(type_, step_id, message, status, data)

    async def _progress(
        self,
        type_: str,
        step_id: str,
        message: str,
        status: str | None = None,
        data: dict | None = None,
        final: bool = False,
    ) -> None:
        await workflow.execute_local_activity(
            "record_return_progress",
            ReturnProgress(
                return_id=self._inp.return_id,
                seq=self._next_seq(),
                type=type_,
                step=step_id,
                message=message,
                status=status,
                data=data or {},
                final=final,
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
