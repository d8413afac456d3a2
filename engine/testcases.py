"""Test cases stored with a definition, run on every validation.

A rule set or a flow may carry a ``tests:`` list. Each case is an example
order (merged over an ordinary one, so a case states only what matters) and
what must come of it:

```yaml
tests:
  - name: a big order to a new address is held
    order: {total: 6000}
    facts: {first_time_address: true}     # merged over ordinary facts
    expect: {action: review, fired: [high_value_new_address]}
```

For a flow, a case gives the audit outcome, the decisions of approval steps
and the events that arrive, and expects the path the pure interpreter takes:

```yaml
tests:
  - name: unpaid order waits for its payment
    order: {payment: {status: pending}}
    audit: approve
    events: [payment_received, delivered]
    expect: {path: [audit, reserve, payment_check, await_payment, record_payment, delivery_method, ship, await_delivery, completed], status: completed}
```

A failing case is a definition error at ``$.tests[i]``: the definition
cannot be published while one fails, and every client (CLI, API, editor)
shows the case and what happened instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterator

from engine.errors import DefinitionError, join_path
from engine.expressions import suggest
from engine.flows import (
    ActivityStep,
    ApprovalStep,
    AuditStep,
    EndStep,
    SwitchStep,
    WaitStep,
)
from engine.interpreter import TIMEOUT, FlowError, context, evaluate_switch, next_step
from engine.rules import evaluate_rules

# An ordinary, prepaid consumer order; a test case's `order` is merged over it.
ORDINARY_ORDER: dict[str, Any] = {
    "id": "ord_test",
    "channel": "web",
    "external_id": "TEST-1",
    "customer": {"name": "Ann Example", "email": "ann@example.com", "type": "consumer"},
    "shipping_address": {"street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}],
    "payment": {"method": "card", "status": "paid"},
    "client_ip": "203.0.113.7",
    "delivery_method": "ship",
    "coupon": None,
}

# What the audit activity finds for an ordinary order; a case's `facts` are merged over them.
ORDINARY_FACTS: dict[str, Any] = {
    "first_time_address": False,
    "orders_from_ip_last_hour": 1,
    "velocity": {"ip": 1, "phone": 1, "address": 1, "window_minutes": 60},
    "customer": {"known": True, "orders_so_far": 1, "returned_orders": 0, "returns_ratio": 0.0},
    "credit": {"limit": 0.0, "open_balance": 0.0, "remaining": 0.0},
    "address": {"complete": True, "missing": [], "serviceable": True, "unserviceable_reason": ""},
    "stock": {"lines": [], "all_available": True},
    "coupon": {"code": None, "exists": False, "valid": False, "min_spend_met": False},
}

MAX_FLOW_STEPS = 500


@dataclass(frozen=True)
class CaseResult:
    """One case: its index and name, whether it passed, what happened."""

    index: int
    name: str
    passed: bool
    detail: str
    # rules: the action and rule ids that fired; flow: the path taken.
    outcome: dict

    @property
    def path(self) -> str:
        return join_path("$.tests", self.index)


def merged(base: dict, overrides: dict | None) -> dict:
    """``base`` with ``overrides`` applied key by key, nested mappings merged."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def example_order(overrides: dict | None) -> dict:
    """The case's order; ``total`` is computed from the lines unless the case gives it."""
    order = merged(ORDINARY_ORDER, overrides)
    if "total" not in (overrides or {}):
        try:
            order["total"] = round(sum(float(l["qty"]) * float(l["price"]) for l in order.get("lines") or []), 2)
        except (KeyError, TypeError, ValueError):
            order["total"] = 0
    return order


def _case_name(case: dict, index: int) -> str:
    return str(case.get("name") or f"case {index + 1}")


def _fired_matches(expected: str, fired_ids: list[str]) -> bool:
    # A decision table fires as `table_id[row]`; naming the table matches any row.
    return any(f == expected or f.startswith(expected + "[") for f in fired_ids)


def run_rule_case(rule_set, case: dict, index: int) -> CaseResult:
    """Evaluate a rule set over the case's order and facts and compare with `expect`."""
    order = example_order(case.get("order"))
    facts = merged(ORDINARY_FACTS, case.get("facts"))
    decision = evaluate_rules(rule_set, {"order": order, "facts": facts})
    fired = [f.rule for f in decision.fired]
    expect = case.get("expect") or {}
    problems = []
    if "action" in expect and decision.action != expect["action"]:
        problems.append(f"expected action {expect['action']}, got {decision.action}")
    missing = [r for r in expect.get("fired", []) if not _fired_matches(r, fired)]
    if missing:
        problems.append(f"expected {', '.join(missing)} to fire")
    unwanted = [r for r in expect.get("not_fired", []) if _fired_matches(r, fired)]
    if unwanted:
        problems.append(f"expected {', '.join(unwanted)} not to fire")
    missing_tags = [t for t in expect.get("tags", []) if t not in decision.tags]
    if missing_tags:
        problems.append(f"expected tags {', '.join(missing_tags)}")
    fired_text = ", ".join(fired) or "none"
    detail = (
        f"{'; '.join(problems)} (action {decision.action}, fired: {fired_text})"
        if problems else f"action {decision.action}, fired: {fired_text}"
    )
    outcome = {"action": decision.action, "fired": fired, "tags": list(decision.tags),
               "reasons": [f.reason for f in decision.fired]}
    return CaseResult(index, _case_name(case, index), not problems, detail, outcome)


@dataclass(frozen=True)
class Walk:
    """Where a flow takes an example order: the steps in order and the end status."""

    path: tuple[str, ...]
    status: str | None
    ended: bool
    problem: str = ""


def walk_flow(flow, order: dict, audit: str = "approve", decisions: dict | None = None,
              events: list | None = None, failures: dict | None = None, stop_at_waits: bool = False) -> Walk:
    """Follow ``flow`` for ``order`` with the pure interpreter, no timers and no I/O.

    Audits give ``audit`` (or ``audit[step]`` when a mapping); approvals take
    ``decisions[step]`` or time out; waits take the next event they react to
    from ``events`` or time out; activities succeed unless ``failures[step]``
    names their failure. With ``stop_at_waits`` the walk stops at the first
    approval or wait, which is where a recorded order would now be waiting.
    """
    decisions, failures = decisions or {}, failures or {}
    pending = [e if isinstance(e, str) else str(e) for e in (events or [])]
    received: dict[str, dict] = {}
    audit_result: dict = {}
    results: dict = {}
    path: list[str] = []
    status = None
    current = flow.start
    for _ in range(MAX_FLOW_STEPS):
        step = flow.steps[current]
        path.append(current)
        status = step.status or status
        if isinstance(step, EndStep):
            return Walk(tuple(path), status, True)
        if stop_at_waits and isinstance(step, (ApprovalStep, WaitStep)):
            return Walk(tuple(path), status, False)
        outcome: str | None = None
        if isinstance(step, ActivityStep):
            outcome = failures.get(step.id)
            results[step.id] = {}
        elif isinstance(step, AuditStep):
            outcome = audit.get(step.id, "approve") if isinstance(audit, dict) else audit
            audit_result = {"action": outcome, "fired": []}
        elif isinstance(step, ApprovalStep):
            outcome = decisions.get(step.id, TIMEOUT)
        elif isinstance(step, WaitStep):
            outcome = TIMEOUT
            for position, event in enumerate(pending):
                if event in step.on:
                    outcome = pending.pop(position)
                    received[outcome] = {}
                    break
        try:
            if isinstance(step, SwitchStep):
                current = evaluate_switch(step, context(order, audit_result, results, received))[0]
            else:
                current = next_step(flow, step, outcome)
        except FlowError as exc:
            return Walk(tuple(path), status, False, str(exc))
    return Walk(tuple(path), status, False, f"no end after {MAX_FLOW_STEPS} steps (a loop?)")


def run_flow_case(flow, case: dict, index: int) -> CaseResult:
    order = example_order(case.get("order"))
    walk = walk_flow(flow, order, case.get("audit", "approve"), case.get("decisions"), case.get("events"),
                     case.get("failures"))
    expect = case.get("expect") or {}
    problems = [walk.problem] if walk.problem else []
    if "path" in expect and list(walk.path) != list(expect["path"]):
        expected, got = list(expect["path"]), list(walk.path)
        at = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
        problems.append(
            f"expected path {' > '.join(expected)}, got {' > '.join(got)} (they part at step {at + 1})"
        )
    if "end" in expect and (not walk.path or walk.path[-1] != expect["end"]):
        problems.append(f"expected to end at {expect['end']}, ended at {walk.path[-1] if walk.path else 'nothing'}")
    if "status" in expect and walk.status != expect["status"]:
        problems.append(f"expected status {expect['status']}, got {walk.status}")
    path_text = " > ".join(walk.path)
    detail = f"{'; '.join(problems)} (path: {path_text})" if problems else f"path: {path_text}"
    outcome = {"path": list(walk.path), "status": walk.status}
    return CaseResult(index, _case_name(case, index), not problems, detail, outcome)


def check_cases(kind: str, raw: dict) -> Iterator[DefinitionError]:
    """Cases that name rules, steps or events the definition does not have."""
    for index, case in enumerate(raw.get("tests") or []):
        path = join_path("$.tests", index)
        expect = case.get("expect") or {}
        if kind == "rules":
            ids = [r["id"] for r in raw.get("rules", [])]
            for key in ("fired", "not_fired"):
                for position, rule in enumerate(expect.get(key, [])):
                    if rule not in ids:
                        yield DefinitionError(join_path(path, "expect", key, position),
                                              f"unknown rule {rule!r}{suggest(rule, ids)}")
        elif kind == "flow":
            steps = {s["id"]: s for s in raw.get("steps", [])}
            named = [(("expect", "path", p), s) for p, s in enumerate(expect.get("path", []))]
            named += [(("expect", "end"), expect["end"])] if "end" in expect else []
            named += [(("decisions", s), s) for s in case.get("decisions") or {}]
            named += [(("failures", s), s) for s in case.get("failures") or {}]
            for rel, step_id in named:
                if step_id not in steps:
                    yield DefinitionError(join_path(path, *rel), f"unknown step {step_id!r}{suggest(step_id, steps)}")
            for step_id, decision in (case.get("decisions") or {}).items():
                step = steps.get(step_id)
                if step is not None and step.get("type") != "approval":
                    yield DefinitionError(join_path(path, "decisions", step_id), f"step {step_id!r} is not an approval")
                elif step is not None and decision not in step.get("on", {}):
                    yield DefinitionError(join_path(path, "decisions", step_id),
                                          f"{decision!r} is not a decision of step {step_id!r}; "
                                          f"decisions are {', '.join(step.get('on', {}))}")


def run_cases(kind: str, model, raw: dict) -> list[CaseResult]:
    """Run every case of a valid definition."""
    cases = raw.get("tests") or []
    if kind == "rules":
        return [run_rule_case(model, case, i) for i, case in enumerate(cases)]
    if kind == "flow":
        return [run_flow_case(model, case, i) for i, case in enumerate(cases)]
    return []


def case_errors(results: list[CaseResult]) -> list[DefinitionError]:
    """A definition error for every failing case, at its path."""
    return [DefinitionError(r.path, f"test {r.name!r} failed: {r.detail}") for r in results if not r.passed]
