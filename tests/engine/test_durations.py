"""parse_duration: the human durations of definitions, in seconds."""

from __future__ import annotations

import pytest

from engine.durations import parse_duration


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90s", 90),
        ("30m", 1800),
        ("24h", 86400),
        ("7d", 604800),
        ("1d12h", 129600),
        ("500ms", 0.5),
        ("2w", 1209600),
        ("1.5h", 5400),
        (" 45s ", 45),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def not_a_duration(text: str) -> str:
    return f"{text!r} is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. '30m' or '7d'"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", not_a_duration("")),
        ("   ", not_a_duration("   ")),
        ("10", not_a_duration("10")),
        ("5 minutes", not_a_duration("5 minutes")),
        ("1y", not_a_duration("1y")),
        ("-5m", not_a_duration("-5m")),
        ("h", not_a_duration("h")),
        ("0s", "'0s' must be longer than zero"),
        ("0d0h", "'0d0h' must be longer than zero"),
    ],
)
def test_parse_duration_refuses(text, message):
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message
