"""Flows: the typed model of a flow definition and its semantic checks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from engine.catalog import ACTIVITIES, AUDIT_ACTIONS, ROLES, step_activities
from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path
from engine.expressions import Expression, compile_expression, condition_error, suggest
from engine.http_steps import HttpCallSpec, check_http, parse_http_call


@dataclass(frozen=True)
class Step:
    id: str
    status: str | None


@dataclass(frozen=True)
class ActivityStep(Step):
    activity: str
    next: str
    params: Mapping = field(default_factory=dict)
    on_error: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditStep(Step):
    rules: str
    on: Mapping[str, str]


@dataclass(frozen=True)
class ApprovalStep(Step):
    title: str
    role: str
    due_seconds: float
    on: Mapping[str, str]
    on_timeout: str
    comment_required: tuple[str, ...] = ()
    escalation_role: str | None = None
    escalation_seconds: float = 0
    four_eyes_above: float | None = None
    # Events that end the task without a decision (e.g. cancel_requested), and where they go.
    events: Mapping[str, str] = field(default_factory=dict)
    # Decisions that must carry scans of every SKU and quantity (pick, check, pack).
    scan: tuple[str, ...] = ()

    def phases(self) -> tuple[tuple[str, float], ...]:
        """(role, seconds) the task spends with each role before the final timeout."""
        first = ((self.role, self.due_seconds),)
        if self.escalation_role:
            return (*first, (self.escalation_role, self.escalation_seconds))
        return first

    def needs_two_approvals(self, total: float) -> bool:
        return self.four_eyes_above is not None and total > self.four_eyes_above


@dataclass(frozen=True)
class WaitStep(Step):
    on: Mapping[str, str]
    timeout_seconds: float
    on_timeout: str


@dataclass(frozen=True)
class SwitchStep(Step):
    cases: tuple[tuple[Expression, str], ...]
    default: str


@dataclass(frozen=True)
class HttpStep(Step):
    """Calls another system over HTTP (engine/http_steps.py); a 2xx answer goes to ``next``."""

    call: HttpCallSpec
    next: str
    # Outcome (a status "404", a class "4xx", "timeout", "unreachable") -> step.
    on_error: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EndStep(Step):
    pass


@dataclass(frozen=True)
class StepMove:
    """Where instances waiting at a step of an earlier version go in this one, and their timer."""

    to: str
    timers: str | None = None  # keep | restart; None: the section's default


@dataclass(frozen=True)
class MigrateRules:
    """A flow's ``migrate:`` section: explicit step mappings and the default for running timers."""

    timers: str = "keep"
    steps: Mapping[str, StepMove] = field(default_factory=dict)


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    form: str | None
    start: str
    steps: Mapping[str, Step]
    serves: str = "order"
    migrate: MigrateRules = MigrateRules()

    @property
    def rule_sets(self) -> tuple[str, ...]:
        return tuple(sorted({s.rules for s in self.steps.values() if isinstance(s, AuditStep)}))


def _parse_step(raw: dict) -> Step:
    common = {"id": raw["id"], "status": raw.get("status")}
    kind = raw["type"]
    if kind == "activity":
        return ActivityStep(
            **common,
            activity=raw["activity"],
            next=raw["next"],
            params=dict(raw.get("params", {})),
            on_error=dict(raw.get("on_error", {})),
        )
    if kind == "audit":
        return AuditStep(**common, rules=raw["rules"], on=dict(raw["on"]))
    if kind == "approval":
        return ApprovalStep(
            **common,
            title=raw.get("title", raw["id"].replace("_", " ").capitalize()),
            role=raw["role"],
            due_seconds=parse_duration(raw["due"]),
            on=dict(raw["on"]),
            on_timeout=raw["on_timeout"],
            comment_required=tuple(raw.get("comment_required", ())),
            escalation_role=raw.get("escalation", {}).get("role"),
            escalation_seconds=parse_duration(raw["escalation"]["due"]) if "escalation" in raw else 0,
            four_eyes_above=raw.get("four_eyes_above"),
            events=dict(raw.get("events", {})),
            scan=tuple(raw.get("scan", ())),
        )
    if kind == "wait":
        return WaitStep(
            **common,
            on=dict(raw["on"]),
            timeout_seconds=parse_duration(raw["timeout"]),
            on_timeout=raw["on_timeout"],
        )
    if kind == "switch":
        return SwitchStep(
            **common,
            cases=tuple((compile_expression(c["when"]), c["next"]) for c in raw["cases"]),
            default=raw["default"],
        )
    if kind == "http":
        # YAML reads an unquoted `404:` as a number; outcomes are compared as text.
        on_error = {str(outcome): target for outcome, target in (raw.get("on_error") or {}).items()}
        return HttpStep(**common, call=parse_http_call(raw), next=raw["next"], on_error=on_error)
    return EndStep(**common)


def parse_flow(raw: dict) -> Flow:
    """Build the typed flow from a definition that passed validation."""
    return Flow(
        name=raw["name"],
        title=raw.get("title", raw["name"]),
        form=raw.get("form"),
        serves=raw.get("serves", "order"),
        start=raw["start"],
        steps={s["id"]: _parse_step(s) for s in raw["steps"]},
        migrate=_parse_migrate(raw.get("migrate") or {}),
    )


def _parse_migrate(raw: dict) -> MigrateRules:
    moves = {
        source: StepMove(to=target) if isinstance(target, str) else StepMove(target["to"], target.get("timers"))
        for source, target in (raw.get("steps") or {}).items()
    }
    return MigrateRules(timers=raw.get("timers", "keep"), steps=moves)


def step_targets(raw_step: dict) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every (relative path, step id) a step can go to next."""
    for key in ("next", "default", "on_timeout"):
        if key in raw_step:
            yield (key,), raw_step[key]
    for key in ("on", "on_error", "events"):
        for outcome, target in raw_step.get(key, {}).items():
            yield (key, str(outcome)), target
    for index, case in enumerate(raw_step.get("cases", [])):
        yield ("cases", index, "next"), case["next"]


def check_flow(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks: unknown or unreachable steps, bad expressions, unknown activities."""
    steps = raw["steps"]
    ids: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step["id"] in ids:
            yield DefinitionError(join_path("$.steps", index, "id"), f"duplicate step id {step['id']!r}")
        else:
            ids[step["id"]] = index
    if raw["start"] not in ids:
        yield DefinitionError("$.start", f"unknown step {raw['start']!r}{suggest(raw['start'], ids)}")
    step_errors: list[DefinitionError] = []
    serves = raw.get("serves", "order")
    for index, step in enumerate(steps):
        step_errors.extend(_check_step(step, join_path("$.steps", index), ids, serves))
    yield from step_errors
    # One mistyped target would make every step after it "unreachable": report
    # reachability only once every target names a real step.
    if not any(e.message.startswith("unknown step") for e in step_errors):
        yield from _check_reachable(raw, ids)
    yield from _check_migrate(raw.get("migrate") or {}, ids)


def _check_migrate(raw: dict, ids: dict[str, int]) -> Iterator[DefinitionError]:
    """Every step a ``migrate:`` mapping names as its target exists in this flow."""
    for source, target in (raw.get("steps") or {}).items():
        to = target if isinstance(target, str) else target.get("to", "")
        rel = ("steps", source) if isinstance(target, str) else ("steps", source, "to")
        if to not in ids:
            yield DefinitionError(join_path("$.migrate", *rel), f"unknown step {to!r}{suggest(to, ids)}")


def _check_step(step: dict, path: str, ids: dict[str, int], serves: str) -> Iterator[DefinitionError]:
    for rel, target in step_targets(step):
        if target not in ids:
            yield DefinitionError(join_path(path, *rel), f"unknown step {target!r}{suggest(target, ids)}")
    kind = step["type"]
    if kind in ("approval", "wait") and "timeout" in step.get("on", {}):
        yield DefinitionError(join_path(path, "on", "timeout"), "'timeout' is reserved; name where to go in on_timeout")
    if kind == "activity":
        known = step_activities(serves)
        spec = known.get(step["activity"])
        other = ACTIVITIES.get(step["activity"])
        if spec is None and other is not None and other.step:
            yield DefinitionError(
                join_path(path, "activity"),
                f"activity {other.name!r} serves {other.serves} flows and this flow serves {serves} flows"
                + ("" if serves != "order" else " (a return flow says `serves: return`)"),
            )
        elif spec is None:
            yield DefinitionError(
                join_path(path, "activity"),
                f"unknown activity {step['activity']!r}{suggest(step['activity'], known)}; "
                f"known in {serves} flows: {', '.join(sorted(known))}",
            )
        else:
            yield from _check_params(step, path)
            for failure in step.get("on_error", {}):
                if failure not in spec.failures:
                    can = (
                        f"it can fail with: {', '.join(spec.failures)}" if spec.failures else "it declares no failures"
                    )
                    yield DefinitionError(
                        join_path(path, "on_error", failure),
                        f"activity {spec.name!r} has no failure {failure!r}; {can}",
                    )
    elif kind == "audit":
        for outcome in step["on"]:
            if outcome not in AUDIT_ACTIONS:
                yield DefinitionError(
                    join_path(path, "on", outcome),
                    f"unknown audit outcome {outcome!r}; outcomes are {', '.join(AUDIT_ACTIONS)}",
                )
        for outcome in AUDIT_ACTIONS:
            if outcome not in step["on"]:
                yield DefinitionError(join_path(path, "on"), f"no step for audit outcome {outcome!r}")
    elif kind == "approval":
        roles: list[tuple[tuple[str, ...], str]] = [(("role",), step["role"])]
        if "escalation" in step:
            roles.append((("escalation", "role"), step["escalation"]["role"]))
        for rel, role in roles:
            if role not in ROLES:
                yield DefinitionError(
                    join_path(path, *rel),
                    f"unknown role {role!r}{suggest(role, ROLES)}; roles are {', '.join(ROLES)}",
                )
        if "four_eyes_above" in step and "approve" not in step["on"]:
            yield DefinitionError(
                join_path(path, "four_eyes_above"), "four-eyes applies to an 'approve' decision, which this step lacks"
            )
        for decision in step.get("comment_required", []):
            if decision not in step["on"]:
                yield DefinitionError(
                    join_path(path, "comment_required"),
                    f"{decision!r} is not a decision of this step",
                )
        for index, decision in enumerate(step.get("scan", [])):
            if decision not in step["on"]:
                yield DefinitionError(join_path(path, "scan", index), f"{decision!r} is not a decision of this step")
        for event in step.get("events", {}):
            if event in step["on"]:
                yield DefinitionError(
                    join_path(path, "events", event), f"{event!r} is a decision of this step; name the event otherwise"
                )
    elif kind == "http":
        yield from check_http(step, path, serves)
    elif kind == "switch":
        for index, case in enumerate(step["cases"]):
            problem = condition_error(case["when"])
            if problem:
                yield DefinitionError(
                    join_path(path, "cases", index, "when"),
                    f"expression does not compile: {problem}",
                )
    for rel, value in (
        (("due",), step.get("due")),
        (("timeout",), step.get("timeout")),
        (("escalation", "due"), step.get("escalation", {}).get("due")),
    ):
        if value is not None:
            try:
                parse_duration(value)
            except ValueError as exc:
                yield DefinitionError(join_path(path, *rel), str(exc))


def _check_params(step: dict, path: str) -> Iterator[DefinitionError]:
    """The params of fulfilment activities that would otherwise fail only when an order gets there."""
    params = step.get("params", {})
    if step["activity"] == "notify" and not isinstance(params.get("event"), str):
        yield DefinitionError(join_path(path, "params"), "notify needs params.event, e.g. {event: shipped}")
    if step["activity"] == "create_shipment":
        if "apart" in params:
            problem = condition_error(str(params["apart"]))
            if problem:
                yield DefinitionError(join_path(path, "params", "apart"), f"expression does not compile: {problem}")
        if "merge_window" in params:
            try:
                parse_duration(str(params["merge_window"]))
            except ValueError as exc:
                yield DefinitionError(join_path(path, "params", "merge_window"), str(exc))


def _check_reachable(raw: dict, ids: dict[str, int]) -> Iterator[DefinitionError]:
    by_id = {s["id"]: s for s in raw["steps"]}
    seen: set[str] = set()
    pending = [raw["start"]] if raw["start"] in by_id else []
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        pending.extend(t for _, t in step_targets(by_id[current]) if t in by_id)
    if not seen:
        return
    for step_id, index in ids.items():
        if step_id not in seen:
            yield DefinitionError(
                join_path("$.steps", index, "id"),
                f"step {step_id!r} is unreachable from start {raw['start']!r}",
            )
    if not any(by_id[s]["type"] == "end" for s in seen):
        yield DefinitionError("$.steps", "no end step is reachable from start")
