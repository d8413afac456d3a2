"""The designer's pure parts: stored test cases, error lines, diffs, the flow layout, what-if."""

from __future__ import annotations

import pytest

from engine.definitions import compile_text, load, validate_text
from engine.diagram import NODE_H, NODE_W, Edge, Layout, layout_flow
from engine.diff import change_counts, diff_lines, unified
from engine.errors import DefinitionError
from engine.sourcemap import compose, error_lines, line_of, path_parts, stored_cases
from engine.testcases import example_order, walk_flow
from engine.whatif import RecordedOrder, rules_whatif
from tests.engine.shipped import DEFINITIONS, FLOW_FILE, RULES_FILE

RULES = RULES_FILE.read_text(encoding="utf-8")
FLOW = FLOW_FILE.read_text(encoding="utf-8")

SMALL = """kind: rules
name: small
rules:
  - id: big
    when: "order.total > 1000"
    action: review
    reason: "order of {{ order.total }}"
  - id: risky
    table:
      inputs: [order.shipping_address.country]
      rows:
        - when: ["'XX'"]
          action: reject
          reason: "country XX"
"""


def _with_tests(text: str, cases: str) -> str:
    """``text`` with ``cases`` first in its test cases (a `tests:` list is added when it has none)."""
    if "\ntests:\n" in text:
        return text.replace("\ntests:\n", "\ntests:\n" + cases, 1)
    return text + "tests:\n" + cases


# --- test cases of rule sets ------------------------------------------------------------------------


def test_rule_cases_that_hold_pass_and_are_reported():
    text = _with_tests(
        SMALL,
        (
            "  - name: big order\n    order: {lines: [{sku: A, qty: 2, price: 600}]}\n"
            "    expect: {action: review, fired: [big], not_fired: [risky]}\n"
            "  - name: table row by table id\n    order: {shipping_address: {country: XX}}\n"
            "    expect: {action: reject, fired: [risky]}\n"
        ),
    )
    source = validate_text(text)
    assert source.errors == ()
    assert [(t.name, t.passed, t.detail) for t in source.tests] == [
        ("big order", True, "action review, fired: big"),
        ("table row by table id", True, "action reject, fired: risky[0]"),
    ]


def test_a_failing_rule_case_is_an_error_at_its_path_saying_what_happened():
    text = _with_tests(
        SMALL, "  - name: small order held\n    order: {total: 10}\n    expect: {action: review, fired: [big]}\n"
    )
    source = validate_text(text)
    assert source.errors == (
        DefinitionError(
            "$.tests[0]",
            "test 'small order held' failed: expected action review, got approve; expected big to fire "
            "(action approve, fired: none)",
        ),
    )
    assert error_lines(text, source.errors) == [16]  # the case's "- name:" line


def test_rule_cases_naming_unknown_rules_are_refused_with_a_suggestion():
    text = _with_tests(SMALL, "  - name: typo\n    expect: {fired: [bigg]}\n")
    assert validate_text(text).errors == (
        DefinitionError("$.tests[0].expect.fired[0]", "unknown rule 'bigg' (did you mean 'big'?)"),
    )


def test_a_case_needs_a_name_and_an_expectation():
    source = validate_text(_with_tests(SMALL, "  - order: {total: 5}\n"))
    assert {e.path for e in source.errors} == {"$.tests[0]"}
    assert {e.message for e in source.errors} == {"'name' is required", "'expect' is required"}


def test_the_example_order_merges_over_an_ordinary_one_and_computes_its_total():
    order = example_order({"lines": [{"sku": "A", "qty": 3, "price": 2.5}], "customer": {"email": "x@example.com"}})
    assert order["total"] == 7.5
    assert order["customer"] == {"name": "Ann Example", "email": "x@example.com", "type": "consumer"}
    assert example_order({"total": 99})["total"] == 99


def test_shipped_rules_with_cases_for_every_rule_pass():
    cases = (
        "  - name: first-time address over 5000\n    order: {total: 6000}\n    facts: {first_time_address: true}\n"
        "    expect: {action: review, fired: [high_value_new_address, high_value]}\n"
        "  - name: ordinary\n    expect: {action: approve, not_fired: [high_value_new_address]}\n"
    )
    source = validate_text(_with_tests(RULES, cases))
    assert source.errors == () and len(source.tests) >= 2 and all(t.passed for t in source.tests)


# --- test cases of flows ----------------------------------------------------------------------------


def test_walk_follows_audit_decisions_events_and_failures():
    flow = compile_text(FLOW)
    held = walk_flow(flow, example_order({}), "review", {"manual_review": "reject"})
    assert held.path == ("audit", "manual_review", "rejected") and held.status == "rejected" and held.ended
    out = walk_flow(flow, example_order({}), "approve", failures={"reserve": "out_of_stock"})
    assert out.path[:2] == ("audit", "reserve") and out.ended
    waiting = walk_flow(flow, example_order({"payment": {"status": "pending"}}), stop_at_waits=True)
    assert waiting.path[-1] == "await_payment" and not waiting.ended
    timed_out = walk_flow(flow, example_order({"payment": {"status": "pending"}}))
    assert "release_unpaid" in timed_out.path and timed_out.status == "cancelled"


FLOW_CASES = """  - name: rejected by a person
    audit: review
    decisions: {manual_review: reject}
    expect: {path: [audit, manual_review, rejected], status: rejected}
"""


def test_flow_cases_pass_and_fail_with_the_parting_step():
    assert validate_text(_with_tests(FLOW, FLOW_CASES)).tests[0].passed
    wrong = FLOW_CASES.replace("[audit, manual_review, rejected]", "[audit, reserve, rejected]")
    (error,) = validate_text(_with_tests(FLOW, wrong)).errors
    assert error.path == "$.tests[0]"
    assert error.message == (
        "test 'rejected by a person' failed: expected path audit > reserve > rejected, "
        "got audit > manual_review > rejected (they part at step 2) (path: audit > manual_review > rejected)"
    )


def test_flow_cases_naming_unknown_steps_or_decisions_are_refused():
    text = _with_tests(
        FLOW, "  - name: x\n    decisions: {manual_reviw: approve, reserve: yes_please}\n    expect: {end: complete}\n"
    )
    assert [(e.path, e.message) for e in validate_text(text).errors] == [
        ("$.tests[0].expect.end", "unknown step 'complete' (did you mean 'completed'?)"),
        ("$.tests[0].decisions.manual_reviw", "unknown step 'manual_reviw' (did you mean 'manual_review'?)"),
        ("$.tests[0].decisions.reserve", "step 'reserve' is not an approval"),
    ]


# --- error lines ------------------------------------------------------------------------------------


def test_paths_map_to_their_lines_and_missing_keys_to_their_parent():
    text = 'kind: rules\nname: x\nrules:\n  - id: a\n    when: "true"\n    action: review\n'
    document = compose(text)
    assert path_parts("$.rules[0].when") == ["rules", 0, "when"]
    assert line_of(document, "$.rules[0].when") == 5
    assert line_of(document, "$.rules[0].reason") == 4  # missing: the rule's own line
    assert line_of(document, "$") == 1
    errors = load(text).errors
    assert [(e.path, e.message) for e in errors] == [("$.rules[0]", "'reason' is required")]
    assert error_lines(text, errors) == [4]


def test_a_syntax_error_points_at_its_own_line():
    text = "kind: rules\nname: x\nrules:\n  - id: [\n"
    assert [e.message for e in load(text).errors] == ["the [ opened on line 4 is never closed"]
    assert error_lines(text, load(text).errors) == [4]


# A mistake, and what the designer says about it, at the line where it is (not where the parser gave up).
SYNTAX_ERRORS = {
    "unclosed double quote": (
        'kind: rules\nname: x\nrules:\n  - id: a\n    when: "order.total > 1\n    action: review\n',
        "the quote opened on line 5 is never closed",
        5,
    ),
    "unclosed single quote": (
        "kind: rules\nname: x\ntitle: 'abc\nrules: []\n",
        "the quote opened on line 3 is never closed",
        3,
    ),
    "unclosed list": (
        "kind: rules\nname: x\nlist: [a, b\nrules: []\n",
        "the [ opened on line 3 is never closed (a ] is missing, or a comma between two items)",
        3,
    ),
    "unclosed mapping": (
        "kind: rules\nname: x\nm: {a: 1\nrules: []\n",
        "the { opened on line 3 is never closed (a } is missing, or a comma between two items)",
        3,
    ),
    "colon in a value": (
        "kind: rules\nname: x\nreason: order: big\n",
        "line 3 has a second ': ' in one value: put the value in quotes",
        3,
    ),
    "tab": ("kind: rules\nname: x\n\trules: []\n", "line 3 has a tab character: indent with spaces only", 3),
    "indented too far": (
        "kind: rules\nname: x\n  rules: []\n",
        "line 3 is indented more than the line it belongs to",
        3,
    ),
    "indented too little": (
        "kind: rules\nrules:\n  - id: a\n    when: x\n   action: y\n",
        "line 5 is not indented like the lines around it: line up the keys of one mapping (or list)",
        5,
    ),
    "duplicate key": (
        "kind: rules\nname: x\nname: y\n",
        "line 3 repeats the key 'name' (it is already on line 2): a key may appear once in a mapping",
        3,
    ),
    "missing colon": ("kind: rules\nname x\nrules: []\n", "line 2 has no ':' after its key: write key: value", 2),
    "text after a quote": (
        'kind: rules\ntitle: "abc" def\n',
        "line 2 has text after the closing quote: put all of the value inside the quotes",
        2,
    ),
    "reserved character": (
        "kind: rules\ntitle: @abc\n",
        "on line 2, a value cannot start with '@': put the value in quotes",
        2,
    ),
}


@pytest.mark.parametrize("case", SYNTAX_ERRORS, ids=str)
def test_yaml_syntax_errors_are_said_in_plain_words_at_their_line(case):
    text, message, line = SYNTAX_ERRORS[case]
    errors = load(text).errors
    assert [(e.path, e.message) for e in errors] == [("$", message)]
    assert error_lines(text, errors) == [line]


def test_stored_test_cases_are_listed_even_when_the_text_does_not_parse():
    text = _with_tests(
        SMALL,
        "  - name: big order\n    order: {total: 2000}\n    expect: {action: review}\n"
        "  - order: {total: 1}\n    name: 'small order'\n    expect: {action: approve}\n",
    )
    parsed = stored_cases(text)
    assert parsed == [("big order", 16), ("small order", 19)]
    broken = text.replace('when: "order.total > 1000"', 'when: "order.total > 1000')
    assert load(broken).errors and stored_cases(broken) == parsed


# --- diffs ------------------------------------------------------------------------------------------


def test_diff_lines_number_both_sides_and_fold_long_unchanged_stretches():
    old = "\n".join(f"line {n}" for n in range(1, 21)) + "\n"
    new = old.replace("line 3\n", "line three\n").replace("line 18\n", "")
    lines = diff_lines(old, new, context=1)
    assert [(line.kind, line.old_no, line.new_no, line.text) for line in lines if line.kind != "same"] == [
        ("removed", 3, None, "line 3"),
        ("added", None, 3, "line three"),
        ("skip", None, None, "…"),
        ("removed", 18, None, "line 18"),
    ]
    assert change_counts(lines) == (1, 2)
    assert unified("a\n", "b\n", "v1", "v2") == "--- v1\n+++ v2\n@@ -1 +1 @@\n-a\n+b\n"


# --- diagram ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted((DEFINITIONS / "flows").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_step_of_a_shipped_flow_is_placed_without_overlaps(path):
    raw = load(path.read_text(encoding="utf-8")).raw
    layout = layout_flow(raw)
    assert {n.id for n in layout.nodes} == {s["id"] for s in raw["steps"]}
    boxes = [(n.x, n.y) for n in layout.nodes]
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x1 - x2) >= NODE_W or abs(y1 - y2) >= NODE_H
        assert x1 >= 0 and x1 + NODE_W <= layout.width and y1 + NODE_H <= layout.height
    targets = sum(1 for s in raw["steps"] for key in ("next", "default", "on_timeout") if key in s)
    targets += sum(len(s.get("on", {})) + len(s.get("on_error", {})) + len(s.get("cases", [])) for s in raw["steps"])
    assert len(layout.edges) >= targets
    assert layout.start == raw["start"]


def _on_curve(curve, t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = curve
    u = 1 - t
    return (
        u**3 * x0 + 3 * u * u * t * x1 + 3 * u * t * t * x2 + t**3 * x3,
        u**3 * y0 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y3,
    )


def _crossings(layout: Layout) -> list[str]:
    """Every arrow that runs through a step's box (other than its own two) or through any label."""
    boxes = [(f"step {n.id}", (n.x, n.y, NODE_W, NODE_H), n.id) for n in layout.nodes]
    boxes += [(f"label {e.label!r} of {e.source}->{e.target}", e.label_box, None) for e in layout.edges if e.label_box]
    found = []
    for edge in layout.edges:
        for name, (x, y, w, h), step in boxes:
            if step in (edge.source, edge.target):
                continue
            if any(
                x + 0.5 < px < x + w - 0.5 and y + 0.5 < py < y + h - 0.5
                for curve in edge.curves
                for px, py in (_on_curve(curve, k / 40) for k in range(41))
            ):
                found.append(f"{edge.source}->{edge.target} crosses {name}")
    return found


def _overlaps(layout: Layout) -> list[str]:
    boxes = [(n.id, (n.x, n.y, NODE_W, NODE_H)) for n in layout.nodes]
    boxes += [(f"label {e.label!r}", e.label_box) for e in layout.edges if e.label_box]
    found = []
    for i, (a, (ax, ay, aw, ah)) in enumerate(boxes):
        for b, (bx, by, bw, bh) in boxes[i + 1 :]:
            if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                found.append(f"{a} overlaps {b}")
    return found


@pytest.mark.parametrize("path", sorted((DEFINITIONS / "flows").glob("*.yaml")), ids=lambda p: p.stem)
def test_no_arrow_of_a_shipped_flow_crosses_a_step_or_a_label(path):
    layout = layout_flow(load(path.read_text(encoding="utf-8")).raw)
    assert _crossings(layout) == []
    assert _overlaps(layout) == []
    for edge in layout.edges:  # each arrow starts at its source's box and ends at its target's
        nodes = {n.id: n for n in layout.nodes}
        for end, step in ((edge.curves[0][0], edge.source), (edge.curves[-1][-1], edge.target)):
            box = nodes[step]
            assert box.x <= end[0] <= box.x + NODE_W and box.y <= end[1] <= box.y + NODE_H
        assert edge.path.startswith("M ") and edge.path.count("C ") == len(edge.curves)
    assert all(isinstance(e, Edge) for e in layout.edges)


def test_loops_go_back_up_and_a_step_that_loops_to_itself_keeps_its_label_clear():
    flow = {
        "start": "a",
        "steps": [
            {"id": "a", "type": "wait", "timeout": "1d", "on": {"again": "a", "go": "b"}, "on_timeout": "c"},
            {"id": "b", "type": "approval", "role": "x", "due": "1h", "on": {"retry": "a", "ok": "c"}},
            {"id": "c", "type": "end"},
        ],
    }
    layout = layout_flow(flow)
    edges = {(e.source, e.target, e.label): e for e in layout.edges}
    assert edges[("b", "a", "retry")].back and not edges[("a", "b", "go")].back
    nodes = {n.id: n for n in layout.nodes}
    assert nodes["a"].y < nodes["b"].y < nodes["c"].y  # the longest way down: c under b
    loop = edges[("a", "a", "again")]
    assert loop.label_box[0] > nodes["a"].x + NODE_W
    assert _crossings(layout) == [] and _overlaps(layout) == []


def test_diagram_shows_waits_with_timeouts_and_draws_a_draft_with_a_missing_step():
    layout = layout_flow(load(FLOW).raw)
    nodes = {n.id: n for n in layout.nodes}
    assert nodes["await_payment"].detail == "wait · timeout 3d"
    assert nodes["manual_review"].title == "Review held order"
    assert nodes["manual_review"].detail == "operator · due 4h → admin 20h"
    timeouts = {(e.source, e.label) for e in layout.edges if e.kind == "timeout"}
    assert ("await_payment", "timeout 3d") in timeouts
    draft = {
        "start": "a",
        "steps": [{"id": "a", "type": "activity", "activity": "x", "next": "nowhere"}, {"id": "lonely", "type": "end"}],
    }
    drawn = {n.id: n for n in layout_flow(draft).nodes}
    assert drawn["nowhere"].missing and drawn["lonely"].unreachable


# --- what-if ----------------------------------------------------------------------------------------


def test_whatif_counts_orders_now_held_and_no_longer_held_against_the_baseline():
    live = compile_text(SMALL)
    draft = compile_text(SMALL.replace("order.total > 1000", "order.total > 500"))
    facts = {}
    orders = [
        RecordedOrder(
            f"o{n}", {"total": total, "channel": "web", "shipping_address": {"country": "DE"}}, facts, "approve"
        )
        for n, total in enumerate((100, 700, 800, 2000))
    ]
    report = rules_whatif(draft, live, orders, "live version v1")
    assert [c.order_id for c in report.now_held] == ["o1", "o2"]
    assert report.no_longer_held == [] and report.unchanged == 2 and report.considered == 4
    assert report.now_held[0].fired[0].reason == "order of 700"
    assert report.fired_counts == {"big": 3}
    assert report.summary() == (
        "2 of 4 orders would now be held, 0 would no longer be (compared with the live version v1)"
    )
    back = rules_whatif(live, draft, orders)
    assert [c.order_id for c in back.no_longer_held] == ["o1", "o2"]


def _recorded_by(live_text: str, version: int, contexts: list[dict]) -> list[RecordedOrder]:
    from dataclasses import asdict

    from engine.rules import evaluate_rules

    live = compile_text(live_text)
    out = []
    for n, ctx in enumerate(contexts):
        decision = evaluate_rules(live, ctx)
        out.append(
            RecordedOrder(
                f"o{n}",
                ctx["order"],
                ctx["facts"],
                decision.action,
                "",
                tuple(asdict(f) for f in decision.fired),
                version,
            )
        )
    return out


def test_reusing_recorded_outcomes_gives_what_evaluating_everything_gives():
    from engine.testcases import ORDINARY_FACTS, merged
    from engine.whatif import plan_reuse

    contexts = []
    for n in range(60):
        order = example_order(
            {
                "total": 400 * n,
                "channel": ("web", "marketplace")[n % 2],
                "shipping_address": {"country": ("DE", "US", "FR")[n % 3]},
            }
        )
        facts = merged(
            ORDINARY_FACTS,
            {"first_time_address": n % 4 == 0, "velocity": {"ip": n % 7}, "stock": {"all_available": n % 5 != 0}},
        )
        contexts.append({"order": order, "facts": facts})
    us_orders = (
        "  - id: us_orders\n    when: \"order.shipping_address.country == 'US'\"\n"
        '    action: review\n    reason: "no US"\n'
    )
    draft_text = RULES.replace("order.total > 5000 and", "order.total > 3000 and").replace(  # changed
        "rules:\n", "rules:\n" + us_orders, 1
    )  # added
    orders = _recorded_by(RULES, 4, contexts)
    draft, live = compile_text(draft_text), compile_text(RULES)
    reuse = plan_reuse(load(draft_text).raw, load(RULES).raw, 4)
    assert reuse.changed_ids == {"us_orders", "high_value_new_address"}
    fast = rules_whatif(draft, live, orders, "v4", reuse)
    full = rules_whatif(draft, live, orders, "v4")
    assert fast == full
    assert len(full.now_held) > 5 and full.fired_counts["us_orders"] == 20
    # Orders audited by another version are evaluated in full.
    other = [RecordedOrder(o.order_id, o.document, o.facts, "approve", "", (), 3) for o in orders]
    assert rules_whatif(draft, live, other, "v4", reuse) == rules_whatif(draft, live, other, "v4")
