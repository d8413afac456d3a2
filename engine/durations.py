"""Human durations in definitions: "90s", "30m", "24h", "7d", "1d12h"."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


DURATION_HELP = "write a number and a unit (ms, s, m, h, d, w), e.g. '30m' or '7d'"


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises ValueError naming the accepted units."""
    cleaned = str(text).strip()
    if not cleaned or not re.fullmatch(DURATION_PATTERN, cleaned):
        raise ValueError(f"{text!r} is not a duration; {DURATION_HELP}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds
