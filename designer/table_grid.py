"""Decision tables as the builder's grid: rows by input columns, then the output columns.

A decision table (a rule set's ``table`` rule, or the carrier table) is read
from the draft into a grid the page draws: one column per input expression,
one per output (action, tag and reason; or carrier, service and price), one
row per table row. Each cell carries the definition path it stands for, so the
page changes it with the same structured edits as everything else
(``engine.yaml_edit``: set a cell, insert, move or remove a row, add or remove
a column) and shows each validation error on the cell its path names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.errors import join_path
from engine.rule_builder import ACTIONS, N_

# The inputs a carrier table sees (definitions/schemas/carriers.json).
SHIPMENT_INPUTS = (
    "shipment.service_level",
    "shipment.region",
    "shipment.country",
    "shipment.weight_kg",
    "shipment.value",
    "shipment.warehouse",
)

# The output columns' headings (the page shows them in the reader's language: designer/js_text.py).
OUTPUT_LABELS = {
    "action": N_("Action"),
    "tag": N_("Tag"),
    "reason": N_("Reason"),
    "carrier": N_("Carrier"),
    "service": N_("Service"),
    "price": N_("Price"),
}


def _cell(test: Any) -> str:
    if isinstance(test, bool):
        return "true" if test else "false"
    return "" if test is None else str(test)


def _output(row: Mapping, key: str, at: tuple[str | int, ...]) -> dict:
    """An output cell: its text and where it is; a text given per language shows (and edits) its English."""
    value = row.get(key)
    if isinstance(value, Mapping) and "en" in value:
        return {"value": _cell(value["en"]), "at": [*at, key, "en"], "path": join_path("$", *at, key, "en")}
    return {"value": _cell(value), "at": [*at, key], "path": join_path("$", *at, key)}


def grid_view(table: Any, at: Sequence[str | int], outputs: list[dict], suggestions: Sequence[str]) -> dict | None:
    """The grid of ``table`` (the mapping at key path ``at``), or None when it is not a table the grid can show.

    ``outputs`` describes the output columns: ``{"key", "label", "type": "choice"|"text"|"number or
    expression", "options"}``; ``suggestions`` are input expressions to offer for a new column. Every cell
    says where it is twice: ``at``, the key path an edit names, and ``path``, the JSON path errors name."""
    if not isinstance(table, Mapping):
        return None
    inputs, rows = table.get("inputs"), table.get("rows")
    if not isinstance(inputs, list) or not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        return None
    where = join_path("$", *at)
    grid_rows = []
    for index, row in enumerate(rows):
        tests = row.get("when")
        tests = tests if isinstance(tests, list) else []
        row_at = (*at, "rows", index)
        grid_rows.append(
            {
                "index": index,
                "path": join_path("$", *row_at),
                "cells": [
                    {"value": _cell(tests[n]) if n < len(tests) else "", "path": join_path("$", *row_at, "when", n)}
                    for n in range(max(len(inputs), len(tests)))
                ],
                "outputs": {key: _output(row, key, row_at) for key in (o["key"] for o in outputs)},
            }
        )
    return {
        "at": list(at),
        "path": where,
        "inputs": [{"value": _cell(e), "path": join_path(where, "inputs", n)} for n, e in enumerate(inputs)],
        "outputs": outputs,
        "rows": grid_rows,
        "suggestions": list(suggestions),
    }


def rule_outputs() -> list[dict]:
    """A rule table's output columns: what a matching row does and why."""
    return [
        {"key": "action", "label": OUTPUT_LABELS["action"], "type": "choice", "options": list(ACTIONS)},
        {"key": "tag", "label": OUTPUT_LABELS["tag"], "type": "text", "options": []},
        {"key": "reason", "label": OUTPUT_LABELS["reason"], "type": "text", "options": []},
    ]


def carrier_outputs(raw: Mapping) -> list[dict]:
    """The carrier table's output columns: the carrier (one of the definition's), the service and the price."""
    carriers = [c.get("name") for c in raw.get("carriers") or [] if isinstance(c, Mapping) and c.get("name")]
    return [
        {"key": "carrier", "label": OUTPUT_LABELS["carrier"], "type": "choice", "options": carriers},
        {"key": "service", "label": OUTPUT_LABELS["service"], "type": "text", "options": []},
        {"key": "price", "label": OUTPUT_LABELS["price"], "type": "number or expression", "options": []},
    ]


def carrier_grid(raw: Mapping) -> dict | None:
    """The carrier definition's table as a grid."""
    return grid_view(raw.get("table"), ("table",), carrier_outputs(raw), SHIPMENT_INPUTS)
