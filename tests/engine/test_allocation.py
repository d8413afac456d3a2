"""Allocation definitions: every filter, ordering and the split rule, decided from a snapshot."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from engine.allocation import (
    Destination,
    Line,
    Request,
    StockPiece,
    WarehouseInfo,
    plan,
)
from engine.definitions import compile_text, validate_text
from engine.geo import haversine_km
from tests.engine.shipped import DEFINITIONS, read

TODAY = date(2026, 11, 22)
BER = WarehouseInfo("BER", "DE", 52.52, 13.40, handling_cost=2.5, serves=("DE", "AT", "FR"))
LYS = WarehouseInfo("LYS", "FR", 45.76, 4.84, handling_cost=2.0, serves=("FR", "DE"))
NJ1 = WarehouseInfo("NJ1", "US", 40.74, -74.17, handling_cost=3.0, serves=("US",))
WAREHOUSES = [BER, LYS, NJ1]


def rules(body: str):
    text = f"kind: allocation\nname: test\n{body}"
    source = validate_text(text)
    assert source.errors == (), source.errors
    return compile_text(text)


def request(*lines: tuple[str, int, float], country: str = "DE", channel: str = "web") -> Request:
    return Request(
        tuple(Line(i, sku, qty, price, 1.0) for i, (sku, qty, price) in enumerate(lines, start=1)),
        Destination(country),
        channel,
        TODAY,
    )


def stock(*pieces: tuple) -> list[StockPiece]:
    return [StockPiece(*piece) for piece in pieces]


def chosen(result) -> list[tuple]:
    return [(p.line_no, p.warehouse, p.lot, p.qty) for p in result.pieces]


def test_haversine_berlin_lyon_is_about_975_km():
    assert haversine_km((52.52, 13.40), (45.76, 4.84)) == pytest.approx(975, abs=5)
    assert haversine_km((40.74, -74.17), (40.74, -74.17)) == 0


def test_serves_destination_filters_and_says_why():
    result = plan(
        rules("filters: [serves_destination]\norder_by: [nearest]\n"),
        request(("A", 1, 10), country="US"),
        WAREHOUSES,
        stock(("BER", "A", 5), ("NJ1", "A", 5)),
    )
    assert chosen(result) == [(1, "NJ1", None, 1)]
    assert result.why[:2] == ("BER does not serve US", "LYS does not serve US")


def test_without_the_filter_the_nearest_warehouse_ships_even_abroad():
    result = plan(
        rules("order_by: [nearest]\n"),
        request(("A", 1, 10), country="US"),
        WAREHOUSES,
        stock(("BER", "A", 5), ("LYS", "A", 5)),
    )
    assert chosen(result) == [(1, "LYS", None, 1)]


@pytest.mark.parametrize("country, expected", [("DE", "BER"), ("FR", "LYS")])
def test_nearest_first(country, expected):
    result = plan(
        rules("filters: [serves_destination]\norder_by: [nearest]\n"),
        request(("A", 1, 10), country=country),
        WAREHOUSES,
        stock(("BER", "A", 5), ("LYS", "A", 5)),
    )
    assert chosen(result) == [(1, expected, None, 1)]
    assert result.why[-1].startswith(f"{expected} (")
    assert "chosen by nearest among warehouses that can ship the whole order" in result.why[-1]


def test_lowest_cost_weighs_handling_and_shipping():
    # To Austria Berlin is nearer, but Lyon's handling is so much cheaper that it wins on total cost.
    cheap_lyon = WarehouseInfo("LYS", "FR", 45.76, 4.84, handling_cost=0.0, serves=("AT",))
    dear_berlin = WarehouseInfo("BER", "DE", 52.52, 13.40, handling_cost=20.0, serves=("AT",))
    definition = rules("order_by: [lowest_cost]\nshipping: {base: 4, per_kg: 1, per_1000_km: 8}\n")
    result = plan(
        definition,
        request(("A", 2, 10), country="AT"),
        [cheap_lyon, dear_berlin],
        stock(("BER", "A", 5), ("LYS", "A", 5)),
    )
    assert chosen(result) == [(1, "LYS", None, 2)]
    assert "LYS (cost " in result.why[-1] and "also possible: BER (cost " in result.why[-1]
    nearest = plan(
        rules("order_by: [nearest]\n"),
        request(("A", 2, 10), country="AT"),
        [cheap_lyon, dear_berlin],
        stock(("BER", "A", 5), ("LYS", "A", 5)),
    )
    assert chosen(nearest) == [(1, "BER", None, 2)]


def test_prefer_orders_by_the_analysts_list():
    result = plan(
        rules("order_by: [{prefer: [LYS, BER]}, nearest]\n"),
        request(("A", 1, 10)),
        WAREHOUSES,
        stock(("BER", "A", 5), ("LYS", "A", 5)),
    )
    assert chosen(result) == [(1, "LYS", None, 1)]


def _lots() -> list[StockPiece]:
    now = datetime(2026, 11, 1)
    return [
        StockPiece("BER", "C", 4, "OLD-LATE", now - timedelta(days=30), TODAY + timedelta(days=200)),
        StockPiece("BER", "C", 4, "NEW-SOON", now - timedelta(days=2), TODAY + timedelta(days=60)),
        StockPiece("BER", "C", 4, "NEW-EXPIRING", now - timedelta(days=1), TODAY + timedelta(days=5)),
    ]


def test_fefo_takes_the_first_expiring_lot_first():
    result = plan(rules("order_by: [nearest]\nlots: fefo\n"), request(("C", 6, 10)), WAREHOUSES, _lots())
    assert chosen(result) == [(1, "BER", "NEW-EXPIRING", 4), (1, "BER", "NEW-SOON", 2)]
    assert result.why[-1].endswith("lots FEFO")


def test_fifo_takes_the_first_received_lot_first():
    result = plan(rules("order_by: [nearest]\nlots: fifo\n"), request(("C", 6, 10)), WAREHOUSES, _lots())
    assert chosen(result) == [(1, "BER", "OLD-LATE", 4), (1, "BER", "NEW-SOON", 2)]


def test_min_shelf_life_keeps_expiring_lots_back():
    definition = rules("filters: [{min_shelf_life_days: 30}]\norder_by: [nearest]\nlots: fefo\n")
    result = plan(definition, request(("C", 6, 10)), WAREHOUSES, _lots())
    assert chosen(result) == [(1, "BER", "NEW-SOON", 4), (1, "BER", "OLD-LATE", 2)]
    short = plan(definition, request(("C", 9, 10)), WAREHOUSES, _lots())
    assert short.failure == "out_of_stock"
    assert [(s.sku, s.missing) for s in short.shortages] == [("C", 1)]


def test_channel_reserve_keeps_other_channels_safety_stock():
    definition = rules("filters: [channel_reserve]\norder_by: [nearest]\n")
    holds = {("BER", "A"): 3}  # kept for another channel
    result = plan(definition, request(("A", 3, 10)), [BER], stock(("BER", "A", 5)), holds)
    assert result.failure == "out_of_stock"
    assert "BER: 3 x A kept for other channels" in result.why
    enough_left = plan(definition, request(("A", 2, 10)), [BER], stock(("BER", "A", 5)), holds)
    assert chosen(enough_left) == [(1, "BER", None, 2)]
    ignoring = rules("order_by: [nearest]\n")
    assert chosen(plan(ignoring, request(("A", 3, 10)), [BER], stock(("BER", "A", 5)), holds)) == [(1, "BER", None, 3)]


SPLIT = (
    "filters: [serves_destination]\norder_by: [nearest]\n"
    "split: {allowed: true, min_shipment_value: 20, max_shipments: 2}\n"
)


def test_split_when_no_warehouse_can_fill_alone():
    result = plan(rules(SPLIT), request(("A", 5, 10)), WAREHOUSES, stock(("BER", "A", 3), ("LYS", "A", 3)))
    assert chosen(result) == [(1, "BER", None, 3), (1, "LYS", None, 2)]
    assert [(p.warehouse, p.value) for p in result.parcels] == [("BER", 30.0), ("LYS", 20.0)]
    assert result.why[-1] == (
        "no single warehouse can ship the whole order; split into BER (30.00) + LYS (20.00) "
        "by nearest, each shipment worth at least 20.00"
    )


def test_no_split_while_one_warehouse_can_fill_the_order():
    result = plan(rules(SPLIT), request(("A", 3, 10)), WAREHOUSES, stock(("BER", "A", 2), ("LYS", "A", 3)))
    assert chosen(result) == [(1, "LYS", None, 3)]


def test_split_refused_when_a_shipment_is_worth_less_than_the_minimum():
    result = plan(rules(SPLIT), request(("A", 4, 10)), WAREHOUSES, stock(("BER", "A", 3), ("LYS", "A", 3)))
    assert result.failure == "out_of_stock"
    assert result.pieces == ()
    assert ("split refused: the shipment from LYS would be worth 10.00, below the minimum 20.00") in result.why
    assert result.why[-1] == "backorder: wait for stock (when_short: backorder)"


def test_split_refused_beyond_the_most_shipments():
    many = [WarehouseInfo(c, "DE", 50 + i, 10, serves=("DE",)) for i, c in enumerate(("W1", "W2", "W3"))]
    result = plan(rules(SPLIT), request(("A", 6, 10)), many, stock(("W1", "A", 2), ("W2", "A", 2), ("W3", "A", 2)))
    assert result.failure == "out_of_stock"
    assert "a split needs 3 shipments; the most allowed is 2" in result.why


def test_no_split_allowed_means_backorder():
    result = plan(
        rules("order_by: [nearest]\n"), request(("A", 5, 10)), WAREHOUSES, stock(("BER", "A", 3), ("LYS", "A", 3))
    )
    assert result.failure == "out_of_stock"
    assert "no single warehouse can ship the whole order and splitting is not allowed" in result.why


def test_when_short_cancel_fails_as_unallocatable():
    result = plan(rules("order_by: [nearest]\nwhen_short: cancel\n"), request(("A", 5, 10)), WAREHOUSES, [])
    assert result.failure == "unallocatable"
    assert result.why[-1] == "cancel (when_short: cancel)"


def test_every_line_is_planned_all_or_nothing():
    result = plan(
        rules("order_by: [nearest]\n"),
        request(("A", 1, 10), ("B", 2, 5)),
        WAREHOUSES,
        stock(("BER", "A", 5), ("BER", "B", 1), ("LYS", "A", 5), ("LYS", "B", 2)),
    )
    assert chosen(result) == [(1, "LYS", None, 1), (2, "LYS", None, 2)]


def test_shipped_default_allocation_compiles():
    definition = compile_text(read(DEFINITIONS / "allocation" / "default.yaml"))
    assert definition.serves_destination is True
    assert definition.channel_reserve is True
    assert definition.min_shelf_life_days == 30
    assert definition.order_by == ("nearest", "lowest_cost")
    assert (definition.split_allowed, definition.min_shipment_value, definition.when_short) == (True, 20, "backorder")


def errors(body: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(f"kind: allocation\nname: test\n{body}").errors]


BROKEN = {
    "unknown ordering": ("order_by: [closest]\n", "$.order_by[0]"),
    "ordering twice": ("order_by: [nearest, nearest]\n", "$.order_by[1]"),
    "filter twice": ("filters: [serves_destination, serves_destination]\norder_by: [nearest]\n", "$.filters[1]"),
    "lowest cost without a shipping estimate": ("order_by: [lowest_cost]\n", "$.order_by"),
    "split options without allowed": ("order_by: [nearest]\nsplit: {min_shipment_value: 20}\n", "$.split.allowed"),
    "negative minimum": (
        "order_by: [nearest]\nsplit: {allowed: true, min_shipment_value: -1}\n",
        "$.split.min_shipment_value",
    ),
    "unknown when_short": ("order_by: [nearest]\nwhen_short: wait\n", "$.when_short"),
    "warehouse both only and excluded": (
        "filters: [{only_warehouses: [BER]}, {exclude_warehouses: [BER]}]\norder_by: [nearest]\n",
        "$.filters",
    ),
}


@pytest.mark.parametrize("body, path", BROKEN.values(), ids=BROKEN.keys())
def test_broken_allocation_is_refused_with_its_path(body, path):
    found = errors(body)
    assert found, "expected an error"
    assert path in [p for p, _ in found], found


def test_broken_allocation_messages():
    assert errors("order_by: [nearest, nearest]\n") == [
        ("$.order_by[1]", "ordering 'nearest' is given twice (first at $.order_by[0])")
    ]
    assert errors("order_by: [lowest_cost]\n") == [
        ("$.order_by", "'lowest_cost' needs a 'shipping' estimate (base, per_kg, per_1000_km)")
    ]
    assert errors("order_by: [nearest]\nwhen_short: wait\n") == [
        ("$.when_short", "'wait' is not one of 'backorder', 'cancel'")
    ]
