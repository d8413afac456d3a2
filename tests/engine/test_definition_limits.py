"""A few hundred bytes of definition cannot make validation run away."""

from __future__ import annotations

import time

import pytest

from engine.definitions import (
    ALIAS_MESSAGE,
    MAX_CASE_RANGE_VALUES,
    MAX_NODES,
    MAX_TEST_CASES,
    MAX_TEXT_CHARS,
    parse_published,
    validate_text,
)
from engine.expressions import MAX_RANGE_VALUES, compile_error

# The "billion laughs": each level refers nine times to the one before; 9**9 strings once expanded.
LAUGHS = "kind: rules\nname: lol\na: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{chr(c + 1)}: &{chr(c + 1)} [{','.join([f'*{chr(c)}'] * 9)}]\n" for c in range(ord("a"), ord("i"))
)

RULES_WITH_EXPENSIVE_CASE = """kind: rules
name: slow
default: approve
rules:
  - id: walk
    when: "len(map([0..10000000000], #)) > 0"
    action: review
    reason: slow
tests:
  - name: runs the expression
    expect: {action: review}
"""


def _errors(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


def test_billion_laughs_is_refused_at_once():
    assert len(LAUGHS) < 500
    started = time.monotonic()
    assert _errors(LAUGHS) == [("$", f"line 3: {ALIAS_MESSAGE}")]
    assert time.monotonic() - started < 1


def test_any_anchor_alias_or_merge_is_refused_with_its_line():
    text = "kind: rules\nname: r\nrules:\n  - <<: &base {action: review}\n    id: x\n  - <<: *base\n"
    assert _errors(text) == [("$", f"line 4: {ALIAS_MESSAGE}")]
    assert _errors("kind: rules\nname: r\nloop: &l [*l]\n") == [("$", f"line 3: {ALIAS_MESSAGE}")]


def test_stars_and_ampersands_in_text_are_fine():
    text = "kind: template\nname: t\nuse: label\nbody: '<p>{{ order.total*2 }} &amp; more</p>'\n"
    assert _errors(text) == []


def test_text_size_is_capped():
    text = "kind: rules\nname: r\n# " + "x" * MAX_TEXT_CHARS + "\n"
    assert _errors(text) == [("$", f"the definition is {len(text)} characters; at most {MAX_TEXT_CHARS}")]


def test_node_count_is_capped():
    text = "kind: rules\nname: r\nmany: [" + ",".join(["1"] * (MAX_NODES + 1)) + "]\n"
    assert _errors(text) == [("$", f"the definition holds more than {MAX_NODES} values")]


def test_published_texts_still_parse_with_aliases():
    """The checks are validation's: a text published before them still parses for the orders pinned to it."""
    text = "kind: template\nname: t\nuse: label\nbody: &b '<p>{{ order.id }}</p>'\ntitle: *b\n"
    assert parse_published(text).name == "t"


def test_an_expensive_stored_test_case_is_refused_without_running():
    started = time.monotonic()
    assert _errors(RULES_WITH_EXPENSIVE_CASE) == [
        (
            "$.rules[0].when",
            f"expression does not compile: its ranges hold 10000000001 values; at most {MAX_RANGE_VALUES}",
        )
    ]
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("order.total in [0..100000000]", None),  # a range only tested is an interval: no cost
        ("sum(map([1..100], #)) > 3", None),
        (
            "count(map([1..order.total], #), # > 1) > 0",
            "a range walked by a function needs numbers written out as its bounds, like [1..10]",
        ),
        ("sum(map([0..1000], sum(map([0..1000], #)))) > 1", "its ranges hold 1002001 values; at most 10000"),
        ("'0..99999999' == order.id and len(order.lines) > 0", None),
    ],
)
def test_expression_cost_is_bounded(expression, problem):
    assert compile_error(expression) == problem


def test_test_cases_together_are_bounded():
    cases = "".join(f"  - name: c{i}\n    expect: {{action: approve}}\n" for i in range(MAX_TEST_CASES + 1))
    rule = "  - {id: x, when: 'false', action: review, reason: r}\n"
    text = f"kind: rules\nname: r\ndefault: approve\nrules:\n{rule}tests:\n"
    assert _errors(text + cases) == [("$.tests", f"{MAX_TEST_CASES + 1} test cases; at most {MAX_TEST_CASES}")]
    walk = "sum(map([1..10000], #)) < 0"
    rules = "".join(f"  - {{id: r{i}, when: '{walk}', action: review, reason: r}}\n" for i in range(20))
    cases = "".join(f"  - name: c{i}\n    expect: {{action: approve}}\n" for i in range(10))
    text = f"kind: rules\nname: r\ndefault: approve\nrules:\n{rules}tests:\n{cases}"
    assert _errors(text) == [
        (
            "$.tests",
            f"the test cases would walk 2000000 range values (200000 per case); at most {MAX_CASE_RANGE_VALUES}: "
            "use fewer cases or smaller ranges",
        )
    ]
