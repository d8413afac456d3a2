"""What-if: a draft rule set or flow over orders already recorded, touching none of them.

Each recorded order carries the facts its audit computed (``orders.audit``),
so a draft rule set can be evaluated over exactly what the live rules saw.
The draft is compared with a baseline: the live version of the same rule set
evaluated over the same facts (or, for a new rule set, the recorded action),
so the report shows what the draft itself would change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from engine.rules import (
    STRICTNESS,
    AuditDecision,
    FiredRule,
    RuleSet,
    evaluate_rules,
    parse_rules,
)
from engine.testcases import walk_flow

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
        return (f"{len(self.now_held)} of {self.considered} orders would now be held, "
                f"{len(self.no_longer_held)} would no longer be"
                + (f", {len(self.other_changes)} would be decided differently" if self.other_changes else "")
                + f" (compared with the {self.baseline})")


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
    subset = parse_rules({"name": draft_raw["name"], "hit_policy": "collect", "default": default,
                          "rules": changed}) if changed else None
    return Reuse(baseline_version, tuple(r["id"] for r in draft_raw["rules"]),
                 frozenset(r["id"] for r in changed), subset, default)


def _reused_decision(reuse: Reuse, order: RecordedOrder, ctx: dict) -> AuditDecision:
    """The draft's decision from the recorded outcome of unchanged rules and a fresh one of changed rules."""
    by_rule: dict[str, list] = {}
    for fired in order.recorded_fired or ():
        by_rule.setdefault(_base_rule(fired["rule"]), []).append(
            FiredRule(fired["rule"], fired["action"], fired["reason"], fired.get("tag")))
    fresh: dict[str, list] = {}
    if reuse.changed is not None:
        for fired in evaluate_rules(reuse.changed, ctx).fired:
            fresh.setdefault(_base_rule(fired.rule), []).append(fired)
    fired = [f for rule in reuse.rule_order
             for f in (fresh.get(rule, []) if rule in reuse.changed_ids else by_rule.get(rule, []))]
    deciding = [f.action for f in fired if f.action != "tag"]
    return AuditDecision(max(deciding, key=STRICTNESS.__getitem__) if deciding else reuse.default, tuple(fired))


def rules_whatif(draft: RuleSet, baseline: RuleSet | None, orders: Sequence[RecordedOrder],
                 baseline_label: str = "", reuse: Reuse | None = None) -> RulesWhatIf:
    """Evaluate ``draft`` (and ``baseline``) over every recorded order's document and facts.

    With ``reuse``, orders audited by the baseline version take the baseline's
    recorded outcome and only the draft's changed rules are evaluated.
    """
    report = RulesWhatIf(baseline=baseline_label or ("live version" if baseline else "recorded outcome"))
    for order in orders:
        ctx = {"order": order.document, "facts": order.facts}
        recorded = (reuse is not None and order.recorded_version == reuse.version
                    and order.recorded_fired is not None and order.recorded_action is not None)
        after = _reused_decision(reuse, order, ctx) if recorded else evaluate_rules(draft, ctx)
        for rule in {_base_rule(f.rule) for f in after.fired}:
            report.fired_counts[rule] = report.fired_counts.get(rule, 0) + 1
        if recorded:
            before = order.recorded_action
            before_fired = tuple(FiredView(f["rule"], f["action"], f["reason"]) for f in order.recorded_fired)
        elif baseline is not None:
            before_decision = evaluate_rules(baseline, ctx)
            before, before_fired = before_decision.action, _fired(before_decision)
        else:
            before, before_fired = order.recorded_action or draft.default, ()
        report.considered += 1
        if before == after.action:
            continue
        change = ChangedOrder(order.order_id, float(order.document.get("total") or 0),
                              str(order.document.get("channel") or ""), before, after.action, _fired(after),
                              before_fired, order.created_at)
        if after.action in HELD and before not in HELD:
            report.now_held.append(change)
        elif before in HELD and after.action not in HELD:
            report.no_longer_held.append(change)
        else:
            report.other_changes.append(change)
    return report


@dataclass(frozen=True)
class PathChange:
    order_id: str
    before: tuple[str, ...]
    after: tuple[str, ...]

    @property
    def before_stop(self) -> str:
        return self.before[-1] if self.before else ""

    @property
    def after_stop(self) -> str:
        return self.after[-1] if self.after else ""


@dataclass
class FlowWhatIf:
    """Where recorded orders would go under the draft flow, up to their first wait or approval."""

    considered: int = 0
    baseline: str = ""
    changed: list[PathChange] = field(default_factory=list)
    stops: dict[str, int] = field(default_factory=dict)  # step the draft takes orders to -> how many

    def summary(self) -> str:
        return (f"{len(self.changed)} of {self.considered} orders would take another path "
                f"(compared with the {self.baseline})")


def flow_whatif(draft, baseline, orders: Sequence[RecordedOrder], baseline_label: str = "") -> FlowWhatIf:
    """Walk ``draft`` and ``baseline`` for each order with its recorded audit action, to the first wait."""
    report = FlowWhatIf(baseline=baseline_label or "live version")
    for order in orders:
        action = order.recorded_action or "approve"
        after = walk_flow(draft, order.document, action, stop_at_waits=True).path
        report.stops[after[-1] if after else ""] = report.stops.get(after[-1] if after else "", 0) + 1
        before = walk_flow(baseline, order.document, action, stop_at_waits=True).path if baseline else ()
        report.considered += 1
        if baseline is not None and before != after:
            report.changed.append(PathChange(order.order_id, before, after))
    return report
