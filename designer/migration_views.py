"""What the migration page shows: the plan per step, the preview's counts and instances, both diagrams."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from engine.definitions import load
from engine.diagram import Layout, layout_flow
from engine.flows import WaitStep
from oms.models import DefinitionVersion
from services.definitions.migration import InstancePlan, Preview, Versions

SHOWN = 50  # the first instances listed under the counts
SAFE_KINDS = ("wait", "approval")


@dataclass(frozen=True)
class StepRow:
    """One step of the source version as the plan sees it, with the instances waiting there."""

    source: str
    kind: str
    waiting: int
    movable: bool
    target: str | None
    timers: str  # what happens to its timer or open task, in words
    deadlines: tuple[str, str] | None  # the earliest and latest new deadline of its instances (ISO)
    reason: str


def duration(seconds: float) -> str:
    """A timeout as it is written in a flow: 2 s, 20 min, 4 h, 5 d."""
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if whole >= size and whole % size == 0:
            return f"{whole // size} {unit}"
    return f"{seconds:g} s"


def _timers(v: Versions, source: str, target: str | None, mode: str) -> str:
    old, new = v.source.steps[source], v.target.steps.get(target or source)
    if not isinstance(old, WaitStep) or not isinstance(new, WaitStep):
        return "the open task keeps its id, claims and due time"
    if mode == "restart":
        return f"restarted: {duration(new.timeout_seconds)} from the move (was {duration(old.timeout_seconds)})"
    return f"kept: the original deadline ({duration(old.timeout_seconds)} from when it began to wait)"


def step_rows(v: Versions, preview: Preview) -> list[StepRow]:
    """Every safe point of the source and every step an instance waits at, in the source's order."""
    at: dict[str | None, list[InstancePlan]] = defaultdict(list)
    for row in preview.rows:
        at[row.step].append(row)
    rows = []
    for plan in v.plan.steps:
        here = at.get(plan.source, [])
        if not here and plan.kind not in SAFE_KINDS:
            continue
        deadlines = sorted(row.deadline for row in here if row.deadline)
        rows.append(
            StepRow(
                plan.source,
                plan.kind,
                len(here),
                plan.movable,
                plan.target,
                _timers(v, plan.source, plan.target, plan.timers) if plan.movable else "",
                (deadlines[0], deadlines[-1]) if deadlines else None,
                plan.reason or "; ".join(plan.notes),
            )
        )
    return rows


def diagram(row: DefinitionVersion) -> Layout | None:
    raw = load(row.body).raw
    layout = layout_flow(raw) if isinstance(raw, dict) else None
    return layout if layout and layout.nodes else None


def highlights(v: Versions) -> dict[str, list[str]]:
    """The steps to mark on each diagram: the mapped ones on both, the safe points that cannot move."""
    return {
        "source_mapped": [plan.source for plan in v.plan.movable],
        "target_mapped": [plan.target or plan.source for plan in v.plan.movable],
        "source_blocked": [plan.source for plan in v.plan.blocked if plan.kind in SAFE_KINDS],
    }


def pick_versions(rows: list[DefinitionVersion], source: str, target: str) -> tuple[int, int]:
    """The versions asked for, if stored; by default from the one before the live version to the live one."""
    numbers = [row.version for row in rows]
    newest = numbers[0]
    to = int(target) if target.isdigit() and int(target) in numbers else newest
    default_from = max((n for n in numbers if n < to), default=min(numbers))
    return (int(source) if source.isdigit() and int(source) in numbers else default_from), to
