"""Decision tables: a compact YAML table compiled to zen-engine's JDM.

```yaml
table:
  inputs: [order.channel, order.total]          # expressions, one per column
  rows:                                         # first matching row wins
    - when: ["'marketplace'", "> 1500"]         # unary tests; "" or "-" matches anything
      action: review
      reason: "marketplace order of {{ order.total }}"
```

The compiled JDM is a standard GoRules decision (input node -> decision table ->
output node), so the same table opens in any JDM editor.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import zen

from engine.errors import DefinitionError, join_path
from engine.expressions import (
    Expression,
    ExpressionError,
    _first_line_message,
    compile_error,
    compile_expression,
    cost_error,
)
from engine.reasons import Translations, reason_errors, split_reason

ANY = ("", "-")


@dataclass(frozen=True)
class Row:
    action: str
    reason: str
    tag: str | None
    reasons: Translations = ()  # the reason in other languages (engine.reasons)


@dataclass(frozen=True)
class DecisionTable:
    rows: tuple[Row, ...]
    inputs: tuple[Expression, ...]
    jdm: str
    _decision: Any

    def first_match(self, context: dict[str, Any]) -> tuple[int, Row] | None:
        """(index, row) of the first row whose tests all pass, or None."""
        try:
            result = self._decision.evaluate(context)["result"]
        except RuntimeError as exc:
            raise ExpressionError(f"decision table failed: {_first_line_message(str(exc))}") from exc
        if "row" not in result:
            # zen reads an input that fails as null, which matches no row: make
            # sure "no match" is not really "could not tell".
            for expression in self.inputs:
                expression.evaluate(context)
            return None
        index = int(result["row"])
        return index, self.rows[index]


def _cell(test: Any) -> str:
    if isinstance(test, bool):  # YAML true/false, not the names True/False
        return "true" if test else "false"
    return "" if str(test).strip() in ANY else str(test)


def to_jdm(raw: dict, name: str) -> dict:
    """The JDM document of a compact table: outputs are the index of the matching row."""
    inputs = [{"id": f"i{n}", "name": field, "field": field} for n, field in enumerate(raw["inputs"])]
    rules = []
    for index, row in enumerate(raw["rows"]):
        rule = {"_id": f"r{index}", "o0": str(index)}
        rule.update({f"i{n}": _cell(test) for n, test in enumerate(row["when"])})
        rules.append(rule)
    return {
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": name,
                "position": {"x": 300, "y": 0},
                "content": {
                    "hitPolicy": "first",
                    "inputs": inputs,
                    "outputs": [{"id": "o0", "name": "row", "field": "row"}],
                    "rules": rules,
                },
            },
            {"id": "response", "type": "outputNode", "name": "Response", "position": {"x": 600, "y": 0}},
        ],
        "edges": [
            {"id": "e0", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e1", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


_ENGINE = zen.ZenEngine()


def _row(raw: dict) -> Row:
    reason, translations = split_reason(raw["reason"])
    return Row(raw["action"], reason, raw.get("tag"), translations)


def compile_table(raw: dict, name: str) -> DecisionTable:
    jdm = json.dumps(to_jdm(raw, name))
    rows = tuple(_row(r) for r in raw["rows"])
    inputs = tuple(compile_expression(field) for field in raw["inputs"])
    return DecisionTable(rows=rows, inputs=inputs, jdm=jdm, _decision=_ENGINE.create_decision(jdm))


def unary_error(test: Any) -> str | None:
    """Why a table cell is not a unary test (``> 1000``, ``'web'``, ``not in ['DE']``), or None."""
    if _cell(test) == "":
        return None
    try:
        zen.compile_unary_expression(_cell(test))
    except RuntimeError as exc:
        return _first_line_message(str(exc))
    return cost_error(_cell(test))


def check_table(raw: dict, path: str) -> Iterator[DefinitionError]:
    width = len(raw["inputs"])
    for n, field in enumerate(raw["inputs"]):
        problem = compile_error(field)
        if problem:
            yield DefinitionError(join_path(path, "inputs", n), f"input does not compile: {problem}")
    for index, row in enumerate(raw["rows"]):
        row_path = join_path(path, "rows", index)
        if len(row["when"]) != width:
            yield DefinitionError(join_path(row_path, "when"), f"has {len(row['when'])} tests for {width} inputs")
            continue
        for n, test in enumerate(row["when"]):
            problem = unary_error(test)
            if problem:
                yield DefinitionError(join_path(row_path, "when", n), f"test {test!r} does not compile: {problem}")
        yield from reason_errors(row["reason"], join_path(row_path, "reason"))
        if row["action"] == "tag" and not row.get("tag"):
            yield DefinitionError(row_path, "a tag row needs `tag`")
