"""Reference data: delivery regions and promotions, shipped and broken."""

from __future__ import annotations

from datetime import date

import pytest

from engine.definitions import compile_text, validate_text
from engine.reference import Coupon, Promotions, Regions
from tests.engine.shipped import (
    DEFINITIONS,
    KNOWN,
    PROMOTIONS_FILE,
    REGIONS_FILE,
    read,
    shipped_files,
)


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


# Every shipped file, these included, validates in
# test_definition_validation.py::test_shipped_definition_is_valid.
def test_the_reference_data_is_shipped_and_published():
    assert {str(p.relative_to(DEFINITIONS)) for p in shipped_files()} >= {
        "regions/delivery.yaml",
        "promotions/coupons.yaml",
    }
    assert {("regions", "delivery"), ("promotions", "coupons")} <= KNOWN


# ---- regions --------------------------------------------------------------------


@pytest.fixture(scope="module")
def regions() -> Regions:
    return compile_text(read(REGIONS_FILE))


def test_shipped_regions(regions):
    assert regions == Regions(
        name="delivery",
        countries=frozenset({"DE", "FR", "NL", "BE", "AT", "GB", "US", "CN"}),
        excluded_postal_codes={"DE": ("27498",)},
    )


def address(country: str | None = "DE", postal_code: str | None = "10115") -> dict:
    return {"street": "Main St 1", "city": "Berlin", "postal_code": postal_code, "country": country}


SERVICEABLE = {
    "a served country": (address("DE"), (True, "")),
    "the last served country": (address("CN", "100000"), (True, "")),
    "an unserved country": (address("BR", "01000-000"), (False, "no carrier serves BR")),
    "a lower-case country is not a served one": (address("de"), (False, "no carrier serves de")),
    "no country": (address(None), (False, "no carrier serves an empty country")),
    "an empty country": (address(""), (False, "no carrier serves an empty country")),
    "an excluded postal code": (address("DE", "27498"), (False, "no carrier serves postal code 27498 in DE")),
    "an excluded postal code written with a space": (
        address("DE", "27 498"),
        (False, "no carrier serves postal code 27498 in DE"),
    ),
    "a postal code that starts with the excluded prefix": (
        address("DE", "274981"),
        (False, "no carrier serves postal code 274981 in DE"),
    ),
    "the postal code next to the excluded one": (address("DE", "27499"), (True, "")),
    "the excluded prefix in another served country": (address("AT", "27498"), (True, "")),
    "no postal code": (address("DE", None), (True, "")),
}


@pytest.mark.parametrize("addr, expected", SERVICEABLE.values(), ids=SERVICEABLE.keys())
def test_serviceable(regions, addr, expected):
    assert regions.serviceable(addr) == expected


def regions_text(countries: str, excluded: str = "") -> str:
    text = f"kind: regions\nname: delivery\ncountries: {countries}\n"
    return text + (f"excluded_postal_codes: {excluded}\n" if excluded else "")


BROKEN_REGIONS = {
    "excluded country that is not served": (
        regions_text("[DE, AT]", "{DE: ['27498'], FR: ['20']}"),
        [("$.excluded_postal_codes.FR", "FR is not among the served countries")],
    ),
    "every excluded country that is not served": (
        regions_text("[DE]", "{FR: ['20'], IT: ['00120']}"),
        [
            ("$.excluded_postal_codes.FR", "FR is not among the served countries"),
            ("$.excluded_postal_codes.IT", "IT is not among the served countries"),
        ],
    ),
    "lower-case country code": (
        regions_text("[DE, fr]"),
        [("$.countries[1]", "'fr' does not match '^[A-Z]{2}$'")],
    ),
    "lower-case excluded country code": (
        regions_text("[DE]", "{de: ['27498']}"),
        [("$.excluded_postal_codes", "'de' does not match '^[A-Z]{2}$'")],
    ),
    "a country twice": (regions_text("[DE, DE]"), [("$.countries", "['DE', 'DE'] has non-unique elements")]),
    "no countries": (regions_text("[]"), [("$.countries", "[] should be non-empty")]),
    "an empty postal prefix": (
        regions_text("[DE]", "{DE: ['']}"),
        [("$.excluded_postal_codes.DE[0]", "'' should be non-empty")],
    ),
    "countries missing": (
        "kind: regions\nname: delivery\n",
        [("$", "'countries' is required")],
    ),
}


@pytest.mark.parametrize("text, expected", BROKEN_REGIONS.values(), ids=BROKEN_REGIONS.keys())
def test_broken_regions(text, expected):
    assert errors_of(text) == expected


# ---- promotions -----------------------------------------------------------------


@pytest.fixture(scope="module")
def promotions() -> Promotions:
    return compile_text(read(PROMOTIONS_FILE))


def test_shipped_promotions(promotions):
    assert promotions == Promotions(
        name="coupons",
        coupons={
            "WELCOME10": Coupon("WELCOME10", date(2026, 1, 1), date(2027, 12, 31), 50.0),
            "SUMMER25": Coupon("SUMMER25", date(2026, 6, 1), date(2026, 8, 31), 100.0),
        },
    )


def facts(code, exists: bool, valid: bool, min_spend_met: bool, min_spend: float | None = None) -> dict:
    out = {"code": code, "exists": exists, "valid": valid, "min_spend_met": min_spend_met}
    return out if min_spend is None else {**out, "min_spend": min_spend}


MID_SUMMER = date(2026, 7, 1)

COUPON_FACTS = {
    "valid, minimum spend met": (("SUMMER25", 150, MID_SUMMER), facts("SUMMER25", True, True, True, 100.0)),
    "exactly the minimum spend": (("SUMMER25", 100, MID_SUMMER), facts("SUMMER25", True, True, True, 100.0)),
    "a cent below the minimum spend": (("SUMMER25", 99.99, MID_SUMMER), facts("SUMMER25", True, True, False, 100.0)),
    "first valid day": (("SUMMER25", 150, date(2026, 6, 1)), facts("SUMMER25", True, True, True, 100.0)),
    "last valid day": (("SUMMER25", 150, date(2026, 8, 31)), facts("SUMMER25", True, True, True, 100.0)),
    "expired": (("SUMMER25", 150, date(2026, 9, 1)), facts("SUMMER25", True, False, True, 100.0)),
    "not yet valid": (("SUMMER25", 150, date(2026, 5, 31)), facts("SUMMER25", True, False, True, 100.0)),
    "expired and below the minimum spend": (
        ("SUMMER25", 10, date(2027, 1, 1)),
        facts("SUMMER25", True, False, False, 100.0),
    ),
    "unknown code": (("WINTER99", 150, MID_SUMMER), facts("WINTER99", False, False, False)),
    "lower-case code, kept as entered": (("welcome10", 50, MID_SUMMER), facts("welcome10", True, True, True, 50.0)),
    "code with blanks around it": ((" Welcome10 ", 50, MID_SUMMER), facts(" Welcome10 ", True, True, True, 50.0)),
    "no coupon": ((None, 150, MID_SUMMER), facts(None, False, False, False)),
    "an empty coupon": (("", 150, MID_SUMMER), facts(None, False, False, False)),
}


@pytest.mark.parametrize("args, expected", COUPON_FACTS.values(), ids=COUPON_FACTS.keys())
def test_coupon_facts(promotions, args, expected):
    assert promotions.check(*args) == expected


def test_a_coupon_without_dates_or_minimum_is_always_valid():
    open_ended = compile_text("kind: promotions\nname: open\ncoupons:\n  - {code: ANY-1}\n")
    assert open_ended.coupons == {"ANY-1": Coupon("ANY-1", None, None, 0.0)}
    assert open_ended.check("any-1", 0, date(1999, 1, 1)) == facts("any-1", True, True, True, 0.0)


def promotions_text(*coupons: str) -> str:
    return "kind: promotions\nname: coupons\ncoupons:\n" + "".join(f"  - {c}\n" for c in coupons)


BROKEN_PROMOTIONS = {
    "duplicate code": (
        promotions_text("{code: A10}", "{code: B20}", "{code: A10}"),
        [("$.coupons[2].code", "duplicate coupon 'A10'")],
    ),
    "valid_until before valid_from": (
        promotions_text("{code: A10, valid_from: '2026-02-01', valid_until: '2026-01-31'}"),
        [("$.coupons[0].valid_until", "is before valid_from")],
    ),
    "a one-day coupon is fine": (
        promotions_text("{code: A10, valid_from: '2026-02-01', valid_until: '2026-02-01'}"),
        [],
    ),
    # The path names the coupon, not the field; the message does not say which date.
    "a month that does not exist": (
        promotions_text("{code: A10, valid_from: '2026-13-01'}"),
        [("$.coupons[0].valid_from", "'2026-13-01' is not a date; write YYYY-MM-DD")],
    ),
    "words instead of a date": (
        promotions_text("{code: A10, valid_until: next monday}"),
        [("$.coupons[0].valid_until", "'next monday' is not a date; write YYYY-MM-DD")],
    ),
    "an unquoted YAML date": (
        promotions_text("{code: A10, valid_until: 2026-01-31}"),
        [("$.coupons[0].valid_until", "write the date in quotes: '2026-01-31'")],
    ),
    "lower-case code": (
        promotions_text("{code: a10}"),
        [("$.coupons[0].code", "'a10' does not match '^[A-Z0-9_-]{3,32}$'")],
    ),
    "negative minimum spend": (
        promotions_text("{code: A10, min_spend: -1}"),
        [("$.coupons[0].min_spend", "-1 is less than the minimum of 0")],
    ),
    "every error at once": (
        promotions_text(
            "{code: A10, valid_from: x}",
            "{code: A10}",
            "{code: B10, valid_from: '2026-02-01', valid_until: '2026-01-31'}",
        ),
        [
            ("$.coupons[0].valid_from", "'x' is not a date; write YYYY-MM-DD"),
            ("$.coupons[1].code", "duplicate coupon 'A10'"),
            ("$.coupons[2].valid_until", "is before valid_from"),
        ],
    ),
}


@pytest.mark.parametrize("text, expected", BROKEN_PROMOTIONS.values(), ids=BROKEN_PROMOTIONS.keys())
def test_broken_promotions(text, expected):
    assert errors_of(text) == expected
