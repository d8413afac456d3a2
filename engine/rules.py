"""Rule sets: parse, check and evaluate audit rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.errors import DefinitionError, join_path
from engine.expressions import (
    Expression,
    ExpressionError,
    compile_expression,
    condition_error,
    render_template,
)
from engine.reasons import Translations, reason_errors, render_translations, split_reason
from engine.tables import DecisionTable, check_table, compile_table

# Strictness of an action: with the `collect` hit policy the strictest wins.
# `tag` only labels the order; it never decides.
STRICTNESS = {"approve": 0, "review": 1, "reject": 2}


@dataclass(frozen=True)
class Rule:
    """A condition with its action, or a decision table whose matching row gives them."""

    id: str
    when: Expression | None
    action: str
    reason: str
    tag: str | None = None
    table: DecisionTable | None = None
    reasons: Translations = ()  # the reason in other languages (engine.reasons)


@dataclass(frozen=True)
class RuleSet:
    name: str
    hit_policy: str
    default: str
    rules: tuple[Rule, ...]
    # Every condition in one expression (`[c1, c2, ...]`): handing the context
    # to zen once instead of once per rule is most of an audit's cost.
    conditions: Expression | None = None


@dataclass(frozen=True)
class FiredRule:
    rule: str
    action: str
    reason: str  # English: what is stored and what the API says
    tag: str | None = None
    # Rendered in the rule's other languages, for the pages; the same decision whatever its translations.
    reasons: Translations = field(default=(), compare=False)


@dataclass(frozen=True)
class AuditDecision:
    action: str
    fired: tuple[FiredRule, ...]

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.tag for f in self.fired if f.tag))


def parse_rules(raw: dict) -> RuleSet:
    """Build the typed rule set from a definition that passed validation."""
    rules = tuple(_parse_rule(r, raw["name"]) for r in raw["rules"])
    conditions = [r.when.text for r in rules if r.when is not None]
    return RuleSet(
        name=raw["name"],
        hit_policy=raw.get("hit_policy", "collect"),
        default=raw.get("default", "approve"),
        rules=rules,
        conditions=compile_expression("[" + ", ".join(f"({c})" for c in conditions) + "]") if conditions else None,
    )


def _parse_rule(raw: dict, rule_set: str) -> Rule:
    if "table" in raw:
        return Rule(raw["id"], None, "", "", table=compile_table(raw["table"], f"{rule_set}.{raw['id']}"))
    reason, translations = split_reason(raw["reason"])
    return Rule(raw["id"], compile_expression(raw["when"]), raw["action"], reason, raw.get("tag"), reasons=translations)


def check_rules(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks the JSON Schema cannot express."""
    seen: set[str] = set()
    for index, rule in enumerate(raw.get("rules", [])):
        path = join_path("$.rules", index)
        if rule["id"] in seen:
            yield DefinitionError(join_path(path, "id"), f"duplicate rule id {rule['id']!r}")
        seen.add(rule["id"])
        if "table" in rule:
            yield from check_table(rule["table"], join_path(path, "table"))
            continue
        problem = condition_error(rule["when"])
        if problem:
            yield DefinitionError(join_path(path, "when"), f"expression does not compile: {problem}")
        yield from reason_errors(rule["reason"], join_path(path, "reason"))
        if rule["action"] == "tag" and not rule.get("tag"):
            yield DefinitionError(path, "a tag rule needs `tag`, the label it puts on the order")


def evaluate_rules(rule_set: RuleSet, context: dict[str, Any]) -> AuditDecision:
    """Apply the rule set to ``context`` (``order`` and ``facts``) by its hit policy.

    A condition that fails to evaluate sends the order to review rather than
    letting it pass unaudited; the failure is the recorded reason.
    """
    fired: list[FiredRule] = []
    matches = _all_conditions(rule_set, context)
    for rule in rule_set.rules:
        try:
            hit = _fire(rule, context, matches.get(rule.id))
        except ExpressionError as exc:
            hit = FiredRule(rule.id, "review", f"rule could not be evaluated: {exc}")
        if hit is None:
            continue
        fired.append(hit)
        # `first` stops at the first rule that decides; tags never stop it.
        if rule_set.hit_policy == "first" and hit.action != "tag":
            break
    deciding = [f.action for f in fired if f.action != "tag"]
    action = max(deciding, key=STRICTNESS.__getitem__) if deciding else rule_set.default
    return AuditDecision(action, tuple(fired))


def _all_conditions(rule_set: RuleSet, context: dict[str, Any]) -> dict[str, bool]:
    """Each condition's result from one evaluation; empty when one of them fails,
    so that each is then evaluated alone and the failing one named."""
    if rule_set.conditions is None:
        return {}
    try:
        values = rule_set.conditions.evaluate(context)
    except ExpressionError:
        return {}
    ids = [r.id for r in rule_set.rules if r.when is not None]
    if not isinstance(values, list) or len(values) != len(ids) or not all(isinstance(v, bool) for v in values):
        return {}
    return dict(zip(ids, values, strict=True))


def _fire(rule: Rule, context: dict[str, Any], matched: bool | None = None) -> FiredRule | None:
    if rule.table is not None:
        match = rule.table.first_match(context)
        if match is None:
            return None
        index, row = match
        return FiredRule(
            f"{rule.id}[{index}]",
            row.action,
            render_template(row.reason, context),
            row.tag,
            render_translations(row.reasons, context),
        )
    if matched is None:
        # A rule is either a table or a condition: the loader gives every rule without a table a `when`.
        assert rule.when is not None
        matched = rule.when.is_true(context)
    if not matched:
        return None
    reason = render_template(rule.reason, context)
    return FiredRule(rule.id, rule.action, reason, rule.tag, render_translations(rule.reasons, context))
