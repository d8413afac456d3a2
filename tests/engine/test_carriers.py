"""Carrier choice: the shipped table by weight, region and service level; its checks."""

from __future__ import annotations

import json

import pytest

from engine.carriers import CarrierTable, NoCarrier
from engine.definitions import compile_text, validate_text
from tests.engine.shipped import DEFINITIONS

CARRIERS_FILE = DEFINITIONS / "carriers" / "default.yaml"


@pytest.fixture(scope="module")
def table() -> CarrierTable:
    return compile_text(CARRIERS_FILE.read_text(encoding="utf-8"))


CHOICES = {
    "light domestic parcel: post, flat price": (
        (1.5, "DE", "standard"),
        ("sim_post", "small_parcel", 3.9, "domestic", 2),
    ),
    "heavier domestic parcel: parcel service by weight": (
        (5, "DE", "standard"),
        ("sim_parcel", "parcel", 6.4, "domestic", 3),
    ),
    "the same parcel to France: international": (
        (5, "FR", "standard"),
        ("sim_parcel", "parcel_international", 11.9, "eu", 4),
    ),
    "to Britain: international too": ((2, "GB", "standard"), ("sim_parcel", "parcel_international", 10.1, "uk", 4)),
    "bulky goods: freight wherever": ((40, "US", "standard"), ("sim_freight", "freight", 81.0, "na", 1)),
    "express below 30 kg": ((1, "US", "express"), ("sim_express", "express", 11.1, "na", 0)),
    "express above 30 kg is freight": ((31, "DE", "express"), ("sim_freight", "freight", 73.8, "domestic", 1)),
    "a country in no region: worldwide": ((1, "JP", "standard"), ("sim_express", "worldwide", 22.4, "other", 5)),
}


@pytest.mark.parametrize("parcel, expected", CHOICES.values(), ids=CHOICES.keys())
def test_carrier_by_weight_region_and_service(table, parcel, expected):
    weight, country, service_level = parcel
    choice = table.choose({"weight_kg": weight, "country": country, "service_level": service_level})
    assert (choice.carrier.name, choice.service, choice.price, choice.region, choice.row) == expected


def test_the_table_is_a_jdm_decision(table):
    jdm = json.loads(table.jdm)
    node = next(n for n in jdm["nodes"] if n["type"] == "decisionTableNode")
    assert [i["field"] for i in node["content"]["inputs"]] == [
        "shipment.service_level",
        "shipment.region",
        "shipment.weight_kg",
    ]
    assert node["content"]["hitPolicy"] == "first"


def _table(rows: str, carriers: str = "  - {name: post, adapter: simulated}") -> str:
    return f"""kind: carriers
name: test
regions: {{eu: [DE, FR]}}
carriers:
{carriers}
table:
  inputs: [shipment.weight_kg, shipment.region]
  rows:
{rows}"""


def test_no_matching_row_says_what_the_parcel_was():
    table = compile_text(_table("    - {when: ['<= 1', \"'eu'\"], carrier: post, price: 2}"))
    with pytest.raises(NoCarrier) as caught:
        table.choose({"weight_kg": 3, "country": "DE", "service_level": "standard"})
    assert str(caught.value) == ("no carrier row of 'test' matches a parcel of 3 kg to DE (eu), service 'standard'")


BROKEN = {
    "unknown carrier in a row": (
        "    - {when: ['-', '-'], carrier: postt, price: 2}",
        [("$.table.rows[0].carrier", "unknown carrier 'postt' (did you mean 'post'?)")],
    ),
    "test that does not compile": (
        "    - {when: ['<=', '-'], carrier: post, price: 2}",
        [("$.table.rows[0].when[0]", "test '<=' does not compile: ")],
    ),
    "price that does not compile": (
        "    - {when: ['-', '-'], carrier: post, price: '3 +'}",
        [("$.table.rows[0].price", "price does not compile: ")],
    ),
    "too few tests": (
        "    - {when: ['-'], carrier: post, price: 2}",
        [("$.table.rows[0].when", "has 1 tests for 2 inputs")],
    ),
    "price missing": (
        "    - {when: ['-', '-'], carrier: post}",
        [("$.table.rows[0]", "'price' is required")],
    ),
}


@pytest.mark.parametrize("rows, expected", BROKEN.values(), ids=BROKEN.keys())
def test_broken_tables_name_the_path(rows, expected):
    errors = [(e.path, e.message) for e in validate_text(_table(rows)).errors]
    assert [(p, m[: len(e)]) for (p, m), (_, e) in zip(errors, expected, strict=False)] == expected
    assert len(errors) == len(expected)


def test_unknown_adapter_and_duplicate_carrier():
    text = _table(
        "    - {when: ['-', '-'], carrier: post, price: 2}",
        "  - {name: post, adapter: simulatd}\n  - {name: post, adapter: simulated}",
    )
    assert [(e.path, e.message) for e in validate_text(text).errors] == [
        (
            "$.carriers[0].adapter",
            "unknown adapter 'simulatd' (did you mean 'simulated'?); adapters are simulated, or an http section",
        ),
        ("$.carriers[1].name", "duplicate carrier 'post'"),
    ]


def test_a_country_in_two_regions_is_refused():
    text = _table("    - {when: ['-', '-'], carrier: post, price: 2}").replace(
        "regions: {eu: [DE, FR]}", "regions: {eu: [DE, FR], home: [DE]}"
    )
    assert [(e.path, e.message) for e in validate_text(text).errors] == [
        ("$.regions.home[0]", "DE is in region 'eu' already")
    ]


def test_shipping_and_notify_params_are_checked_when_the_flow_is_validated():
    from tests.engine.shipped import FLOW_FILE

    text = FLOW_FILE.read_text(encoding="utf-8")
    broken = text.replace(
        "params: {carriers: default}", "params: {carriers: default, apart: \"sku.category = 'x'\", merge_window: soon}"
    ).replace("params: {event: shipped}", "params: {}")
    assert [(e.path, e.message) for e in validate_text(broken).errors] == [
        ("$.steps[9].params.apart", "expression does not compile: '=' assigns; use '==' to compare"),
        (
            "$.steps[9].params.merge_window",
            "'soon' is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. '30m' or '7d'",
        ),
        ("$.steps[10].params", "notify needs params.event, e.g. {event: shipped}"),
    ]
