"""The rules that fired, as an audit stores them: the English reason, and beside it the reason's translations.

A rule set may give a reason per language (engine/reasons.py). The audit of an
order or a return stores each fired rule's English ``reason`` — what the API
returns, the workflow gets and tasks quote — and, when the rule has them, its
rendered translations under ``reasons`` (``{"zh": ...}``), which only the pages read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.rules import FiredRule

TRANSLATIONS = "reasons"


def fired_rows(fired: Iterable[FiredRule]) -> list[dict[str, Any]]:
    """Each fired rule as the audit stores it."""
    return [
        {
            "rule": f.rule,
            "action": f.action,
            "reason": f.reason,
            "tag": f.tag,
            **({TRANSLATIONS: dict(f.reasons)} if f.reasons else {}),
        }
        for f in fired
    ]


def without_translations(fired: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The fired rules as the API returns them and the workflow gets them: English only."""
    return [{key: value for key, value in f.items() if key != TRANSLATIONS} for f in fired]


def audit_for_api(audit: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored audit with its fired rules in English only (None stays None)."""
    if audit is None:
        return None
    return {**audit, "fired": without_translations(audit.get("fired") or [])}
