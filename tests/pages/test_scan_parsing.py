"""What a barcode scanner types into the wave page becomes scans of SKU and quantity."""

from __future__ import annotations

import pytest

from web.pages.waves import ScanError, parse_scans


def test_one_scan_a_line_with_optional_quantity():
    assert parse_scans("MUG-LOGO\n\n  TSHIRT-BLK-M x2\nMUG-LOGO 3\nHOODIE-GRY-M×1\n") == [
        {"sku": "MUG-LOGO", "qty": 1},
        {"sku": "TSHIRT-BLK-M", "qty": 2},
        {"sku": "MUG-LOGO", "qty": 3},
        {"sku": "HOODIE-GRY-M", "qty": 1},
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "MUG-LOGO\ntwo mugs!",
            "line 2: 'two mugs!' is not a scan; write the SKU, or the SKU and a quantity (MUG-LOGO x2)",
        ),
        ("MUG-LOGO x0", "line 1: the quantity must be at least 1"),
    ],
)
def test_a_line_that_is_no_scan_is_named(text, message):
    with pytest.raises(ScanError) as caught:
        parse_scans(text)
    assert str(caught.value) == message
