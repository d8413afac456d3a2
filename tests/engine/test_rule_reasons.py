"""Rule reasons per language: ``reason: {en: ..., zh: ...}`` in rule sets and decision tables (engine/reasons.py).

English is the reason the audit stores; the translations are rendered beside it. A bad bilingual reason is
refused naming its path, in `oms validate`, the designer and publishing alike (engine.definitions).
"""

from __future__ import annotations

import pytest

from engine.definitions import validate_text
from engine.rule_builder import rule_edits, rules_view
from engine.rules import evaluate_rules, parse_rules
from engine.yaml_edit import apply_edits, parse_edits
from tests.engine.shipped import DEFINITIONS, load, read

BILINGUAL = """\
kind: rules
name: bilingual
rules:
  - id: big
    when: "order.total > 1000"
    action: review
    reason: {en: "order of {{ order.total }}", zh: "订单金额 {{ order.total }}"}
  - id: plain
    when: "order.total > 1000"
    action: tag
    tag: big
    reason: "big order"
  - id: by_channel
    table:
      inputs: [order.channel]
      rows:
        - when: ["'web'"]
          action: review
          reason: {en: "web order of {{ order.total }}", zh: "网店订单 {{ order.total }}"}
"""


def test_a_reason_per_language_fires_in_english_with_its_translations_beside_it():
    rules = parse_rules(load(BILINGUAL))
    decision = evaluate_rules(rules, {"order": {"total": 1200, "channel": "web"}, "facts": {}})
    assert [(f.rule, f.reason, dict(f.reasons)) for f in decision.fired] == [
        ("big", "order of 1200", {"zh": "订单金额 1200"}),
        ("plain", "big order", {}),
        ("by_channel[0]", "web order of 1200", {"zh": "网店订单 1200"}),
    ]


def test_a_translation_that_cannot_be_rendered_is_left_out_and_the_english_reason_stays():
    text = BILINGUAL.replace('zh: "订单金额 {{ order.total }}"', 'zh: "订单金额 {{ upper(order.total) }}"')
    rules = parse_rules(load(text))
    fired = evaluate_rules(rules, {"order": {"total": 1200, "channel": "pos"}, "facts": {}}).fired[0]
    assert (fired.reason, fired.reasons) == ("order of 1200", ())


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'reason: {en: "order of {{ order.total }}", zh: "订单金额 {{ order.total }}"}',
            'reason: {zh: "订单金额 {{ order.total }}"}',
            [("$.rules[0].reason", "'en' is required"), ("$.rules[0].reason", "must be of type string, not dict")],
        ),
        (
            'zh: "订单金额 {{ order.total }}"}',
            'zh: "订单金额 {{ order.total }"}',
            [("$.rules[0].reason.zh", "unbalanced '{{' and '}}'")],
        ),
        (
            'zh: "网店订单 {{ order.total }}"}',
            'zh: "网店订单 {{ order.total + }}"}',
            [
                (
                    "$.rules[2].table.rows[0].reason.zh",
                    "placeholder {{ order.total + }} does not compile "
                    "(parserError: Unexpected end of unary expression at (13, 13))",
                )
            ],
        ),
        (
            'zh: "网店订单 {{ order.total }}"}',
            'zh: ""}',
            [
                ("$.rules[2].table.rows[0].reason", "must be of type string, not dict"),
                ("$.rules[2].table.rows[0].reason.zh", "'' should be non-empty"),
            ],
        ),
        (
            'reason: {en: "order of {{ order.total }}", zh: "订单金额 {{ order.total }}"}',
            'reason: {en: "order of {{ order.total }}", "中文": "订单金额"}',
            [
                ("$.rules[0].reason", "'中文' does not match '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'"),
                ("$.rules[0].reason", "must be of type string, not dict"),
            ],
        ),
    ],
    ids=["no English", "a translation with a broken placeholder", "a table row's translation", "empty", "no language"],
)
def test_a_bad_bilingual_reason_is_refused_naming_its_path(old, new, expected):
    assert old in BILINGUAL
    errors = validate_text(BILINGUAL.replace(old, new, 1)).errors
    assert [(e.path, e.message) for e in errors] == expected


@pytest.mark.parametrize("name", ["order_audit", "return_policy"])
def test_every_shipped_rule_gives_its_reason_in_english_and_chinese(name):
    raw = load(read(DEFINITIONS / "rules" / f"{name}.yaml"))
    reasons = [r["reason"] for r in raw["rules"] if "reason" in r]
    reasons += [row["reason"] for r in raw["rules"] if "table" in r for row in r["table"]["rows"]]
    assert reasons and all(isinstance(r, dict) and set(r) == {"en", "zh"} for r in reasons)


def test_the_rule_builder_edits_the_english_reason_and_keeps_the_translation():
    rules = load(BILINGUAL)["rules"]
    assert rules_view(load(BILINGUAL))[0]["reason"] == "order of {{ order.total }}"
    spec = {
        "id": "big",
        "condition": {"join": "and", "terms": [{"field": "order.total", "op": ">", "value": 1000}]},
        "action": "review",
        "reason": "large order of {{ order.total }}",
    }
    edits = rule_edits(rules, 0, spec)
    assert edits == [{"op": "set", "path": ["rules", 0, "reason", "en"], "value": "large order of {{ order.total }}"}]
    edited = load(apply_edits(BILINGUAL, parse_edits(edits)))
    assert edited["rules"][0]["reason"] == {
        "en": "large order of {{ order.total }}",
        "zh": "订单金额 {{ order.total }}",
    }
