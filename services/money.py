"""Amounts as people read them: one format, always with the currency."""

from __future__ import annotations

from typing import Any

from oms.settings import get_settings


def currency_of(document: dict[str, Any] | None) -> str:
    """The order document's currency, else the shop's (``OMS_CURRENCY``)."""
    return str((document or {}).get("currency") or get_settings().currency).upper()


def money_text(amount: float | int | None, currency: str) -> str:
    """``5,196.00 EUR``."""
    return f"{amount or 0:,.2f} {currency}".strip()
