"""Reference data kinds: delivery regions and promotions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.errors import DefinitionError, join_path


@dataclass(frozen=True)
class Regions:
    name: str
    countries: frozenset[str]
    excluded_postal_codes: dict[str, tuple[str, ...]]

    def serviceable(self, address: dict[str, Any]) -> tuple[bool, str]:
        """Whether a carrier serves ``address``, with the reason when not."""
        country = str(address.get("country") or "")
        if country not in self.countries:
            return False, f"no carrier serves {country or 'an empty country'}"
        postal = str(address.get("postal_code") or "").replace(" ", "")
        for prefix in self.excluded_postal_codes.get(country, ()):
            if postal.startswith(prefix):
                return False, f"no carrier serves postal code {postal} in {country}"
        return True, ""


def parse_regions(raw: dict) -> Regions:
    return Regions(
        name=raw["name"],
        countries=frozenset(raw["countries"]),
        excluded_postal_codes={k: tuple(v) for k, v in raw.get("excluded_postal_codes", {}).items()},
    )


def check_regions(raw: dict) -> Iterator[DefinitionError]:
    for country in raw.get("excluded_postal_codes", {}):
        if country not in raw["countries"]:
            yield DefinitionError(
                join_path("$.excluded_postal_codes", country), f"{country} is not among the served countries"
            )


@dataclass(frozen=True)
class Coupon:
    code: str
    valid_from: date | None
    valid_until: date | None
    min_spend: float


@dataclass(frozen=True)
class Promotions:
    name: str
    coupons: dict[str, Coupon]

    def check(self, code: str | None, total: float, today: date) -> dict[str, Any]:
        """Facts about an order's coupon: exists, valid today, minimum spend met."""
        if not code:
            return {"code": None, "exists": False, "valid": False, "min_spend_met": False}
        coupon = self.coupons.get(code.strip().upper())
        if coupon is None:
            return {"code": code, "exists": False, "valid": False, "min_spend_met": False}
        valid = (coupon.valid_from is None or coupon.valid_from <= today) and (
            coupon.valid_until is None or today <= coupon.valid_until
        )
        return {
            "code": code,
            "exists": True,
            "valid": valid,
            "min_spend_met": total >= coupon.min_spend,
            "min_spend": coupon.min_spend,
        }


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def parse_promotions(raw: dict) -> Promotions:
    return Promotions(
        name=raw["name"],
        coupons={
            c["code"]: Coupon(
                c["code"], _date(c.get("valid_from")), _date(c.get("valid_until")), float(c.get("min_spend", 0))
            )
            for c in raw["coupons"]
        },
    )


def check_promotions(raw: dict) -> Iterator[DefinitionError]:
    seen: set[str] = set()
    for index, coupon in enumerate(raw["coupons"]):
        path = join_path("$.coupons", index)
        if coupon["code"] in seen:
            yield DefinitionError(join_path(path, "code"), f"duplicate coupon {coupon['code']!r}")
        seen.add(coupon["code"])
        dates = {}
        for key in ("valid_from", "valid_until"):
            try:
                dates[key] = _date(coupon.get(key))
            except ValueError:
                yield DefinitionError(join_path(path, key), f"{coupon[key]!r} is not a date; write YYYY-MM-DD")
        start, end = dates.get("valid_from"), dates.get("valid_until")
        if start and end and start > end:
            yield DefinitionError(join_path(path, "valid_until"), "is before valid_from")
