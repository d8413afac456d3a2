"""Durations said in words ("3 days", "1 day 12 hours", "90 minutes") and back, for the flow editor.

A definition stores the short form ("3d", "1d12h"); people type and read words.
Pure: ``from_words`` raises ValueError saying what it understands.
"""

from __future__ import annotations

import re

from engine.durations import DURATION_PATTERN, parse_duration

_UNITS = {
    "w": ("week", "weeks", "wk", "wks", "w"),
    "d": ("day", "days", "d"),
    "h": ("hour", "hours", "hr", "hrs", "h"),
    "m": ("minute", "minutes", "min", "mins", "m"),
    "s": ("second", "seconds", "sec", "secs", "s"),
}
_WORD_UNIT = {word: unit for unit, words in _UNITS.items() for word in words}
_NAMES = {"w": "week", "d": "day", "h": "hour", "m": "minute", "s": "second", "ms": "millisecond"}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_SHORT_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
WORDS_HELP = "write a number and a unit, e.g. '3 days', '4 hours' or '1 day 12 hours'"


def from_words(text: str) -> str:
    """The short duration ("3d") of ``text`` ("3 days", "3 days and 4 hours", or already "3d")."""
    cleaned = str(text).strip().lower()
    if re.fullmatch(DURATION_PATTERN, cleaned):
        parse_duration(cleaned)
        return cleaned
    rest = re.sub(r"\band\b|,", " ", cleaned)
    parts = _PART.findall(rest)
    if not parts or _PART.sub("", rest).strip():
        raise ValueError(f"{text!r} is not a duration; {WORDS_HELP}")
    short = ""
    for number, word in parts:
        unit = _WORD_UNIT.get(word)
        if unit is None:
            raise ValueError(f"{word!r} is not a unit; {WORDS_HELP}")
        short += f"{number}{unit}"
    parse_duration(short)  # longer than zero
    return short


def in_words(short: str) -> str:
    """``"1d12h"`` as ``"1 day 12 hours"``; text that is not a duration comes back as it is."""
    parts = _SHORT_PART.findall(str(short).strip())
    if not parts or _SHORT_PART.sub("", str(short).strip()):
        return str(short)
    return " ".join(f"{n} {_NAMES[u]}{'' if n == '1' else 's'}" for n, u in parts)
