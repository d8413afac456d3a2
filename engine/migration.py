"""Migration plans: which waiting instances of one flow version can move to another, and where.

An instance moves only at a safe point: while it waits (a ``wait`` step, such as the
payment wait or a backorder, or an ``approval`` step with its open task). A waiting
step maps to the target's step of the same id and type, unless the target flow's
``migrate:`` section maps it to another step. A running timer keeps its original
deadline (``keep``, the default) or starts the target's timeout again (``restart``).
An approval's open task always keeps its id, claims and due time.

Pure: the workflow asks the same plan whether it may move, the designer and the CLI
show it before anything moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.flows import ApprovalStep, Flow, Step, WaitStep

SAFE_POINTS = (WaitStep, ApprovalStep)
TIMER_MODES = ("keep", "restart")


@dataclass(frozen=True)
class StepPlan:
    """What happens to the instances waiting at one step of the source version."""

    source: str
    kind: str  # wait | approval | activity | audit | switch | end
    movable: bool
    target: str | None = None
    timers: str = "keep"
    reason: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MigrationPlan:
    flow: str
    steps: tuple[StepPlan, ...]

    def step(self, step_id: str) -> StepPlan | None:
        for plan in self.steps:
            if plan.source == step_id:
                return plan
        return None

    @property
    def movable(self) -> tuple[StepPlan, ...]:
        return tuple(plan for plan in self.steps if plan.movable)

    @property
    def blocked(self) -> tuple[StepPlan, ...]:
        return tuple(plan for plan in self.steps if not plan.movable)


def step_kind(step: Step) -> str:
    return type(step).__name__.removesuffix("Step").lower()


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def plan_migration(source: Flow, target: Flow) -> MigrationPlan:
    """Every step of ``source``: movable to which step of ``target`` (and how its timer goes), or why not."""
    if source.name != target.name:
        reason = f"flow {source.name!r} cannot move to flow {target.name!r}"
        return MigrationPlan(
            source.name, tuple(StepPlan(s.id, step_kind(s), False, reason=reason) for s in source.steps.values())
        )
    return MigrationPlan(source.name, tuple(_plan_step(step, target) for step in source.steps.values()))


def _plan_step(step: Step, target: Flow) -> StepPlan:
    kind = step_kind(step)
    if not isinstance(step, SAFE_POINTS):
        return StepPlan(
            step.id, kind, False, reason=f"not a safe point: an instance moves only while it waits ({kind} step)"
        )
    move = target.migrate.steps.get(step.id)
    target_id = move.to if move else step.id
    timers = (move.timers if move and move.timers else None) or target.migrate.timers
    new = target.steps.get(target_id)
    if new is None:
        return StepPlan(
            step.id, kind, False, reason=f"the new version has no step {step.id!r}; map it in its migrate: section"
        )
    if type(new) is not type(step):
        return StepPlan(
            step.id,
            kind,
            False,
            target=target_id,
            reason=f"{step.id!r} is {_a(kind)} step and {target_id!r} is {_a(step_kind(new))} step",
        )
    if isinstance(step, ApprovalStep):
        assert isinstance(new, ApprovalStep)
        lost = [d for d in step.on if d not in new.on]
        if lost:
            return StepPlan(
                step.id,
                kind,
                False,
                target=target_id,
                reason=f"the open task offers decisions {target_id!r} does not take: {', '.join(lost)}",
            )
        role_note: tuple[str, ...] = (
            (f"the task stays with role {step.role!r}; the new step names {new.role!r}",)
            if new.role != step.role
            else ()
        )
        return StepPlan(step.id, kind, True, target=target_id, timers="keep", notes=role_note)
    assert isinstance(step, WaitStep) and isinstance(new, WaitStep)
    notes = tuple(f"no longer reacts to {event}" for event in step.on if event not in new.on)
    notes += tuple(f"now also reacts to {event}" for event in new.on if event not in step.on)
    return StepPlan(step.id, kind, True, target=target_id, timers=timers, notes=notes)


def moved_deadline(plan: StepPlan, target: Flow, deadline: float, now: float) -> float:
    """When a moved wait times out on the target version (seconds since the epoch).

    ``keep``: its original ``deadline``; ``restart``: the target step's whole timeout from ``now``.
    """
    new = target.steps[plan.target or plan.source]
    if plan.timers == "restart" and isinstance(new, WaitStep):
        return now + new.timeout_seconds
    return deadline
