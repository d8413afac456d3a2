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
