"""Rule sets: parse, check and evaluate audit rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from engine.errors import DefinitionError, join_path
from engine.expressions import (
    Expression,
    ExpressionError,
    condition_error,
    compile_expression,
    render_template,
    template_error,
)

# Strictness of an action: with the `collect` hit policy the strictest wins.
STRICTNESS = {"approve": 0, "review": 1, "reject": 2}


@dataclass(frozen=True)
class Rule:
    id: str
    when: Expression
    action: str
    reason: str


@dataclass(frozen=True)
class RuleSet:
    name: str
    hit_policy: str
    default: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class FiredRule:
    rule: str
    action: str
    reason: str


@dataclass(frozen=True)
class AuditDecision:
    action: str
    fired: tuple[FiredRule, ...]


def parse_rules(raw: dict) -> RuleSet:
    """Build the typed rule set from a definition that passed validation."""
    return RuleSet(
        name=raw["name"],
        hit_policy=raw.get("hit_policy", "collect"),
        default=raw.get("default", "approve"),
        rules=tuple(
            Rule(r["id"], compile_expression(r["when"]), r["action"], r["reason"])
            for r in raw["rules"]
        ),
    )


def check_rules(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks the JSON Schema cannot express."""
    seen: set[str] = set()
    for index, rule in enumerate(raw.get("rules", [])):
        path = join_path("$.rules", index)
        if rule["id"] in seen:
            yield DefinitionError(join_path(path, "id"), f"duplicate rule id {rule['id']!r}")
        seen.add(rule["id"])
        problem = condition_error(rule["when"])
        if problem:
            yield DefinitionError(
                join_path(path, "when"), f"expression does not compile: {problem}"
            )
        problem = template_error(rule["reason"])
        if problem:
            yield DefinitionError(join_path(path, "reason"), problem)


def evaluate_rules(rule_set: RuleSet, context: dict[str, Any]) -> AuditDecision:
    """Apply the rule set to ``context`` (``order`` and ``facts``) by its hit policy.

    A condition that fails to evaluate sends the order to review rather than
    letting it pass unaudited; the failure is the recorded reason.
    """
    fired: list[FiredRule] = []
    for rule in rule_set.rules:
        try:
            matched = rule.when.is_true(context)
            reason = render_template(rule.reason, context) if matched else ""
        except ExpressionError as exc:
            matched, reason = True, f"rule could not be evaluated: {exc}"
            fired.append(FiredRule(rule.id, "review", reason))
            if rule_set.hit_policy == "first":
                break
            continue
        if matched:
            fired.append(FiredRule(rule.id, rule.action, reason))
            if rule_set.hit_policy == "first":
                break
    if not fired:
        return AuditDecision(rule_set.default, ())
    action = max((f.action for f in fired), key=STRICTNESS.__getitem__)
    return AuditDecision(action, tuple(fired))
