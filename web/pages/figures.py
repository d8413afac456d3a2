"""How the dashboard writes its numbers: one format each for counts, amounts, shares and durations.

Amounts go through ``services.money.money_text`` (``5,196.00 EUR``), the
format of every amount on the pages; a missing figure is a dash.
"""

from __future__ import annotations

from services.money import money_text

MISSING = "\u2013"  # an en dash


def number(value: float | int | None) -> str:
    """``1,234`` for counts, ``0.25`` for ratios."""
    if value is None:
        return MISSING
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def amount(value: float | int | None, currency: str) -> str:
    return MISSING if value is None else money_text(value, currency)


def share(value: float | None) -> str:
    """A fraction as a percentage with one decimal: ``33.3 %``."""
    return MISSING if value is None else f"{value * 100:.1f} %"


def duration(seconds: float | None) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``, ``4 d``: one decimal where it says something."""
    if seconds is None:
        return MISSING
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= (2 * size if unit != "min" else size):
            return f"{_trim(seconds / size)} {unit}"
    return f"{_trim(seconds)} s"


def _trim(value: float) -> str:
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text
