"""What-if: a draft rule set or flow over orders already recorded, touching none of them.

Each recorded order carries the facts its audit computed (``orders.audit``),
so a draft rule set can be evaluated over exactly what the live rules saw.
The draft is compared with a baseline: the live version of the same rule set
evaluated over the same facts (or, for a new rule set, the recorded action),
so the report shows what the draft itself would change.

A draft flow is walked by the one interpreter with simulated effects for each
recorded order, replaying its timeline (``engine.replay``): past the waits and
approvals it already passed, to its end or the next wait it has not passed;
the same replay through the live version gives the path it is compared with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.flows import Flow
from engine.replay import TimelineLine, recorded_script
from engine.rules import (
    STRICTNESS,
    AuditDecision,
    FiredRule,
    RuleSet,
    evaluate_rules,
    parse_rules,
)
from engine.simulation import Script, Simulated, simulate

HELD = ("review", "reject")


@dataclass(frozen=True)
class RecordedOrder:
    """What an order's audit saw: its document and facts, and the action then recorded."""

    order_id: str
    document: dict[str, Any]
    facts: dict[str, Any]
    recorded_action: str | None
    created_at: str = ""
    # The rules that fired at audit time ({rule, action, reason}) and the rule-set version that audited.
    recorded_fired: tuple[dict, ...] | None = None
    recorded_version: int | None = None
    # Its timeline so far (events, decisions, timeouts, failures): what a flow what-if replays.
    timeline: tuple[TimelineLine, ...] = ()


@dataclass(frozen=True)
class FiredView:
    rule: str
    action: str
    reason: str


@dataclass(frozen=True)
class ChangedOrder:
    order_id: str
    total: float
    channel: str
    before: str
    after: str
    fired: tuple[FiredView, ...]  # the draft's rules that fired on this order
    before_fired: tuple[FiredView, ...]
    created_at: str = ""


@dataclass
class RulesWhatIf:
    """The draft's effect: orders now held, no longer held, or decided differently."""

    considered: int = 0
    baseline: str = ""  # "live v3" or "recorded outcome"
    now_held: list[ChangedOrder] = field(default_factory=list)
    no_longer_held: list[ChangedOrder] = field(default_factory=list)
    other_changes: list[ChangedOrder] = field(default_factory=list)
    fired_counts: dict[str, int] = field(default_factory=dict)  # draft rule id -> orders it fired on

    @property
    def unchanged(self) -> int:
        return self.considered - len(self.now_held) - len(self.no_longer_held) - len(self.other_changes)

    def summary(self) -> str:
        return (
            f"{len(self.now_held)} of {self.considered} orders would now be held, "
            f"{len(self.no_longer_held)} would no longer be"
            + (f", {len(self.other_changes)} would be decided differently" if self.other_changes else "")
            + f" (compared with the {self.baseline})"
        )


def _fired(decision: AuditDecision) -> tuple[FiredView, ...]:
    return tuple(FiredView(f.rule, f.action, f.reason) for f in decision.fired)


def _base_rule(fired_id: str) -> str:
    return fired_id.split("[", 1)[0]


@dataclass(frozen=True)
class Reuse:
    """How to reuse what the baseline version recorded at audit time instead of evaluating it again.

    With the ``collect`` hit policy every matching rule is recorded, so for an
    order audited by the baseline version the outcome of every rule the draft
    left unchanged is already known: only the draft's new or changed rules
    need evaluating. That is what makes what-if over 10,000 orders fast.
    """

    version: int
    rule_order: tuple[str, ...]  # the draft's rule ids, in order
    changed_ids: frozenset[str]
    changed: RuleSet | None  # the draft's new and changed rules alone; None when there are none
    default: str


def plan_reuse(draft_raw: dict, baseline_raw: dict, baseline_version: int) -> Reuse | None:
    """A Reuse plan when both rule sets collect every match; None when every order must be evaluated again."""
    if draft_raw.get("hit_policy", "collect") != "collect" or baseline_raw.get("hit_policy", "collect") != "collect":
        return None
    live = {rule["id"]: rule for rule in baseline_raw["rules"]}
    changed = [rule for rule in draft_raw["rules"] if live.get(rule["id"]) != rule]
    default = draft_raw.get("default", "approve")
    subset = (
        parse_rules({"name": draft_raw["name"], "hit_policy": "collect", "default": default, "rules": changed})
        if changed
        else None
    )
    return Reuse(
        baseline_version,
        tuple(r["id"] for r in draft_raw["rules"]),
        frozenset(r["id"] for r in changed),
        subset,
        default,
    )


def _reused_decision(reuse: Reuse, order: RecordedOrder, ctx: dict) -> AuditDecision:
    """The draft's decision from the recorded outcome of unchanged rules and a fresh one of changed rules."""
    by_rule: dict[str, list] = {}
    for recorded in order.recorded_fired or ():
        by_rule.setdefault(_base_rule(recorded["rule"]), []).append(
            FiredRule(recorded["rule"], recorded["action"], recorded["reason"], recorded.get("tag"))
        )
    fresh: dict[str, list] = {}
    if reuse.changed is not None:
        for new in evaluate_rules(reuse.changed, ctx).fired:
            fresh.setdefault(_base_rule(new.rule), []).append(new)
    fired = [
        f
        for rule in reuse.rule_order
        for f in (fresh.get(rule, []) if rule in reuse.changed_ids else by_rule.get(rule, []))
    ]
    deciding = [f.action for f in fired if f.action != "tag"]
    return AuditDecision(max(deciding, key=STRICTNESS.__getitem__) if deciding else reuse.default, tuple(fired))


def rules_whatif(
    draft: RuleSet,
    baseline: RuleSet | None,
    orders: Sequence[RecordedOrder],
    baseline_label: str = "",
    reuse: Reuse | None = None,
) -> RulesWhatIf:
    """Evaluate ``draft`` (and ``baseline``) over every recorded order's document and facts.

    With ``reuse``, orders audited by the baseline version take the baseline's
    recorded outcome and only the draft's changed rules are evaluated.
    """
    report = RulesWhatIf(baseline=baseline_label or ("live version" if baseline else "recorded outcome"))
    for order in orders:
        ctx = {"order": order.document, "facts": order.facts}
        before: str
        before_fired: tuple[FiredView, ...]
        if (
            reuse is not None
            and order.recorded_version == reuse.version
            and order.recorded_fired is not None
            and order.recorded_action is not None
        ):
            after = _reused_decision(reuse, order, ctx)
            before = order.recorded_action
            before_fired = tuple(FiredView(f["rule"], f["action"], f["reason"]) for f in order.recorded_fired)
        else:
            after = evaluate_rules(draft, ctx)
            if baseline is not None:
                before_decision = evaluate_rules(baseline, ctx)
                before, before_fired = before_decision.action, _fired(before_decision)
            else:
                before, before_fired = order.recorded_action or draft.default, ()
        for rule in {_base_rule(f.rule) for f in after.fired}:
            report.fired_counts[rule] = report.fired_counts.get(rule, 0) + 1
        report.considered += 1
        if before == after.action:
            continue
        change = ChangedOrder(
            order.order_id,
            float(order.document.get("total") or 0),
            str(order.document.get("channel") or ""),
            before,
            after.action,
            _fired(after),
            before_fired,
            order.created_at,
        )
        if after.action in HELD and before not in HELD:
            report.now_held.append(change)
        elif before in HELD and after.action not in HELD:
            report.no_longer_held.append(change)
        else:
            report.other_changes.append(change)
    return report


@dataclass(frozen=True)
class PathChange:
    """An order's path under the version compared with and under the draft, and where each leaves it."""

    order_id: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    # "completed" (the end status), "waiting at await_delivery", or "fails: ..." (a failure the flow does not handle).
    before_outcome: str = ""
    after_outcome: str = ""

    @property
    def before_stop(self) -> str:
        return self.before[-1] if self.before else ""

    @property
    def after_stop(self) -> str:
        return self.after[-1] if self.after else ""


@dataclass
class FlowWhatIf:
    """Where recorded orders would go under the draft flow: to their end or the next wait they have not passed."""

    considered: int = 0
    baseline: str = ""
    changed: list[PathChange] = field(default_factory=list)
    stops: dict[str, int] = field(default_factory=dict)  # step the draft takes orders to -> how many
    ended: int = 0  # orders the draft takes to an end step
    waiting: int = 0  # orders the draft leaves waiting (for an event or a decision not recorded yet)
    failing: int = 0  # orders the draft would fail (a failure it does not handle)

    @property
    def unchanged(self) -> int:
        return self.considered - len(self.changed)

    def summary(self) -> str:
        compared = f" (compared with the {self.baseline})" if self.baseline else ""
        return (
            f"{len(self.changed)} of {self.considered} orders would take another path{compared}; "
            f"with the draft {self.ended} would end, {self.waiting} would wait"
            + (f", {self.failing} would fail" if self.failing else "")
        )


def _outcome(walk: Simulated) -> str:
    if walk.problem:
        return f"fails: {walk.problem}"
    if walk.ended:
        return walk.status or (walk.path[-1] if walk.path else "")
    return f"waiting at {walk.path[-1]}" if walk.path else "waiting"


def replay_order(flow: Flow, order: RecordedOrder, script: Script) -> Simulated:
    """Walk ``flow`` for a recorded order with what its timeline says happened, to its end or next real wait."""
    document = dict(order.document)
    document.setdefault("id", order.order_id)
    return simulate(flow, document, script)  # the effects copy what they consume: one script serves both walks


def flow_whatif(
    draft: Flow, baseline: Flow | None, orders: Sequence[RecordedOrder], baseline_label: str = ""
) -> FlowWhatIf:
    """Replay each recorded order through ``draft`` (and ``baseline``) and report the orders whose path changes.

    An order passes the waits and approvals its timeline shows it passed (the
    event that came, the timeout, the decisions taken) and stops at the first
    one it has not: a finished order is walked to its end.
    """
    report = FlowWhatIf(baseline=baseline_label if baseline is not None else "")
    flows = [draft] if baseline is None else [draft, baseline]
    for order in orders:
        script = recorded_script(order.timeline, flows, order.recorded_action)
        after = replay_order(draft, order, script)
        stop = after.path[-1] if after.path else ""
        report.stops[stop] = report.stops.get(stop, 0) + 1
        report.considered += 1
        if after.problem:
            report.failing += 1
        elif after.ended:
            report.ended += 1
        else:
            report.waiting += 1
        if baseline is None:
            continue
        before = replay_order(baseline, order, script)
        if (before.path, before.problem) != (after.path, after.problem):
            report.changed.append(
                PathChange(order.order_id, before.path, after.path, _outcome(before), _outcome(after))
            )
    return report
