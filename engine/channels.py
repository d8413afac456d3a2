"""Channels: where orders come from, and how their payloads map to the canonical order.

A mapping is data: each canonical field names where its value is in the
channel's payload (a dotted path), a constant, or a zen expression over the
payload (``expr:``), with optional unit conversions (``divide: 100`` for
cents) and code tables (``table:``). A list field maps each element of a
payload list (``each:`` with ``map:``); inside it, paths and expressions see
the element. How the channel's webhooks are signed is ``webhook:``
(engine/channel_webhooks.py).

A payload that does not fit raises ``MappingError`` naming the canonical
field and where in the payload the value was looked for
(``lines[1].price: items[1].unitPriceCents must be a number ...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.channel_pulls import Pull, check_pull, parse_pull
from engine.channel_webhooks import DEFAULT_WEBHOOK, Webhook, check_webhook, parse_webhook
from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path
from engine.expressions import Expression, ExpressionError, compile_error, compile_expression, to_text
from engine.payloads import MISSING, dig
from engine.stock_sync import StockSync, check_stock_sync, parse_stock_sync

CHANNEL_TYPES = ("web_shop", "marketplace", "store_pos", "phone", "b2b_portal")
# zen computes in decimals and hands back floats: 2.0 is the quantity 2. Past 2**53 a float is no exact integer.
_EXACT_FLOAT = 2**53


class MappingError(ValueError):
    """The payload does not have the shape the mapping expects."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _at(where: str, path: str) -> str:
    """A payload path below ``where`` (the list element a mapping is applied to), e.g. ``items[0].sku``."""
    return f"{where}.{path}" if where else path


_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# A payload path an expression reads: not a function call, not a closure's `#.x`, not a member after `]`.
_NAME = re.compile(r"(?<![\w.#$\]])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?!\s*\(|\w)")
_WORDS = frozenset({"true", "false", "null", "and", "or", "not", "in"})


def read_paths(text: str) -> tuple[str, ...]:
    """The payload paths an expression reads (``billing.first_name``), in order, each once."""
    names = _NAME.findall(_STRING.sub("''", text))
    return tuple(dict.fromkeys(n for n in names if n not in _WORDS))


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_FLOAT:
        return int(value)
    return value


@dataclass(frozen=True)
class Leaf:
    path: str | None
    const: Any
    divide: float | None
    multiply: float | None
    table: Mapping[str, Any] | None
    default: Any
    expr: Expression | None = None

    def apply(self, payload: Any, field: str, where: str = "") -> Any:
        if self.expr is not None:
            value = self._evaluate(payload, field, where)
        else:
            value = self.const if self.path is None else dig(payload, self.path)
        if value is MISSING or value is None or (isinstance(value, str) and not value.strip()):
            return MISSING if self.default is None else self.default
        source, is_, be = self._source(where)
        if self.table is not None:
            key = to_text(value) if self.expr is not None else str(value)
            if key not in self.table:
                known = ", ".join(map(str, self.table))
                raise MappingError(field, f"{source} {is_} {value!r}, not one of {known}")
            value = self.table[key]
        if self.divide is not None or self.multiply is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise MappingError(field, f"{source} must {be} a number to convert, not {value!r}")
            if self.divide is not None:
                value = round(value / self.divide, 6)
            if self.multiply is not None:
                value = round(value * self.multiply, 6)
        return value

    def _source(self, where: str) -> tuple[str, str, str]:
        """Where the value came from, in words, with the verbs that go with it."""
        if self.expr is None:
            return _at(where, self.path or ""), "is", "be"
        return f"expression {self.expr.text!r}" + (f" at {where}" if where else ""), "gives", "give"

    def _evaluate(self, payload: Any, field: str, where: str) -> Any:
        assert self.expr is not None
        try:
            return _plain(self.expr.evaluate(payload if isinstance(payload, dict) else {}))
        except ExpressionError as exc:
            absent = [_at(where, p) for p in read_paths(self.expr.text) if dig(payload, p) in (MISSING, None)]
            hint = f" ({', '.join(absent)} {'is' if len(absent) == 1 else 'are'} missing)" if absent else ""
            raise MappingError(
                field, f"expression {self.expr.text!r} failed at {where or 'the payload'}: {exc.detail}{hint}"
            ) from exc


@dataclass(frozen=True)
class Each:
    path: str
    fields: Mapping[str, Any]

    def apply(self, payload: Any, field: str, where: str = "") -> Any:
        items = dig(payload, self.path)
        if items is MISSING or items is None:
            return MISSING
        if not isinstance(items, list):
            raise MappingError(field, f"{_at(where, self.path)} must be a list")
        return [
            _apply_fields(self.fields, item, f"{field}[{i}]", f"{_at(where, self.path)}[{i}]")
            for i, item in enumerate(items)
        ]


def _apply_fields(fields: Mapping[str, Any], payload: Any, prefix: str, where: str = "") -> dict:
    out = {}
    for name, mapper in fields.items():
        field = f"{prefix}.{name}" if prefix else name
        if isinstance(mapper, dict):
            value = _apply_fields(mapper, payload, field, where)
        else:
            value = mapper.apply(payload, field, where)
        if value is not MISSING and value != {}:
            out[name] = value
    return out


@dataclass(frozen=True)
class FieldMapping:
    """Fields mapped from any payload the way ``mapping:`` maps an order (a stock sync's item)."""

    fields: Mapping[str, Any]

    def apply(self, payload: Any, prefix: str) -> dict[str, Any]:
        """The mapped fields; raises MappingError naming the field (``<prefix>.<name>``)."""
        return _apply_fields(self.fields, payload, prefix)


# What a channel's integration may tell about its own orders when its definition does not say.
DEFAULT_CHANNEL_EVENTS = ("cancel_requested",)


@dataclass(frozen=True)
class Channel:
    name: str
    title: str
    type: str
    flow: str
    secret_env: str | None
    callback_url: str | None
    callback_expiry_seconds: float
    mapping: Mapping[str, Any] | None
    # Event types the channel's API keys may send to its orders (never payment_received).
    events: tuple[str, ...] = DEFAULT_CHANNEL_EVENTS
    # How its webhooks are signed and which of their event types carry a new order.
    webhook: Webhook = field(default=DEFAULT_WEBHOOK)
    # How its orders are polled from the platform's API, for platforms that do not push (engine/channel_pulls.py).
    pull: Pull | None = None
    # How the quantities it may sell are pushed to its platform (engine/stock_sync.py).
    stock_sync: StockSync | None = None
    # The language its customers are written to when an order does not say (customer.language); None: English.
    language: str | None = None

    def to_order(self, payload: Any) -> dict:
        """The canonical order for a native payload; raises MappingError."""
        if not isinstance(payload, dict):
            raise MappingError("", "the payload must be a JSON object")
        order = dict(payload) if self.mapping is None else _apply_fields(self.mapping, payload, "")
        order["channel"] = self.name
        return order


def _parse_mapper(raw: dict) -> Any:
    if "each" in raw:
        return Each(raw["each"], {k: _parse_mapper(v) for k, v in raw["map"].items()})
    if "path" in raw or "const" in raw or "expr" in raw:
        # YAML reads `{1: cash}` with number keys; payload values are compared as text.
        table = {str(k): v for k, v in raw["table"].items()} if "table" in raw else None
        expr = compile_expression(raw["expr"]) if "expr" in raw else None
        return Leaf(
            raw.get("path"), raw.get("const"), raw.get("divide"), raw.get("multiply"), table, raw.get("default"), expr
        )
    return {k: _parse_mapper(v) for k, v in raw.items()}


def parse_channel(raw: dict) -> Channel:
    return Channel(
        name=raw["name"],
        title=raw.get("title", raw["name"]),
        type=raw["type"],
        flow=raw.get("flow", "order"),
        secret_env=raw.get("secret_env"),
        callback_url=raw.get("callback_url"),
        callback_expiry_seconds=parse_duration(raw.get("callback_expiry", "24h")),
        mapping=_parse_mapper(raw["mapping"]) if "mapping" in raw else None,
        events=tuple(raw.get("events", DEFAULT_CHANNEL_EVENTS)),
        webhook=parse_webhook(raw.get("webhook")),
        pull=parse_pull(raw.get("pull")),
        stock_sync=_parse_stock_sync(raw.get("stock_sync")),
        language=raw.get("language"),
    )


def _parse_stock_sync(raw: dict | None) -> StockSync | None:
    if raw is None:
        return None
    item = FieldMapping({k: _parse_mapper(v) for k, v in raw["body"]["item"].items()})
    return parse_stock_sync(raw, item)


def check_channel(raw: dict) -> Iterator[DefinitionError]:
    if "callback_expiry" in raw:
        try:
            parse_duration(raw["callback_expiry"])
        except ValueError as exc:
            yield DefinitionError("$.callback_expiry", str(exc))
    if "mapping" in raw:
        yield from _check_mapping(raw["mapping"], "$.mapping")
    if "webhook" in raw:
        yield from check_webhook(raw["webhook"])
    if "pull" in raw:
        yield from check_pull(raw["pull"])
    if "stock_sync" in raw:
        yield from check_stock_sync(raw["stock_sync"])
        item = (raw["stock_sync"].get("body") or {}).get("item") or {}
        for name, leaf in item.items():
            yield from _check_mapping(leaf, join_path("$.stock_sync.body.item", name))


_SOURCES = ("path", "const", "expr")


def _check_mapping(raw: dict, path: str) -> Iterator[DefinitionError]:
    if "each" in raw:
        yield from _check_mapping(raw["map"], join_path(path, "map"))
        return
    given = [key for key in _SOURCES if key in raw]
    if given:
        if len(given) > 1:
            yield DefinitionError(path, "give one of `path`, `const` or `expr`, not " + " and ".join(given))
        if "const" in raw and ("divide" in raw or "multiply" in raw or "table" in raw):
            yield DefinitionError(path, "a constant needs no conversion")
        for key in ("divide", "multiply"):
            if raw.get(key) == 0:
                yield DefinitionError(join_path(path, key), "must not be zero")
        if "expr" in raw and (problem := compile_error(raw["expr"])):
            yield DefinitionError(join_path(path, "expr"), f"expression does not compile: {problem}")
        return
    for name, child in raw.items():
        if isinstance(child, dict):
            yield from _check_mapping(child, join_path(path, name))
