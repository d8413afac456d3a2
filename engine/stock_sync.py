"""Stock sync: the quantities a channel may sell, pushed to its platform when they change.

A channel's ``stock_sync:`` section says where the platform takes inventory
(a URL, checked against the outbound address rules on every request), how the
request is authorised (a header whose value is an ``OMS_..._SECRET...``
environment variable), how many SKUs go in one request (``batch_size``), how
long changes gather before they are sent (``debounce``), the stock kept back
from the channel (``safety_stock``, per channel and per SKU), which SKUs the
platform lists (``skus``, with the platform's ids each item needs) and the
body of a batch: a ``template`` with the list of items at ``items_at``, one
item per SKU, mapped like an order payload (``path``, ``const``, ``expr``,
``table``, ``default``) from the SKU's figures.

What a channel may sell of a SKU is, over its warehouses, what is on hand
less what orders reserved and less what is kept for other channels there,
never below 0 in a warehouse; the quantity pushed is that less the safety
stock, never below 0.

This module is pure: it computes quantities and builds bodies and reads
answers; services/stock/channel_sync.py reads the stock and does the HTTP.
"""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path
from engine.expressions import suggest
from engine.outbound_config import SecretHeader, check_duration, parse_auth

DEFAULT_BATCH_SIZE = 100
DEFAULT_DEBOUNCE = "30s"
MIN_DEBOUNCE_SECONDS = 1.0
# What an item's paths read: one SKU's figures and its listing (its entry under `skus`).
ITEM_FIELDS = ("sku", "quantity", "available", "safety_stock", "listing")
# A platform's error message is cut to this length before it is stored and shown.
MAX_ERROR_CHARS = 200
# A key the JSON path writes after a dot; others (a SKU such as MUG-LOGO) in brackets, as the schema's errors do.
_PLAIN_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")


class ItemMapping(Protocol):
    """A parsed field mapping (engine/channels.py ``FieldMapping``): payload -> dict; raises ValueError."""

    def apply(self, payload: Any, prefix: str) -> dict[str, Any]: ...


class ItemError(ValueError):
    """One SKU's item cannot be built: its mapping failed, or left a field without a value."""


@dataclass(frozen=True)
class StockSync:
    url: str
    method: str
    auth: SecretHeader | None
    batch_size: int
    debounce_seconds: float
    safety_stock: int
    warehouses: tuple[str, ...]  # empty: every warehouse
    listings: Mapping[str, Mapping[str, Any]] | None  # SKU -> its listing; None: every SKU is listed
    template: Mapping[str, Any]
    items_at: str | None  # dotted path of the item list in the body; None: the body is the list
    item: ItemMapping
    item_fields: tuple[str, ...]  # the item's top-level fields: each must get a value
    errors_at: tuple[str, ...]  # paths of a 2xx answer where a non-empty value means the batch failed
    retry_at: tuple[str, ...] = ()  # ... or that it is to be tried again later (throttled)
    enabled: bool = True

    def lists(self, sku: str) -> bool:
        """Whether the platform lists ``sku`` (every SKU when the definition names none)."""
        return self.listings is None or sku in self.listings

    def safety_for(self, sku: str) -> int:
        own = ((self.listings or {}).get(sku) or {}).get("safety_stock")
        return self.safety_stock if own is None else int(own)

    def quantity(self, sku: str, available: int) -> int:
        """What is pushed: the channel's available stock less the safety stock, never below 0."""
        return max(0, available - self.safety_for(sku))

    def item_for(self, sku: str, available: int) -> dict[str, Any]:
        """The SKU's item of a batch; raises ItemError naming the item field."""
        figures = {
            "sku": sku,
            "quantity": self.quantity(sku, available),
            "available": available,
            "safety_stock": self.safety_for(sku),
            "listing": dict((self.listings or {}).get(sku) or {}),
        }
        try:
            item = self.item.apply(figures, "item")
        except ValueError as exc:
            raise ItemError(str(exc)) from None
        missing = [name for name in self.item_fields if name not in item]
        if missing:
            raise ItemError(f"item.{missing[0]}: no value for {sku} (what `body.item.{missing[0]}` reads is missing)")
        return item

    def body(self, items: list[dict[str, Any]]) -> Any:
        """The request body of a batch: the template with the items at ``items_at``."""
        if self.items_at is None:
            return items
        body: dict[str, Any] = copy.deepcopy(dict(self.template))
        place = body
        *parents, last = self.items_at.split(".")
        for part in parents:  # validation made sure the template has no other value on the way
            place = place.setdefault(part, {})
        place[last] = items
        return body

    def failure_in(self, answer: Any, paths: Iterable[str]) -> str | None:
        """What a 2xx answer says went wrong at ``paths`` (``response.errors`` or ``response.retry``),
        in words; None when nothing did."""
        for path in paths:
            for value in _values(answer, path.split(".")):
                if value not in (None, "", [], {}, False):
                    return f"{path}: {_error_text(value)}"
        return None


def channel_available(
    stock: Iterable[tuple[str, str, int]], holds: Mapping[tuple[str, str], int], warehouses: Iterable[str] = ()
) -> dict[str, int]:
    """What a channel may sell per SKU.

    ``stock``: (warehouse, sku, on hand less reserved) pieces (a lot-tracked SKU's lots are pieces too);
    ``holds``: stock kept for other channels per (warehouse, sku); ``warehouses``: the channel's (empty: all).
    A warehouse gives what is left there after the holds, never less than 0.
    """
    only = set(warehouses)
    per_place: dict[tuple[str, str], int] = defaultdict(int)
    for warehouse, sku, available in stock:
        if not only or warehouse in only:
            per_place[(warehouse, sku)] += available
    totals: dict[str, int] = defaultdict(int)
    for (warehouse, sku), available in per_place.items():
        totals[sku] += max(0, available - holds.get((warehouse, sku), 0))
    return dict(totals)


def _values(value: Any, parts: list[str]) -> Iterator[Any]:
    """Every value at a dotted path; ``*`` walks each element of a list."""
    if not parts:
        yield value
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(value, list):
            for element in value:
                yield from _values(element, rest)
    elif isinstance(value, dict) and head in value:
        yield from _values(value[head], rest)


def _error_text(value: Any) -> str:
    first = value[0] if isinstance(value, list) and value else value
    if isinstance(first, dict) and isinstance(first.get("message"), str):
        text = first["message"]
    elif isinstance(first, str):
        text = first
    else:
        text = json.dumps(first, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def parse_stock_sync(raw: Mapping[str, Any], item: ItemMapping) -> StockSync:
    """The ``stock_sync:`` section of a valid channel; ``item`` is its ``body.item`` mapping, parsed."""
    body = raw["body"]
    skus = raw.get("skus")
    return StockSync(
        url=raw["url"],
        method=raw.get("method", "POST"),
        auth=parse_auth(raw.get("auth")),
        batch_size=int(raw.get("batch_size", DEFAULT_BATCH_SIZE)),
        debounce_seconds=parse_duration(raw.get("debounce", DEFAULT_DEBOUNCE)),
        safety_stock=int(raw.get("safety_stock", 0)),
        warehouses=tuple(raw.get("warehouses") or ()),
        # YAML may read a SKU such as 1001 as a number: SKUs are text.
        listings={str(sku): dict(listing or {}) for sku, listing in skus.items()} if skus is not None else None,
        template=dict(body.get("template") or {}),
        items_at=body.get("items_at"),
        item=item,
        item_fields=tuple(body["item"]),
        errors_at=tuple((raw.get("response") or {}).get("errors") or ()),
        retry_at=tuple((raw.get("response") or {}).get("retry") or ()),
        enabled=bool(raw.get("enabled", True)),
    )


def check_stock_sync(raw: Mapping[str, Any], base: str = "$.stock_sync") -> Iterator[DefinitionError]:
    """Semantic checks of ``stock_sync:`` the schema cannot express, each at its path.

    The item's mapping leaves themselves (one of path, const or expr; expressions that compile)
    are checked by the channel's mapping checks.
    """
    yield from check_duration(
        raw,
        "debounce",
        base,
        lambda seconds: seconds >= MIN_DEBOUNCE_SECONDS,
        "gather changes for at least 1 second ('1s')",
    )
    body = raw.get("body") or {}
    if "items_at" in body:
        yield from _check_items_at(body.get("template") or {}, str(body["items_at"]), join_path(base, "body"))
    elif "template" in body:
        yield DefinitionError(
            join_path(base, "body.items_at"), "say where the items go in `template` (e.g. `update`), or leave it out"
        )
    leaves = dict(_item_leaves(body.get("item") or {}, join_path(base, "body.item")))
    reads = {where: leaf["path"] for where, leaf in leaves.items() if isinstance(leaf.get("path"), str)}
    for where, path in reads.items():
        root = path.split(".", 1)[0]
        if root not in ITEM_FIELDS:
            yield DefinitionError(
                join_path(where, "path"),
                f"an item reads {', '.join(ITEM_FIELDS[:-1])} or listing.<field>, not {path!r}"
                + suggest(root, ITEM_FIELDS),
            )
    # A leaf with a default needs nothing of a listing.
    yield from _check_listings(raw.get("skus"), {w: p for w, p in reads.items() if "default" not in leaves[w]}, base)


def _check_items_at(template: Mapping[str, Any], items_at: str, base: str) -> Iterator[DefinitionError]:
    place: Any = template
    walked: list[str] = []
    for part in items_at.split("."):
        if not isinstance(place, dict):
            yield DefinitionError(
                join_path(base, "items_at"),
                f"`template.{'.'.join(walked)}` is not an object: the items cannot go in it",
            )
            return
        walked.append(part)
        place = place.get(part)
    if place is not None:
        yield DefinitionError(
            join_path(base, "items_at"), f"`template.{items_at}` already has a value: the items go there; leave it out"
        )


def _item_leaves(item: Mapping[str, Any], base: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(definition path, leaf) for each leaf of the item, nested objects included."""
    for name, node in item.items():
        where = join_path(base, str(name))
        if not isinstance(node, dict):
            continue
        if {"path", "const", "expr", "each"} & set(node):
            yield where, node
        else:
            yield from _item_leaves(node, where)


def _check_listings(skus: Any, reads: Mapping[str, str], base: str) -> Iterator[DefinitionError]:
    listed = {where: path.split(".", 1)[1] for where, path in reads.items() if path.startswith("listing.")}
    if not listed:
        return
    if skus is None:
        where = next(iter(listed))
        yield DefinitionError(
            join_path(where, "path"), "reads a SKU's listing, but `stock_sync.skus` lists no SKUs: list them there"
        )
        return
    if not isinstance(skus, dict):
        return
    for sku, listing in skus.items():
        for where, field in listed.items():
            if not isinstance(listing, dict) or field not in listing:
                item_field = where.rsplit(".body.item.", 1)[-1]
                yield DefinitionError(
                    _key_path(join_path(base, "skus"), str(sku)),
                    f"has no `{field}`, which `body.item.{item_field}` reads (listing.{field})",
                )


def _key_path(base: str, key: str) -> str:
    """``base.key``, or ``base['key']`` for a key that is not a plain name."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{base}.{key}"
    return base + "['" + key.replace("\\", "\\\\").replace("'", "\\'") + "']"
