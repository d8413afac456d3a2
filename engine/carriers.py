"""Carrier choice: which carrier ships a parcel, at which price, by a decision table.

```yaml
kind: carriers
name: default
regions: {eu: [DE, FR], uk: [GB]}            # destination region of a parcel by country
carriers:
  - {name: sim_post, adapter: simulated, title: Simulated Post}
  - name: dhl                                 # or a carrier's API, configured as data
    adapter: {type: http, base_url: https://api.goshippo.com, create: {...}, track: {...}}
table:
  inputs: [shipment.weight_kg, shipment.region, shipment.service_level]
  rows:                                       # first matching row wins
    - when: ["<= 2", "'eu'", "'standard'"]
      carrier: sim_post
      service: parcel
      price: "3.9 + shipment.weight_kg * 0.5" # a number or an expression
```

The table compiles to zen-engine's JDM with ``engine.tables.to_jdm``, the
same compiler the audit rules use. A carrier's ``adapter`` is ``simulated``
(built in) or an ``http`` section (engine/http_adapters.py) that books,
voids and tracks parcels through the carrier's API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import DefinitionError, join_path
from engine.expressions import (
    Expression,
    ExpressionError,
    compile_error,
    compile_expression,
    suggest,
)
from engine.http_adapters import CARRIER_SPECS, HttpAdapter, check_adapter, parse_adapter
from engine.tables import _ENGINE, _first_line_message, to_jdm, unary_error

# Adapters built into the platform, by name (services/fulfilment/carriers.py); any other is an `http` section.
ADAPTERS = ("simulated",)


@dataclass(frozen=True)
class Carrier:
    name: str
    adapter: str  # simulated, or http (then `http` says how its API is called)
    title: str
    http: HttpAdapter | None = None


@dataclass(frozen=True)
class Choice:
    """The carrier and price for one parcel, with the table row that chose it."""

    carrier: Carrier
    service: str
    price: float
    row: int
    region: str


@dataclass(frozen=True)
class CarrierRow:
    carrier: str
    service: str
    price: Expression


class NoCarrier(ValueError):
    """No row of the table matches the parcel."""


@dataclass(frozen=True)
class CarrierTable:
    name: str
    regions: Mapping[str, str]  # country -> region
    carriers: Mapping[str, Carrier]
    rows: tuple[CarrierRow, ...]
    inputs: tuple[Expression, ...]
    jdm: str
    _decision: Any

    def region_of(self, country: str) -> str:
        return self.regions.get(country, "other")

    def choose(self, shipment: dict[str, Any]) -> Choice:
        """The first matching row for ``shipment`` (weight_kg, country, service_level, ...)."""
        shipment = {**shipment, "region": self.region_of(str(shipment.get("country") or ""))}
        context = {"shipment": shipment}
        try:
            result = self._decision.evaluate(context)["result"]
        except RuntimeError as exc:
            raise ExpressionError(f"carrier table failed: {_first_line_message(str(exc))}") from exc
        if "row" not in result:
            for expression in self.inputs:
                expression.evaluate(context)
            raise NoCarrier(
                f"no carrier row of {self.name!r} matches a parcel of {shipment.get('weight_kg')} kg "
                f"to {shipment.get('country')} ({shipment['region']}), service {shipment.get('service_level')!r}"
            )
        index = int(result["row"])
        row = self.rows[index]
        price = row.price.evaluate(context)
        if not isinstance(price, (int, float)) or isinstance(price, bool):
            raise ExpressionError(f"price of row {index} gave {price!r}, not a number")
        return Choice(self.carriers[row.carrier], row.service, round(float(price), 2), index, shipment["region"])


def _price(value: Any) -> Expression:
    return compile_expression(str(value))


def _carrier(raw: dict, index: int) -> Carrier:
    adapter, http = parse_adapter(raw["adapter"], join_path("$.carriers", index, "adapter"), CARRIER_SPECS)
    return Carrier(raw["name"], adapter, raw.get("title", raw["name"]), http)


def parse_carriers(raw: dict) -> CarrierTable:
    """Build the typed carrier table from a definition that passed validation."""
    text = json.dumps(to_jdm(raw["table"], raw["name"]))
    return CarrierTable(
        name=raw["name"],
        regions={country: region for region, countries in raw.get("regions", {}).items() for country in countries},
        carriers={c["name"]: _carrier(c, index) for index, c in enumerate(raw["carriers"])},
        rows=tuple(
            CarrierRow(r["carrier"], r.get("service", "standard"), _price(r["price"])) for r in raw["table"]["rows"]
        ),
        inputs=tuple(compile_expression(i) for i in raw["table"]["inputs"]),
        jdm=text,
        _decision=_ENGINE.create_decision(text),
    )


def check_carriers(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks: adapters, carrier names in rows, tests and prices that compile."""
    names: set[str] = set()
    for index, carrier in enumerate(raw["carriers"]):
        path = join_path("$.carriers", index)
        if carrier["name"] in names:
            yield DefinitionError(join_path(path, "name"), f"duplicate carrier {carrier['name']!r}")
        names.add(carrier["name"])
        yield from check_adapter(carrier["adapter"], join_path(path, "adapter"), CARRIER_SPECS, ("create",), ADAPTERS)
    seen: dict[str, str] = {}
    for region, countries in raw.get("regions", {}).items():
        for index, country in enumerate(countries):
            if country in seen:
                yield DefinitionError(
                    join_path("$.regions", region, index), f"{country} is in region {seen[country]!r} already"
                )
            seen[country] = region
    table = raw["table"]
    width = len(table["inputs"])
    for n, field in enumerate(table["inputs"]):
        problem = compile_error(field)
        if problem:
            yield DefinitionError(join_path("$.table.inputs", n), f"input does not compile: {problem}")
    for index, row in enumerate(table["rows"]):
        path = join_path("$.table.rows", index)
        if len(row["when"]) != width:
            yield DefinitionError(join_path(path, "when"), f"has {len(row['when'])} tests for {width} inputs")
        else:
            for n, test in enumerate(row["when"]):
                problem = unary_error(test)
                if problem:
                    yield DefinitionError(join_path(path, "when", n), f"test {test!r} does not compile: {problem}")
        if row["carrier"] not in names:
            yield DefinitionError(
                join_path(path, "carrier"), f"unknown carrier {row['carrier']!r}{suggest(row['carrier'], names)}"
            )
        problem = compile_error(str(row["price"]))
        if problem:
            yield DefinitionError(join_path(path, "price"), f"price does not compile: {problem}")
