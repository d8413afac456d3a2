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
    expect:
      path: [audit, reserve, payment_check, await_payment, record_payment,
             delivery_method, ship, await_delivery, completed]
      status: completed
```

An http step takes its answer from ``responses: {step: {status, body}}`` (or
``{error: timeout}``, or a list: one per visit), else its ``example_response``;
the case's detail says what the step sent and the answer it took.

Allocation, carriers, channels, forms and templates carry cases too
(``engine.kind_cases``): stock situation -> plan, parcel -> carrier and price,
native payload -> canonical order, input -> errors by field, order -> text.

A failing case is a definition error at ``$.tests[i]`` (for the other kinds,
at the expectation that failed, ``$.tests[i].expect.carrier``): the
definition cannot be published while one fails, and every client (CLI, API,
editor) shows the case and what happened instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.case_support import ORDINARY_FACTS, ORDINARY_ORDER, CaseResult, case_name, example_order, merged
from engine.errors import DefinitionError, join_path
from engine.expressions import suggest
from engine.interpreter import TIMEOUT
from engine.kind_cases import KIND_CASES
from engine.rules import evaluate_rules
from engine.simulation import Exchange, Script, simulate

__all__ = [
    "ORDINARY_FACTS",
    "ORDINARY_ORDER",
    "CaseResult",
    "Walk",
    "case_errors",
    "check_cases",
    "example_order",
    "merged",
    "run_cases",
    "run_flow_case",
    "run_rule_case",
    "walk_flow",
]


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
        if problems
        else f"action {decision.action}, fired: {fired_text}"
    )
    outcome = {
        "action": decision.action,
        "fired": fired,
        "tags": list(decision.tags),
        "reasons": [f.reason for f in decision.fired],
    }
    return CaseResult(index, case_name(case, index), not problems, detail, outcome)


# Activities of audits and human tasks; a case's `activities` lists those of its activity steps.
TASK_CALLS = frozenset({"audit_order", "audit_return", "open_task", "escalate_task", "close_task", "record_approval"})


@dataclass(frozen=True)
class Walk:
    """Where a flow takes an example order: the steps in order, the end status, the activities called."""

    path: tuple[str, ...]
    status: str | None
    ended: bool
    problem: str = ""
    activities: tuple[str, ...] = ()
    exchanges: tuple[Exchange, ...] = ()


def walk_flow(
    flow,
    order: dict,
    audit: Any = "approve",
    decisions: dict | None = None,
    events: list | None = None,
    failures: dict | None = None,
    stop_at_waits: bool = False,
    results: dict | None = None,
    extra: dict | None = None,
    responses: dict | None = None,
) -> Walk:
    """Follow ``flow`` for ``order`` with the production interpreter and simulated effects.

    The script (``engine.simulation``): audits give ``audit`` (or ``audit[step]``);
    approvals take ``decisions[step]`` (one, or a list: one per waiting period,
    ``timeout`` for a period that runs out) or close on an event they listen
    to, else time out; waits take the first event they react to from
    ``events`` or time out; activities succeed unless ``failures[step]`` names
    their failure; http steps take ``responses[step]`` or their example response.
    With ``stop_at_waits`` the walk stops at the first approval or wait with
    nothing scripted, which is where a recorded order would now be waiting.
    """
    script = Script(
        audit=audit,
        decisions=dict(decisions or {}),
        events=list(events or []),
        failures=dict(failures or {}),
        results=dict(results or {}),
        stop_at_waits=stop_at_waits,
        responses=dict(responses or {}),
    )
    done = simulate(flow, order, script, extra)
    return Walk(done.path, done.status, done.ended, done.problem, done.activities, done.exchanges)


def run_flow_case(flow, case: dict, index: int) -> CaseResult:
    order = example_order(case.get("order"))
    walk = walk_flow(
        flow,
        order,
        case.get("audit", "approve"),
        case.get("decisions"),
        case.get("events"),
        case.get("failures"),
        results=case.get("results"),
        extra={"return": case.get("return") or {}} if flow.serves == "return" else None,
        responses=case.get("responses"),
    )
    expect = case.get("expect") or {}
    problems = [walk.problem] if walk.problem else []
    if "path" in expect and list(walk.path) != list(expect["path"]):
        expected, got = list(expect["path"]), list(walk.path)
        # The paths may differ in length: they part at the first difference or where the shorter ends.
        at = next(
            (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), min(len(expected), len(got))
        )
        problems.append(f"expected path {' > '.join(expected)}, got {' > '.join(got)} (they part at step {at + 1})")
    if "end" in expect and (not walk.path or walk.path[-1] != expect["end"]):
        problems.append(f"expected to end at {expect['end']}, ended at {walk.path[-1] if walk.path else 'nothing'}")
    if "status" in expect and walk.status != expect["status"]:
        problems.append(f"expected status {expect['status']}, got {walk.status}")
    called = [name for name in walk.activities if name not in TASK_CALLS]
    if "activities" in expect and called != list(expect["activities"]):
        problems.append(f"expected activities {', '.join(expect['activities'])}, got {', '.join(called) or 'none'}")
    path_text = " > ".join(walk.path)
    # What each http step sent and the answer it took: the designer shows it with the case.
    path_text += "".join(f"; {exchange}" for exchange in walk.exchanges)
    detail = f"{'; '.join(problems)} (path: {path_text})" if problems else f"path: {path_text}"
    outcome = {
        "path": list(walk.path),
        "status": walk.status,
        "activities": called,
        "http": [
            {
                "step": e.step,
                "method": e.method,
                "url": e.target,
                "answer": e.answer,
                "source": e.source,
                "body": e.body,
            }
            for e in walk.exchanges
        ],
    }
    return CaseResult(index, case_name(case, index), not problems, detail, outcome)


def check_cases(kind: str, raw: dict) -> Iterator[DefinitionError]:
    """Cases that name rules, steps, carriers, warehouses... the definition (or the case) does not have."""
    if kind in KIND_CASES:
        yield from KIND_CASES[kind].check(raw)
        return
    for index, case in enumerate(raw.get("tests") or []):
        path = join_path("$.tests", index)
        expect = case.get("expect") or {}
        if kind == "rules":
            ids = [r["id"] for r in raw.get("rules", [])]
            for key in ("fired", "not_fired"):
                for position, rule in enumerate(expect.get(key, [])):
                    if rule not in ids:
                        yield DefinitionError(
                            join_path(path, "expect", key, position), f"unknown rule {rule!r}{suggest(rule, ids)}"
                        )
        elif kind == "flow":
            steps = {s["id"]: s for s in raw.get("steps", [])}
            named: list[tuple[tuple[str | int, ...], Any]] = [
                (("expect", "path", p), s) for p, s in enumerate(expect.get("path", []))
            ]
            named += [(("expect", "end"), expect["end"])] if "end" in expect else []
            named += [(("decisions", s), s) for s in case.get("decisions") or {}]
            named += [(("failures", s), s) for s in case.get("failures") or {}]
            named += [(("responses", s), s) for s in case.get("responses") or {}]
            for rel, step_id in named:
                if step_id not in steps:
                    yield DefinitionError(join_path(path, *rel), f"unknown step {step_id!r}{suggest(step_id, steps)}")
            for step_id in case.get("responses") or {}:
                if step_id in steps and steps[step_id].get("type") != "http":
                    yield DefinitionError(
                        join_path(path, "responses", step_id), f"step {step_id!r} is not an http step"
                    )
            for step_id, scripted in (case.get("decisions") or {}).items():
                step = steps.get(step_id)
                if step is not None and step.get("type") != "approval":
                    yield DefinitionError(join_path(path, "decisions", step_id), f"step {step_id!r} is not an approval")
                    continue
                # One decision, or one per waiting period: `timeout` lets a period run out.
                listed: list[tuple[tuple[str | int, ...], Any]] = (
                    [((step_id, n), d) for n, d in enumerate(scripted)]
                    if isinstance(scripted, list)
                    else [((step_id,), scripted)]
                )
                for where, decision in listed:
                    if step is None or decision in step.get("on", {}) or (len(where) > 1 and decision == TIMEOUT):
                        continue
                    yield DefinitionError(
                        join_path(path, "decisions", *where),
                        f"{decision!r} is not a decision of step {step_id!r}; "
                        f"decisions are {', '.join(step.get('on', {}))}",
                    )


def run_cases(kind: str, model, raw: dict) -> list[CaseResult]:
    """Run every case of a valid definition."""
    cases = raw.get("tests") or []
    if kind == "rules":
        return [run_rule_case(model, case, i) for i, case in enumerate(cases)]
    if kind == "flow":
        return [run_flow_case(model, case, i) for i, case in enumerate(cases)]
    if kind in KIND_CASES:
        return [KIND_CASES[kind].run(model, case, i) for i, case in enumerate(cases)]
    return []


def case_errors(results: list[CaseResult]) -> list[DefinitionError]:
    """A definition error for every failing case: at each failed expectation's path, else at the case's."""
    errors: list[DefinitionError] = []
    for r in results:
        if r.passed:
            continue
        if r.problems:
            errors.extend(DefinitionError(p.path, f"test {r.name!r} failed: {p.message}") for p in r.problems)
        else:
            errors.append(DefinitionError(r.path, f"test {r.name!r} failed: {r.detail}"))
    return errors
