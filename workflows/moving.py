"""Moving a waiting order or return to another version of its flow (the Update ``migrate``).

An instance moves only at a safe point: while it waits for an event (a ``wait``
step: payment, parcel, backorder) or for a decision on its open task (an
``approval`` step). The Update's validator asks ``engine.migration`` whether the
step it waits at maps to the new version; the accepted move wakes the wait, the
flow writes "moved from v1 to v2 at step X by <person>" on the timeline (the
same transaction sets the row's flow version and pins), and the workflow goes on
in the same run with the new flow text and pins, entering the mapped step (one
Update and one workflow task: a new run would cost the server a second workflow
start). Runs that moved before that change (no ``MOVE_IN_PLACE`` marker)
continued as new, and replay that way. A wait keeps its deadline or restarts it
(the plan says which); an open task keeps its id, claims, role and due time.
Events received and not yet consumed go with it. Moving to the version it
already runs changes nothing, so a retried migration moves nobody twice.

Workflows that never receive the Update send the commands they always sent: the
waits below make the same timers, and nothing else runs unless a move was asked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from engine.definitions import parse_published
    from engine.flows import ApprovalStep, Flow, WaitStep
    from engine.interpreter import Event, first_awaited_event
    from engine.migration import moved_deadline, plan_migration
    from engine.runtime import FlowState, TaskOutcome, task_event
    from workflows.contracts import MigrateRequest, MigrateResult, ResumeAt
    from workflows.flow import FlowWorkflow

# A deadline that passed while the instance moved still needs a (short) timer to time out on.
SHORTEST_WAIT = 0.001
# workflow.patched marker: a move goes on in the same run instead of continuing as new.
MOVE_IN_PLACE = "move-in-place"


class MoveRequested(Exception):
    """Unwinds the flow from the wait it was in; the workflow then continues as new on the new version."""


class MovableFlowWorkflow(FlowWorkflow):
    """FlowWorkflow whose waiting instances can move to another flow version."""

    _inp: Any

    def __init__(self) -> None:
        super().__init__()
        self._move: MigrateRequest | None = None
        self._moved: MigrateResult | None = None
        self._waiting: dict[str, Any] | None = None  # step, kind, deadline while the flow waits
        self._move_point: dict[str, Any] | None = None
        self._resume: ResumeAt | None = None
        self._moved_task: dict[str, Any] | None = None  # the open task a move brought along

    # ---- the Update -------------------------------------------------------------

    @workflow.update(name="migrate")
    async def migrate(self, request: MigrateRequest) -> MigrateResult:
        if request.flow.sha256 == self._inp.flow.sha256:
            version = self._inp.flow.version
            return MigrateResult(
                moved=False,
                from_version=version,
                to_version=request.flow.version,
                step=self._state.step_id,
                reason=f"already on v{version}",
            )
        if self._move is None:
            self._move = request
        await workflow.wait_condition(lambda: self._moved is not None)
        assert self._moved is not None
        return self._moved

    @migrate.validator
    def _validate_migrate(self, request: MigrateRequest) -> None:
        problem = self._move_problem(request)
        if problem:
            raise ApplicationError(problem[1], type=problem[0])

    def _move_problem(self, request: MigrateRequest) -> tuple[str, str] | None:
        """Why this instance cannot move now, as (code, message); None when it can (or is already there)."""
        if request.flow.sha256 == self._inp.flow.sha256:
            return None
        if self._move is not None:
            if self._move.flow.sha256 == request.flow.sha256:
                return None
            return "move_under_way", f"already moving to v{self._move.flow.version}"
        waiting = self._waiting
        if waiting is None or self._flow is None:
            return "not_waiting", f"not at a safe point: step {self._state.step_id!r} is not waiting"
        if self._task is not None and self._task.get("state") != "open":
            return "not_waiting", "its task was just decided"
        target = parse_published(request.flow_text)
        plan = plan_migration(self._flow, target).step(waiting["step"])
        if plan is None or not plan.movable:
            return "not_movable", plan.reason if plan else f"unknown step {waiting['step']!r}"
        return None

    def _open_task(self, task_id: str, what: str) -> tuple[Flow, dict[str, Any], ApprovalStep]:
        if self._move is not None:
            raise ApplicationError(
                f"this {what} is moving to another flow version; decide again in a moment", type="moving"
            )
        return super()._open_task(task_id, what)

    # ---- waits that a move can wake ---------------------------------------------

    async def await_event(self, step: WaitStep) -> Event | None:
        timeout = step.timeout_seconds
        now = workflow.now().timestamp()
        if self._resume is not None and self._resume.step == step.id and self._resume.task is None:
            timeout = max(SHORTEST_WAIT, self._resume.deadline - now)
            self._resume = None
        self._waiting = {"step": step.id, "kind": "wait", "deadline": now + timeout}
        try:
            await workflow.wait_condition(
                lambda: self._move is not None or first_awaited_event(step, self._events) is not None,
                timeout=timedelta(seconds=timeout),
            )
        except TimeoutError:
            return None
        finally:
            self._move_point, self._waiting = self._waiting, None
        if self._move is not None:
            raise MoveRequested()
        index = first_awaited_event(step, self._events)
        assert index is not None  # the wait ended because an awaited event arrived
        return self._events.pop(index)

    async def await_task(self, step: ApprovalStep, seconds: float) -> TaskOutcome | None:
        task = self._task
        assert task is not None
        task["phase"] = phase = int(task.get("phase", -1)) + 1
        now = workflow.now().timestamp()
        moved = self._moved_task
        if moved is not None:
            if phase < int(moved.get("phase", 0)):
                return None  # a phase that ran out before the move
            seconds = max(SHORTEST_WAIT, float(moved.get("deadline", now + seconds)) - now)
            self._moved_task = None
        task["deadline"] = now + seconds
        self._waiting = {"step": step.id, "kind": "approval", "deadline": now + seconds}
        try:
            await workflow.wait_condition(
                lambda: (
                    self._move is not None or self._decision is not None or task_event(step, self._events) is not None
                ),
                timeout=timedelta(seconds=seconds),
            )
        except TimeoutError:
            return None
        finally:
            self._move_point, self._waiting = self._waiting, None
        if self._decision is not None:
            return TaskOutcome(decision=self._decision.decision)
        if self._move is not None:
            raise MoveRequested()
        index = task_event(step, self._events)
        assert index is not None  # the wait ended because a closing event arrived
        return TaskOutcome(event=self._events.pop(index))

    # ---- the moved task on the new version ----------------------------------

    def reopen_moved_task(self, step: ApprovalStep) -> bool:
        """On the new version, the approval step a move entered takes over the open task (no new one)."""
        resume = self._resume
        if resume is None or resume.step != step.id or resume.task is None:
            return False
        self._moved_task = dict(resume.task)
        self._task = dict(resume.task)
        self._task["phase"] = -1
        self._decision, self._decision_recorded = None, False
        self._resume = None
        return True

    def escalated_before_move(self) -> bool:
        """The escalation the moved task had already had is not sent again."""
        moved, task = self._moved_task, self._task
        return moved is not None and task is not None and int(task["phase"]) + 1 <= int(moved.get("phase", 0))

    # ---- entering and leaving a version -------------------------------------------

    async def run_repairable(self, flow: Flow) -> tuple[str, str | None]:
        """The flow to its end; a move switches this run to the new version at the mapped step.

        A run recorded before ``MOVE_IN_PLACE`` unwinds instead: ``run`` continues it as new.
        """
        while True:
            try:
                return await super().run_repairable(flow)
            except MoveRequested:
                if not workflow.patched(MOVE_IN_PLACE):
                    raise
                flow = await self._move_in_place(flow)

    async def _move_in_place(self, flow: Flow) -> Flow:
        resume = await self.move(flow)
        await workflow.wait_condition(workflow.all_handlers_finished)  # the Update has its answer
        move, inp = self._move, self._inp
        assert move is not None
        # The input object itself: ``run`` names the version it ended on from it.
        inp.flow, inp.flow_text = move.flow, move.flow_text
        inp.rules, inp.pins = move.rules or inp.rules, move.pins or inp.pins
        self._move = self._moved = self._move_point = None
        self._flow = self.resumed_flow(parse_published(move.flow_text), resume)
        return self._flow

    def resumed_flow(self, flow: Flow, resume: ResumeAt | None) -> Flow:
        """The flow to run: entered at the step a move mapped to, with what the instance knew."""
        if resume is None:
            return flow
        self._resume = resume
        self._seq = resume.seq
        # Events carried from the old run first, then any signalled to this run before it started: the SDK
        # applies signals of the first activation before ``run`` begins, into the list ``__init__`` made.
        carried = [Event(e["type"], dict(e.get("data") or {})) for e in resume.events]
        self._events = carried + self._events
        last = resume.last_event
        self._state = FlowState(
            order=resume.order,
            audit=resume.audit,
            results=dict(resume.results),
            received=dict(resume.received),
            last_event=Event(last["type"], dict(last.get("data") or {})) if last else None,
            path=list(resume.path),
            extra=self._state.extra,
        )
        return replace(flow, start=resume.step)

    async def move(self, flow: Flow) -> ResumeAt:
        """Record the move on the timeline and the row; what the new run resumes with."""
        request, point = self._move, self._move_point
        assert request is not None and point is not None
        target = parse_published(request.flow_text)
        plan = plan_migration(flow, target).step(point["step"])
        assert plan is not None and plan.movable and plan.target is not None
        now = workflow.now().timestamp()
        deadline = moved_deadline(plan, target, point["deadline"], now) if point["kind"] == "wait" else 0.0
        before, after = self._inp.flow.version, request.flow.version
        by = request.by or "someone"
        await self.record(
            "moved",
            point["step"],
            f"moved from v{before} to v{after} at step {point['step']} by {by}",
            None,
            {
                "from_version": before,
                "to_version": after,
                "step": point["step"],
                "target_step": plan.target,
                "timers": plan.timers,
                "deadline": deadline,
                "by": by,
                "migration_id": request.migration_id,
                "flow_name": request.flow.name,
                "pins": [vars(pin) for pin in request.pins],
            },
        )
        task = dict(self._task) if point["kind"] == "approval" and self._task is not None else None
        if task is not None:
            task["phase"], task["deadline"] = task.get("phase", 0), point["deadline"]
        self._moved = MigrateResult(
            moved=True,
            from_version=before,
            to_version=after,
            step=point["step"],
            target_step=plan.target,
            deadline=deadline,
        )
        state = self._state
        return ResumeAt(
            step=plan.target,
            seq=self._seq,
            deadline=deadline,
            task=task,
            order=state.order,
            audit=state.audit,
            results=state.results,
            received=state.received,
            last_event={"type": state.last_event.type, "data": state.last_event.data} if state.last_event else None,
            path=state.path[:-1],  # the new run enters the mapped step again
        )

    async def handlers_done(self, resume: ResumeAt) -> None:
        """The ``migrate`` Update returns its result before the run ends; ``resume`` then takes every event
        received and not consumed, including those signalled while the move was being recorded."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        resume.events = [{"type": e.type, "data": e.data} for e in self._events]
