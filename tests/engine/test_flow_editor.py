"""The flow editor's changes as structured edits, and durations in words, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.flow_editor import change_edits, flow_view, references
from engine.definitions import load
from engine.duration_words import from_words, in_words
from engine.yaml_edit import apply_edits
from services.errors import Invalid

ORDER = (Path(__file__).resolve().parents[2] / "definitions" / "flows" / "order.yaml").read_text(encoding="utf-8")


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.lstrip().startswith("#")]


def _changed(change: dict, text: str = ORDER) -> str:
    return apply_edits(text, change_edits(load(text).raw, change))


@pytest.mark.parametrize(
    ("words", "short"),
    [
        ("3 days", "3d"),
        ("4 hours", "4h"),
        ("1 day 12 hours", "1d12h"),
        ("1 day and 12 hours", "1d12h"),
        ("90 minutes", "90m"),
        ("2 weeks", "2w"),
        ("30m", "30m"),
        (" 3 Days ", "3d"),
    ],
)
def test_durations_in_words_become_the_short_form(words, short):
    assert from_words(words) == short


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("3 dayz", "'dayz' is not a unit; write a number and a unit, e.g. '3 days', '4 hours' or '1 day 12 hours'"),
        ("soon", "'soon' is not a duration; write a number and a unit, e.g. '3 days', '4 hours' or '1 day 12 hours'"),
        ("0 days", "'0d' must be longer than zero"),
    ],
)
def test_durations_that_are_not_are_refused_saying_why(words, message):
    with pytest.raises(ValueError) as caught:
        from_words(words)
    assert str(caught.value) == message


def test_short_durations_read_as_words():
    assert [in_words(d) for d in ("3d", "1d12h", "1h", "4h", "x")] == [
        "3 days",
        "1 day 12 hours",
        "1 hour",
        "4 hours",
        "x",
    ]


def test_an_approval_step_goes_after_payment_with_every_comment_kept():
    change = {
        "op": "insert_after",
        "step": "record_payment",
        "outcome": "next",
        "new": {
            "type": "approval",
            "id": "approve_payment",
            "status": "payment_check",
            "due": "3 days",
            "reject": "release_cancelled",
        },
    }
    text = _changed(change)
    assert (
        "    next: approve_payment\n\n  - id: approve_payment\n    type: approval\n    status: payment_check\n" in text
    )
    assert "    due: 3d\n    on: {approve: delivery_method, reject: release_cancelled}\n" in text
    assert (
        "    on_timeout: delivery_method\n\n"
        "  # Store customers may take the goods with them.\n  - id: delivery_method\n" in text
    )
    assert _comments(text) == _comments(ORDER)
    assert load(text).errors == ()
    node = next(s for s in flow_view(text, [])["steps"] if s["id"] == "approve_payment")
    assert node["durations"] == [{"field": "due", "value": "3d", "words": "3 days"}]
    assert node["references"] == [{"step": "record_payment", "outcome": "next", "path": "$.steps[5].next"}]


def test_a_deleted_step_shows_its_references_first_and_they_can_be_reconnected():
    raw = load(ORDER).raw
    assert [r["path"] for r in references(raw, "record_payment")] == ["$.steps[4].on.payment_received"]
    text = _changed({"op": "delete", "step": "record_payment", "reconnect_to": "delivery_method"})
    assert "payment_received: delivery_method" in text
    assert "id: record_payment" not in text
    assert load(text).errors == ()
    dangling = _changed({"op": "delete", "step": "record_payment"})
    errors = [{"path": e.path, "message": e.message} for e in load(dangling).errors]
    node = next(s for s in flow_view(dangling, errors)["steps"] if s["id"] == "await_payment")
    assert [e["path"] for e in node["errors"]] == ["$.steps[4].on.payment_received"]


def test_outcomes_connect_and_waits_are_set_in_words():
    text = _changed({"op": "connect", "step": "shipping_problem", "outcome": "on.retry", "target": "hand_over"})
    assert "      retry: hand_over\n" in text
    text = _changed({"op": "duration", "step": "await_payment", "field": "timeout", "words": "5 days"}, text)
    assert "    timeout: 5d\n" in text
    assert _comments(text) == _comments(ORDER)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"op": "connect", "step": "ship", "outcome": "next", "target": "nowhere"},
            "$.steps[9].next: no step 'nowhere' in this flow",
        ),
        (
            {"op": "connect", "step": "ship", "outcome": "on.approve", "target": "ship"},
            "$.steps[9].on.approve: step 'ship' has the outcomes next, on_error.no_carrier, on_error.nothing_to_ship",
        ),
        (
            {"op": "duration", "step": "await_payment", "field": "timeout", "words": "3 dayz"},
            "$.steps[4].timeout: 'dayz' is not a unit; write a number and a unit, e.g. '3 days', '4 hours' or "
            "'1 day 12 hours'",
        ),
        (
            {
                "op": "insert_after",
                "step": "ship",
                "outcome": "next",
                "new": {"type": "activity", "id": "x", "activity": "refund_return"},
            },
            "$.steps[9].next (new step).activity: this flow's steps may call cancel_payment, change_address, check, "
            "create_shipment, mark_paid, notify, pack, pick, release_stock, reserve_stock",
        ),
        (
            {"op": "insert_after", "step": "ship", "outcome": "next", "new": {"type": "approval", "id": "ship"}},
            "$.steps[9].next (new step).id: a step 'ship' is already in this flow",
        ),
        ({"op": "delete", "step": "nope"}, "change.step: no step 'nope' in this flow"),
    ],
)
def test_bad_changes_are_refused_naming_the_definition_path(change, message):
    with pytest.raises(Invalid) as caught:
        change_edits(load(ORDER).raw, change)
    assert caught.value.message == message


def test_a_steps_title_is_set_in_place_changed_and_removed_with_every_comment_kept():
    raw = load(ORDER).raw
    index = next(i for i, s in enumerate(raw["steps"]) if s["id"] == "record_payment")
    assert "title" not in raw["steps"][index]
    titled = _changed({"op": "title", "step": "record_payment", "title": "  Record the payment  "})
    assert load(titled).raw["steps"][index]["title"] == "Record the payment"
    assert _comments(titled) == _comments(ORDER)
    assert flow_view(titled, [])["steps"][index]["title"] == "Record the payment"
    renamed = _changed({"op": "title", "step": "record_payment", "title": "Payment arrived"}, titled)
    assert load(renamed).raw["steps"][index]["title"] == "Payment arrived"
    assert _changed({"op": "title", "step": "record_payment", "title": ""}, renamed) == ORDER


@pytest.mark.parametrize(
    ("title", "message"),
    [
        (None, "$.steps[5].title: a title is text of at most 200 characters"),
        ("x" * 201, "$.steps[5].title: a title is text of at most 200 characters"),
    ],
)
def test_a_title_that_is_not_text_is_refused_naming_the_path(title, message):
    with pytest.raises(Invalid) as caught:
        change_edits(load(ORDER).raw, {"op": "title", "step": "record_payment", "title": title})
    assert caught.value.message == message


def test_an_http_step_goes_after_payment_with_its_request_saves_and_error_outcomes():
    change = {
        "op": "insert_after",
        "step": "record_payment",
        "outcome": "next",
        "new": {
            "type": "http",
            "id": "fraud_check",
            "method": "post",
            "endpoint": "fraud",
            "path": "v1/score/{{ order.id | urlencode }}",
            "body": '{"order": {{ order.id | tojson }},\n "total": {{ order.total }}}',
            "save": [{"key": "score", "expression": "body.score"}, {"key": "risky", "expression": "body.score > 80"}],
            "on_error": ["404", " 5XX "],
            "on_error_to": "release_cancelled",
        },
    }
    text = _changed(change)
    assert (
        "    next: fraud_check\n\n"
        "  - id: fraud_check\n"
        "    type: http\n"
        "    method: POST\n"
        "    endpoint: fraud\n"
        '    path: "/v1/score/{{ order.id | urlencode }}"\n'
        "    body: |\n"
        '      {"order": {{ order.id | tojson }},\n'
        '       "total": {{ order.total }}}\n'
        '    save: {score: body.score, risky: "body.score > 80"}\n'
        "    next: delivery_method\n"
        "    on_error: {'404': release_cancelled, 5xx: release_cancelled}\n\n"
        "  # Store customers may take the goods with them.\n" in text
    )
    assert _comments(text) == _comments(ORDER)
    assert load(text).errors == ()
    node = next(s for s in flow_view(text, [])["steps"] if s["id"] == "fraud_check")
    assert (node["method"], [(o["key"], o["target"]) for o in node["outcomes"]]) == (
        "POST",
        [("next", "delivery_method"), ("on_error.404", "release_cancelled"), ("on_error.5xx", "release_cancelled")],
    )
    # Each outcome is connected anew like any other.
    text = _changed({"op": "connect", "step": "fraud_check", "outcome": "on_error.5xx", "target": "ship"}, text)
    assert "    on_error: {'404': release_cancelled, 5xx: ship}\n" in text


def test_an_http_step_the_flow_cannot_take_is_marked_on_its_node_by_validation():
    new = {"type": "http", "id": "score", "method": "GET", "url": "http://risk.example.com/score", "body": "{}"}
    text = _changed({"op": "insert_after", "step": "record_payment", "outcome": "next", "new": new})
    errors = [{"path": e.path, "message": e.message} for e in load(text).errors]
    node = next(s for s in flow_view(text, errors)["steps"] if s["id"] == "score")
    assert [e["path"] for e in node["errors"]] == ["$.steps[6].url", "$.steps[6].body"]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            {"method": "FETCH", "url": "https://x.example"},
            "$.steps[5].next (new step).method: one of GET, POST, PUT, PATCH, DELETE",
        ),
        (
            {"method": "POST", "endpoint": "Risk Service"},
            "$.steps[5].next (new step).endpoint: an endpoint's name (OMS_HTTP_ENDPOINTS) is lower-case letters, "
            "digits and _ (e.g. approve_payment)",
        ),
        (
            {
                "method": "POST",
                "url": "https://x.example",
                "save": [{"key": "a", "expression": "1"}, {"key": "a", "expression": "2"}],
            },
            "$.steps[5].next (new step).save[1].key: 'a' is saved already",
        ),
        (
            {"method": "POST", "url": "https://x.example", "on_error": ["6xx"]},
            "$.steps[5].next (new step).on_error: '6xx' is not an outcome of an http step: a status (404), "
            "a class (4xx, 5xx), timeout or unreachable",
        ),
        (
            {"method": "POST", "url": "https://x.example", "on_error": ["timeout"], "on_error_to": "nowhere"},
            "$.steps[5].next (new step).on_error_to: no step 'nowhere' in this flow",
        ),
    ],
)
def test_an_http_step_that_cannot_be_written_is_refused_naming_the_field(new, message):
    change = {
        "op": "insert_after",
        "step": "record_payment",
        "outcome": "next",
        "new": {"type": "http", "id": "x", **new},
    }
    with pytest.raises(Invalid) as caught:
        change_edits(load(ORDER).raw, change)
    assert caught.value.message == message
