"""Allocation: which warehouse (and lot) ships which order line, and why.

An ``allocation`` definition composes filters and orderings the way analysts
think of them ("only warehouses serving the destination; nearest first; FEFO;
split only if each parcel is worth at least 20"). ``plan`` is pure: the
inventory activity passes in a snapshot of candidate stock and applies the
plan with conditional updates, planning again when it loses a race.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.errors import DefinitionError, join_path
from engine.geo import coordinates_of, haversine_km

ORDERINGS = ("nearest", "lowest_cost", "most_available", "prefer")
FILTERS = ("serves_destination", "channel_reserve", "min_shelf_life_days", "only_warehouses", "exclude_warehouses")
LOT_ORDERS = ("fefo", "fifo")
WHEN_SHORT = {"backorder": "out_of_stock", "cancel": "unallocatable"}


# ---- the definition ------------------------------------------------------


@dataclass(frozen=True)
class Shipping:
    """Shipping estimate of one parcel: base + per kg + per 1000 km."""

    base: float = 0.0
    per_kg: float = 0.0
    per_1000_km: float = 0.0

    def estimate(self, weight_kg: float, distance_km: float) -> float:
        return self.base + self.per_kg * weight_kg + self.per_1000_km * distance_km / 1000


@dataclass(frozen=True)
class Allocation:
    name: str
    title: str
    serves_destination: bool
    channel_reserve: bool
    min_shelf_life_days: int | None
    only_warehouses: tuple[str, ...]
    exclude_warehouses: tuple[str, ...]
    order_by: tuple[str, ...]
    prefer: tuple[str, ...]
    lots: str
    split_allowed: bool
    min_shipment_value: float
    max_shipments: int
    shipping: Shipping
    when_short: str

    @property
    def failure(self) -> str:
        """The failure type the reservation raises when the order cannot be allocated."""
        return WHEN_SHORT[self.when_short]


def _filter_items(raw: dict) -> Iterator[tuple[int, str, Any]]:
    for index, item in enumerate(raw.get("filters", [])):
        if isinstance(item, str):
            yield index, item, True
        else:
            ((key, value),) = item.items()
            yield index, key, value


def _ordering_items(raw: dict) -> Iterator[tuple[int, str, Any]]:
    for index, item in enumerate(raw.get("order_by", [])):
        if isinstance(item, str):
            yield index, item, None
        else:
            ((key, value),) = item.items()
            yield index, key, value


def parse_allocation(raw: dict) -> Allocation:
    filters = {key: value for _, key, value in _filter_items(raw)}
    orderings = list(_ordering_items(raw))
    split = raw.get("split", {})
    shipping = raw.get("shipping", {})
    return Allocation(
        name=raw["name"],
        title=raw.get("title", raw["name"]),
        serves_destination=bool(filters.get("serves_destination", False)),
        channel_reserve=bool(filters.get("channel_reserve", False)),
        min_shelf_life_days=filters.get("min_shelf_life_days"),
        only_warehouses=tuple(filters.get("only_warehouses", ())),
        exclude_warehouses=tuple(filters.get("exclude_warehouses", ())),
        order_by=tuple(key for _, key, _ in orderings),
        prefer=tuple(next((v for _, k, v in orderings if k == "prefer"), ())),
        lots=raw.get("lots", "fifo"),
        split_allowed=bool(split.get("allowed", False)),
        min_shipment_value=float(split.get("min_shipment_value", 0)),
        max_shipments=int(split.get("max_shipments", 2)),
        shipping=Shipping(
            float(shipping.get("base", 0)), float(shipping.get("per_kg", 0)), float(shipping.get("per_1000_km", 0))
        ),
        when_short=raw.get("when_short", "backorder"),
    )


def check_allocation(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks: a filter or ordering named twice, contradicting warehouse lists."""
    seen: dict[str, int] = {}
    for index, key, _ in _filter_items(raw):
        if key in seen:
            yield DefinitionError(
                join_path("$.filters", index), f"filter {key!r} is given twice (first at $.filters[{seen[key]}])"
            )
        seen[key] = index
    seen = {}
    for index, key, _ in _ordering_items(raw):
        if key in seen:
            yield DefinitionError(
                join_path("$.order_by", index), f"ordering {key!r} is given twice (first at $.order_by[{seen[key]}])"
            )
        seen[key] = index
    filters = {key: value for _, key, value in _filter_items(raw)}
    both = sorted(set(filters.get("only_warehouses", ())) & set(filters.get("exclude_warehouses", ())))
    if both:
        yield DefinitionError(
            "$.filters", f"warehouse{'s' if len(both) > 1 else ''} {', '.join(both)} both only-used and excluded"
        )
    split = raw.get("split", {})
    if not split.get("allowed", False) and any(k in split for k in ("min_shipment_value", "max_shipments")):
        yield DefinitionError("$.split.allowed", "min_shipment_value and max_shipments need 'allowed: true'")
    if any(key == "lowest_cost" for _, key, _ in _ordering_items(raw)) and "shipping" not in raw:
        yield DefinitionError("$.order_by", "'lowest_cost' needs a 'shipping' estimate (base, per_kg, per_1000_km)")


# ---- the snapshot the activity passes in ----------------------------------


@dataclass(frozen=True)
class Destination:
    country: str
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Line:
    line_no: int
    sku: str
    qty: int
    unit_price: float
    unit_weight_kg: float = 0.0


@dataclass(frozen=True)
class WarehouseInfo:
    code: str
    country: str
    latitude: float
    longitude: float
    handling_cost: float = 0.0
    serves: tuple[str, ...] = ()
    region: str = ""

    def ships_to(self, country: str) -> bool:
        served = self.serves or (self.country,)
        return "*" in served or country in served


@dataclass(frozen=True)
class StockPiece:
    """Available stock of one SKU in one warehouse (and lot, for lot-tracked SKUs)."""

    warehouse: str
    sku: str
    available: int
    lot: str | None = None
    received_at: datetime | None = None
    expires_on: date | None = None


@dataclass(frozen=True)
class Request:
    lines: tuple[Line, ...]
    destination: Destination
    channel: str
    today: date


# ---- the plan --------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    line_no: int
    sku: str
    warehouse: str
    qty: int
    lot: str | None = None


@dataclass(frozen=True)
class Parcel:
    warehouse: str
    value: float
    weight_kg: float
    distance_km: float | None
    cost: float


@dataclass(frozen=True)
class Shortage:
    line_no: int
    sku: str
    missing: int


@dataclass(frozen=True)
class Plan:
    pieces: tuple[Piece, ...]
    parcels: tuple[Parcel, ...]
    why: tuple[str, ...]
    shortages: tuple[Shortage, ...] = ()
    failure: str | None = None  # None when allocated; else the failure type to raise

    @property
    def allocated(self) -> bool:
        return self.failure is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pieces": [vars(p) for p in self.pieces],
            "parcels": [vars(p) for p in self.parcels],
            "why": list(self.why),
            "shortages": [vars(s) for s in self.shortages],
            "failure": self.failure,
        }


@dataclass
class _Candidate:
    info: WarehouseInfo
    distance_km: float | None
    pieces: dict[str, list[StockPiece]] = field(default_factory=dict)  # sku -> usable pieces, in lot order

    def usable(self, sku: str) -> int:
        return sum(p.available for p in self.pieces.get(sku, ()))


def _usable(piece: StockPiece, rules: Allocation, request: Request) -> int:
    if (
        rules.min_shelf_life_days is not None
        and piece.expires_on is not None
        and (piece.expires_on - request.today).days < rules.min_shelf_life_days
    ):
        return 0
    return max(0, piece.available)


def _keep_back(pieces: list[StockPiece], held: int) -> list[StockPiece]:
    """``pieces`` less ``held`` units kept for other channels, taken from the end of the lot order."""
    allowed = max(0, sum(p.available for p in pieces) - held)
    kept = []
    for piece in pieces:
        take = min(allowed, piece.available)
        if take:
            kept.append(StockPiece(piece.warehouse, piece.sku, take, piece.lot, piece.received_at, piece.expires_on))
            allowed -= take
    return kept


def _lot_key(rules: Allocation):
    far = date.max
    first = datetime.min

    def key(piece: StockPiece):
        received = piece.received_at or first
        if rules.lots == "fefo":
            return (piece.expires_on or far, received, piece.lot or "")
        return (received, piece.lot or "")

    return key


def _candidates(
    rules: Allocation,
    request: Request,
    warehouses: list[WarehouseInfo],
    stock: list[StockPiece],
    holds: dict[tuple[str, str], int],
) -> tuple[list[_Candidate], list[str]]:
    why: list[str] = []
    where = coordinates_of(request.destination.country, request.destination.latitude, request.destination.longitude)
    skus = {line.sku for line in request.lines}
    candidates = []
    for info in sorted(warehouses, key=lambda w: w.code):
        if rules.only_warehouses and info.code not in rules.only_warehouses:
            continue
        if info.code in rules.exclude_warehouses:
            why.append(f"{info.code} excluded by the definition")
            continue
        if rules.serves_destination and not info.ships_to(request.destination.country):
            why.append(f"{info.code} does not serve {request.destination.country or 'the destination'}")
            continue
        distance = haversine_km((info.latitude, info.longitude), where) if where else None
        candidates.append(_Candidate(info, distance))
    by_code = {c.info.code: c for c in candidates}
    for piece in sorted(stock, key=_lot_key(rules)):
        candidate = by_code.get(piece.warehouse)
        if candidate is None or piece.sku not in skus:
            continue
        usable = _usable(piece, rules, request)
        if usable > 0:
            candidate.pieces.setdefault(piece.sku, []).append(
                StockPiece(piece.warehouse, piece.sku, usable, piece.lot, piece.received_at, piece.expires_on)
            )
    if rules.channel_reserve:
        for (code, sku), held in sorted(holds.items()):
            candidate = by_code.get(code)
            if candidate is not None and held > 0 and sku in candidate.pieces:
                candidate.pieces[sku] = _keep_back(candidate.pieces[sku], held)
                why.append(f"{code}: {held} x {sku} kept for other channels")
    return candidates, why


def _order_weight(lines: tuple[Line, ...]) -> float:
    return sum(line.unit_weight_kg * line.qty for line in lines)


def _cost(rules: Allocation, candidate: _Candidate, weight: float) -> float:
    return round(candidate.info.handling_cost + rules.shipping.estimate(weight, candidate.distance_km or 0), 2)


def _ranking(rules: Allocation, request: Request, candidates: list[_Candidate]) -> list[_Candidate]:
    weight = _order_weight(request.lines)

    def key(candidate: _Candidate) -> tuple:
        parts: list[Any] = []
        for ordering in rules.order_by:
            if ordering == "nearest":
                parts.append(candidate.distance_km if candidate.distance_km is not None else float("inf"))
            elif ordering == "lowest_cost":
                parts.append(_cost(rules, candidate, weight))
            elif ordering == "most_available":
                parts.append(-sum(min(line.qty, candidate.usable(line.sku)) for line in request.lines))
            elif ordering == "prefer":
                code = candidate.info.code
                parts.append(rules.prefer.index(code) if code in rules.prefer else len(rules.prefer))
        return (*parts, candidate.info.code)

    return sorted(candidates, key=key)


def _describe(rules: Allocation, candidate: _Candidate, weight: float) -> str:
    facts = []
    for ordering in rules.order_by:
        if ordering == "nearest":
            facts.append("distance unknown" if candidate.distance_km is None else f"{candidate.distance_km:,.0f} km")
        elif ordering == "lowest_cost":
            facts.append(f"cost {_cost(rules, candidate, weight):.2f}")
        elif ordering == "prefer":
            facts.append("preferred" if candidate.info.code in rules.prefer else "not preferred")
    return f"{candidate.info.code} ({', '.join(facts)})" if facts else candidate.info.code


def _take(candidate: _Candidate, line: Line, qty: int) -> list[Piece]:
    """``qty`` of ``line`` from the candidate's pieces, in lot order (FEFO or FIFO)."""
    pieces, left = [], qty
    for stock in candidate.pieces.get(line.sku, ()):
        if left == 0:
            break
        take = min(left, stock.available)
        if take:
            pieces.append(Piece(line.line_no, line.sku, candidate.info.code, take, stock.lot))
            left -= take
    return pieces


def _parcels(
    rules: Allocation, request: Request, pieces: list[Piece], by_code: dict[str, _Candidate]
) -> tuple[Parcel, ...]:
    lines = {line.line_no: line for line in request.lines}
    parcels = []
    for code in dict.fromkeys(p.warehouse for p in pieces):
        mine = [p for p in pieces if p.warehouse == code]
        value = round(sum(lines[p.line_no].unit_price * p.qty for p in mine), 2)
        weight = round(sum(lines[p.line_no].unit_weight_kg * p.qty for p in mine), 3)
        candidate = by_code[code]
        distance = None if candidate.distance_km is None else round(candidate.distance_km, 1)
        parcels.append(Parcel(code, value, weight, distance, _cost(rules, candidate, weight)))
    return tuple(parcels)


def _ordering_words(rules: Allocation) -> str:
    words = {
        "nearest": "nearest",
        "lowest_cost": "lowest cost",
        "most_available": "most stock",
        "prefer": f"preference {'/'.join(rules.prefer)}",
    }
    return ", then ".join(words[o] for o in rules.order_by) or "warehouse code"


def plan(
    rules: Allocation,
    request: Request,
    warehouses: list[WarehouseInfo],
    stock: list[StockPiece],
    holds: dict[tuple[str, str], int] | None = None,
) -> Plan:
    """Decide the allocation of every line of ``request``; pure, deterministic.

    ``holds`` is the channel-reserved stock of *other* channels per (warehouse, sku).
    """
    candidates, why = _candidates(rules, request, warehouses, stock, holds or {})
    ranked = _ranking(rules, request, candidates)
    by_code = {c.info.code: c for c in ranked}
    weight = _order_weight(request.lines)
    any_lots = any(p.lot for c in ranked for ps in c.pieces.values() for p in ps)
    lot_words = f"; lots {rules.lots.upper()}" if any_lots else ""

    whole = [c for c in ranked if all(c.usable(line.sku) >= line.qty for line in request.lines)]
    if whole:
        chosen = whole[0]
        pieces = [piece for line in request.lines for piece in _take(chosen, line, line.qty)]
        others = ", ".join(_describe(rules, c, weight) for c in whole[1:])
        why.append(
            f"{_describe(rules, chosen, weight)} chosen by {_ordering_words(rules)} among warehouses that can ship "
            f"the whole order" + (f"; also possible: {others}" if others else "; no other warehouse could") + lot_words
        )
        return Plan(tuple(pieces), _parcels(rules, request, pieces, by_code), tuple(why))

    if not rules.split_allowed:
        why.append("no single warehouse can ship the whole order and splitting is not allowed")
        return _short(rules, request, ranked, why)

    pieces = []
    for line in request.lines:
        left = line.qty
        for candidate in ranked:
            take = min(left, candidate.usable(line.sku))
            if take:
                pieces.extend(_take(candidate, line, take))
                left -= take
            if left == 0:
                break
    shortages = _shortages(request, pieces)
    if shortages:
        why.append(
            "not enough stock even when split across " + ", ".join(c.info.code for c in ranked)
            if ranked
            else "no warehouse passes the filters"
        )
        return _short(rules, request, ranked, why)
    parcels = _parcels(rules, request, pieces, by_code)
    if len(parcels) > rules.max_shipments:
        why.append(f"a split needs {len(parcels)} shipments; the most allowed is {rules.max_shipments}")
        return _short(rules, request, ranked, why)
    small = [p for p in parcels if p.value < rules.min_shipment_value]
    if small:
        why.extend(
            f"split refused: the shipment from {p.warehouse} would be worth {p.value:.2f}, "
            f"below the minimum {rules.min_shipment_value:.2f}"
            for p in small
        )
        return _short(rules, request, ranked, why)
    why.append(
        "no single warehouse can ship the whole order; split into "
        + " + ".join(f"{p.warehouse} ({p.value:.2f})" for p in parcels)
        + f" by {_ordering_words(rules)}, each shipment worth at least {rules.min_shipment_value:.2f}"
        + lot_words
    )
    return Plan(tuple(pieces), parcels, tuple(why))


def _shortages(request: Request, pieces: list[Piece]) -> tuple[Shortage, ...]:
    got: dict[int, int] = {}
    for piece in pieces:
        got[piece.line_no] = got.get(piece.line_no, 0) + piece.qty
    return tuple(
        Shortage(line.line_no, line.sku, line.qty - got.get(line.line_no, 0))
        for line in request.lines
        if got.get(line.line_no, 0) < line.qty
    )


def _short(rules: Allocation, request: Request, ranked: list[_Candidate], why: list[str]) -> Plan:
    shortages = []
    for line in request.lines:
        usable = sum(c.usable(line.sku) for c in ranked)
        best = max((c.usable(line.sku) for c in ranked), default=0)
        if best < line.qty:
            # What one warehouse lacks: a receipt of this SKU may make the order allocatable.
            shortages.append(Shortage(line.line_no, line.sku, line.qty - best))
            why.append(
                f"line {line.line_no}: {line.qty} x {line.sku} wanted, {usable} usable in total, "
                f"at most {best} in one warehouse"
            )
    action = "backorder: wait for stock" if rules.when_short == "backorder" else "cancel"
    why.append(f"{action} (when_short: {rules.when_short})")
    return Plan((), (), tuple(why), tuple(shortages), rules.failure)
