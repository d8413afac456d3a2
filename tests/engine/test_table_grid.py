"""Decision tables as the builder's grid (designer/table_grid.py): cells know where they are, so the edits the
page sends land on them and the errors validation finds are shown on them."""

from __future__ import annotations

from pathlib import Path

from designer.table_grid import carrier_grid, grid_view, rule_outputs
from engine.definitions import load, validate_text
from engine.yaml_edit import apply_edits, parse_edits

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
CARRIERS = (DEFINITIONS / "carriers" / "default.yaml").read_text(encoding="utf-8")
AUDIT = (DEFINITIONS / "rules" / "order_audit.yaml").read_text(encoding="utf-8")


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.lstrip().startswith("#")]


def test_the_carrier_table_reads_as_rows_of_tests_then_carrier_service_and_price():
    grid = carrier_grid(load(CARRIERS).raw)
    assert grid is not None
    assert [i["value"] for i in grid["inputs"]] == ["shipment.service_level", "shipment.region", "shipment.weight_kg"]
    assert [o["key"] for o in grid["outputs"]] == ["carrier", "service", "price"]
    assert grid["outputs"][0]["options"][:4] == ["sim_post", "sim_parcel", "sim_express", "sim_freight"]
    express = grid["rows"][0]
    assert [c["value"] for c in express["cells"]] == ["'express'", "-", "<= 30"]
    assert express["cells"][2]["path"] == "$.table.rows[0].when[2]"
    assert express["outputs"]["price"] == {
        "value": "9.9 + shipment.weight_kg * 1.2",
        "at": ["table", "rows", 0, "price"],
        "path": "$.table.rows[0].price",
    }
    assert grid["rows"][2]["outputs"]["price"]["value"] == "3.9"


def test_a_cell_changed_through_its_place_keeps_every_comment_and_a_bad_one_is_an_error_on_that_cell():
    grid = carrier_grid(load(CARRIERS).raw)
    assert grid is not None
    cell = grid["rows"][0]["cells"][2]
    edit = {"op": "set", "path": [*grid["at"], "rows", 0, "when", 2], "value": "<= 25"}
    text = apply_edits(CARRIERS, parse_edits([edit]))
    assert '    - when: ["\'express\'", "-", "<= 25"]\n' in text
    assert _comments(text) == _comments(CARRIERS)
    assert validate_text(text).errors == ()
    broken = apply_edits(CARRIERS, parse_edits([{**edit, "value": "<== 25"}]))
    assert [e.path for e in validate_text(broken).errors] == [cell["path"]]


def test_a_column_is_added_to_every_row_and_the_table_stays_valid():
    raw = load(CARRIERS).raw
    edits = [{"op": "insert", "path": ["table", "inputs"], "value": "shipment.warehouse"}]
    edits += [
        {"op": "insert", "path": ["table", "rows", i, "when"], "value": "-"} for i in range(len(raw["table"]["rows"]))
    ]
    text = apply_edits(CARRIERS, parse_edits(edits))
    assert validate_text(text).errors == ()
    grid = carrier_grid(load(text).raw)
    assert grid is not None
    assert grid["inputs"][-1]["value"] == "shipment.warehouse"
    assert {len(row["cells"]) for row in grid["rows"]} == {4}


def test_a_rule_sets_table_rule_reads_as_a_grid_with_action_tag_and_reason():
    raw = load(AUDIT).raw
    index = next(i for i, r in enumerate(raw["rules"]) if "table" in r)
    grid = grid_view(raw["rules"][index]["table"], ("rules", index, "table"), rule_outputs(), ["order.total"])
    assert grid is not None
    assert grid["path"] == f"$.rules[{index}].table"
    assert grid["rows"][0]["cells"][0] == {"value": "'marketplace'", "path": f"$.rules[{index}].table.rows[0].when[0]"}
    assert grid["rows"][0]["outputs"]["action"]["value"] == "review"
    reason = grid["rows"][0]["outputs"]["reason"]
    assert reason["value"].startswith("marketplace order of {{ order.total }}")


def test_what_is_not_a_table_is_no_grid():
    assert grid_view({"inputs": "x", "rows": []}, ("table",), rule_outputs(), []) is None
    assert grid_view(None, ("table",), rule_outputs(), []) is None
