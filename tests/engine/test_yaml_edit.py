"""Structured edits written into a definition's YAML in place (engine/yaml_edit.py).

What the structured editors rely on: untouched lines come back character for
character, every comment stays (the one introducing a list item moves with it;
the one after a list stays at its end), and a bad edit is refused naming the
edit and the part of the path that is missing.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from engine.definitions import validate_text
from engine.yaml_edit import EditError, _load, apply_edits, parse_edits

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
SHIPPED = sorted(DEFINITIONS.glob("*/*.yaml"))
AUDIT = (DEFINITIONS / "rules" / "order_audit.yaml").read_text(encoding="utf-8")
FORM = (DEFINITIONS / "forms" / "order.yaml").read_text(encoding="utf-8")


def edit(text: str, *edits: dict) -> str:
    return apply_edits(text, parse_edits(list(edits)))


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if line.lstrip().startswith("#")]


def changed(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def lists(node, path=()):
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            yield from lists(value, (*path, key))
    elif isinstance(node, CommentedSeq):
        if len(node) >= 2:
            yield path, len(node)
        for index, value in enumerate(node):
            yield from lists(value, (*path, index))


NEW_RULE = {
    "id": "big_new_address",
    "when": "order.total > 5000 and facts.first_time_address",
    "action": "review",
    "reason": "amount {{ order.total }} to a first-time address",
}


def test_a_new_rule_goes_at_the_end_of_the_rules_set_apart_like_the_others_and_the_tests_comment_stays_put():
    after = edit(AUDIT, {"op": "insert", "path": ["rules"], "value": NEW_RULE})
    added = (
        "\n\n  - id: big_new_address\n"
        '    when: "order.total > 5000 and facts.first_time_address"\n'
        "    action: review\n"
        '    reason: "amount {{ order.total }} to a first-time address"\n'
        "\n# Test cases: run on every validation"
    )
    assert added in after
    # Five lines added (the rule and the blank line setting it apart), none removed or changed.
    assert sorted(changed(AUDIT, after)) == sorted(["+" + line for line in added.splitlines()[2:6]] + ["+"])
    assert after.index("id: big_new_address") < after.index("# Test cases: run on every validation")
    assert comments(after) == comments(AUDIT)
    assert validate_text(after).errors == ()


def test_setting_a_value_changes_that_line_only_and_keeps_its_quotes_and_end_of_line_comment():
    after = edit(
        AUDIT,
        {"op": "set", "path": ["rules", 0, "when"], "value": "order.total > 6000"},
        {"op": "set", "path": ["hit_policy"], "value": "first"},
    )
    assert set(changed(AUDIT, after)) == {
        '-    when: "order.total > 5000 and facts.first_time_address"',
        '+    when: "order.total > 6000"',
        "-hit_policy: collect     # every matching rule is recorded; the strictest action wins",
        "+hit_policy: first       # every matching rule is recorded; the strictest action wins",
    }


def test_removing_a_rule_takes_the_comment_that_introduces_it_and_nothing_else():
    index = next(i for i, line in enumerate(AUDIT.split("  - id: ")) if line.startswith("over_credit")) - 1
    after = edit(AUDIT, {"op": "delete", "path": ["rules", index]})
    assert "over_credit" not in after
    assert set(comments(AUDIT)) - set(comments(after)) == {"Prepaid business orders carry no credit risk."}
    assert "\n\n\n" not in after
    assert validate_text(after).errors == ()


def test_removing_the_last_rule_keeps_the_comment_after_the_list():
    last = AUDIT.count("\n  - id: ") - 1
    after = edit(AUDIT, {"op": "delete", "path": ["rules", last]})
    assert "id: high_value\n" not in after
    assert comments(after) == comments(AUDIT)
    assert "\n\n# Test cases: run on every validation" in after


def test_a_moved_rule_takes_its_comment_along_even_to_the_top():
    after = edit(AUDIT, {"op": "move", "path": ["rules"], "index": 3, "to": 0})
    assert (
        after.index("# Prepaid business orders")
        < after.index("id: over_credit")
        < after.index("id: high_value_new_address")
    )
    assert after.startswith(AUDIT[: AUDIT.index("rules:\n") + len("rules:\n")])
    assert sorted(comments(after)) == sorted(comments(AUDIT))


@pytest.mark.parametrize("source", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_list_of_every_shipped_definition_moves_there_and_back_unchanged(source):
    text = source.read_text(encoding="utf-8")
    data = _load(text)[0]
    for path, length in lists(data):
        there = edit(text, {"op": "move", "path": list(path), "index": 0, "to": length - 1})
        assert sorted(comments(there)) == sorted(comments(text)), path
        back = edit(there, {"op": "move", "path": list(path), "index": length - 1, "to": 0})
        assert back == text, path


def test_a_form_field_with_labels_in_two_languages_goes_where_it_is_asked_for():
    field = {"id": "po_number", "type": "text", "label": {"en": "PO number", "zh": "采购单号"}, "max_length": 30}
    after = edit(FORM, {"op": "insert", "path": ["fields"], "index": 6, "value": field})
    assert changed(FORM, after) == [
        "+  - id: po_number",
        "+    type: text",
        "+    label: {en: PO number, zh: 采购单号}",
        "+    max_length: 30",
    ]
    assert after.index("id: po_number") < after.index("id: client_ip")
    assert validate_text(after).errors == ()


GROUP = """kind: form
name: contact
title: Contact
fields:
  - id: customer
    type: group
    label: Customer
    fields:
      - {id: name, type: text, label: Customer name, required: true, max_length: 200}
      - {id: email, type: email, label: Email}
      - {id: phone, type: phone, label: Phone}
      # default: used when the order does not say
      - {id: type, type: select, label: Customer type, options: [consumer, b2b], default: consumer}
      - {id: id, type: text, label: Customer id}
"""


def test_a_field_in_a_list_of_one_liners_is_a_one_liner_and_the_comment_above_a_moved_one_follows_it():
    after = edit(
        GROUP,
        {"op": "insert", "path": ["fields", 0, "fields"], "value": {"id": "vat", "type": "text", "label": "VAT"}},
        {"op": "move", "path": ["fields", 0, "fields"], "index": 3, "to": 0},
    )
    lines = after.splitlines()
    start = lines.index("    fields:")
    assert lines[start + 1 : start + 3] == [
        "      # default: used when the order does not say",
        "      - {id: type, type: select, label: Customer type, options: [consumer, b2b], default: consumer}",
    ]
    assert "      - {id: vat, type: text, label: VAT}" in lines
    assert sorted(comments(after)) == sorted(comments(GROUP))
    assert validate_text(after).errors == ()


def test_removing_the_last_field_keeps_the_comment_that_introduces_the_tests():
    last = len(_load(FORM)[0]["fields"]) - 1
    after = edit(FORM, {"op": "delete", "path": ["fields", last]})
    assert "delivery_method" not in after.split("tests:")[0]
    assert comments(after) == comments(FORM)


def test_rename_keeps_the_place_the_value_and_the_comment():
    after = edit(AUDIT, {"op": "rename", "path": ["default"], "to": "fallback"})
    assert changed(AUDIT, after) == ["-default: approve", "+fallback: approve"]


def test_set_adds_a_missing_key_and_insert_creates_a_missing_list():
    text = "# a comment\nkind: rules\nname: x\nrules: []\n"
    after = edit(
        text,
        {"op": "set", "path": ["title"], "value": "X rules"},
        {"op": "insert", "path": ["tests"], "value": {"name": "one", "expect": {"action": "approve"}}},
    )
    assert after == (
        "# a comment\nkind: rules\nname: x\nrules: []\ntitle: X rules\ntests:\n"
        "  - name: one\n    expect: {action: approve}\n"
    )


def test_no_edits_give_the_text_back_as_it_was():
    odd = "kind: rules\nname:   x   # spaced\nrules:\n- id: a\n  when: 'true'\n  action: approve\n  reason: ok\n"
    assert edit(odd) == odd


def test_lines_the_writer_would_change_but_no_edit_touches_stay_as_written():
    odd = "kind: rules\nname:   x   # spaced\nrules:\n- id: a\n  when: 'true'\n  action: approve\n  reason: ok\n"
    after = edit(odd, {"op": "set", "path": ["rules", 0, "reason"], "value": "fine"})
    assert after == odd.replace("reason: ok", "reason: fine")


@pytest.mark.parametrize(
    ("edits", "where", "message"),
    [
        ([{"op": "set", "path": ["rules", 40, "when"], "value": "x"}], "edits[0].path", "$.rules[40] does not exist"),
        ([{"op": "delete", "path": ["rulez", 0]}], "edits[0].path", "$.rulez does not exist"),
        ([{"op": "insert", "path": ["rules"], "index": 99, "value": {}}], "edits[0].index", "99 is outside the list"),
        ([{"op": "insert", "path": ["name"], "value": 1}], "edits[0].path", "$.name is not a list"),
        ([{"op": "move", "path": ["rules"], "index": 0, "to": 50}], "edits[0].to", "50 is outside the list"),
        ([{"op": "rename", "path": ["kind"], "to": "name"}], "edits[0].to", "$ already has a key 'name'"),
        ([{"op": "drop", "path": ["kind"]}], "edits[0].op", "'drop' is not an edit"),
        ([{"op": "set", "path": "rules.0"}], "edits[0].path", "must be a list of keys"),
        ([{"op": "set", "path": ["title"]}], "edits[0].value", "set needs a value"),
        ([{"op": "set", "path": []}], "edits[0].path", "the document itself cannot be replaced"),
        ("set", "edits", "must be a list of edits"),
    ],
)
def test_a_bad_edit_is_refused_naming_the_edit_and_what_is_missing(edits, where, message):
    with pytest.raises(EditError) as refused:
        apply_edits(AUDIT, parse_edits(edits))
    assert refused.value.where == where
    assert message in refused.value.message


def test_a_text_that_does_not_parse_cannot_be_edited():
    with pytest.raises(EditError) as refused:
        edit("kind: rules\nrules: [\n", {"op": "set", "path": ["name"], "value": "x"})
    assert refused.value.where == "text"
    assert "does not parse" in refused.value.message
