"""Channels: where orders come from, and how their payloads map to the canonical order.

A mapping is data: each canonical field names where its value is in the
channel's payload (a dotted path), or a constant, with optional unit
conversions (``divide: 100`` for cents) and code tables (``table:``). A list
field maps each element of a payload list (``each:`` with ``map:``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path

CHANNEL_TYPES = ("web_shop", "marketplace", "store_pos", "phone", "b2b_portal")
_MISSING = object()


class MappingError(ValueError):
    """The payload does not have the shape the mapping expects."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _dig(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


@dataclass(frozen=True)
class Leaf:
    path: str | None
    const: Any
    divide: float | None
    multiply: float | None
    table: Mapping[str, Any] | None
    default: Any

    def apply(self, payload: Any, field: str) -> Any:
        value = self.const if self.path is None else _dig(payload, self.path)
        if value is _MISSING or value is None or (isinstance(value, str) and not value.strip()):
            return _MISSING if self.default is None else self.default
        if self.table is not None:
            key = str(value)
            if key not in self.table:
                known = ", ".join(map(str, self.table))
                raise MappingError(field, f"{self.path} is {value!r}, not one of {known}")
            value = self.table[key]
        if self.divide is not None or self.multiply is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise MappingError(field, f"{self.path} must be a number to convert, not {value!r}")
            if self.divide is not None:
                value = round(value / self.divide, 6)
            if self.multiply is not None:
                value = round(value * self.multiply, 6)
        return value


@dataclass(frozen=True)
class Each:
    path: str
    fields: Mapping[str, Any]

    def apply(self, payload: Any, field: str) -> Any:
        items = _dig(payload, self.path)
        if items is _MISSING or items is None:
            return _MISSING
        if not isinstance(items, list):
            raise MappingError(field, f"{self.path} must be a list")
        return [_apply_fields(self.fields, item, f"{field}[{i}]") for i, item in enumerate(items)]


def _apply_fields(fields: Mapping[str, Any], payload: Any, prefix: str) -> dict:
    out = {}
    for name, mapper in fields.items():
        field = f"{prefix}.{name}" if prefix else name
        value = _apply_fields(mapper, payload, field) if isinstance(mapper, dict) else mapper.apply(payload, field)
        if value is not _MISSING and value != {}:
            out[name] = value
    return out


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
    if "path" in raw or "const" in raw:
        # YAML reads `{1: cash}` with number keys; payload values are compared as text.
        table = {str(k): v for k, v in raw["table"].items()} if "table" in raw else None
        return Leaf(
            raw.get("path"), raw.get("const"), raw.get("divide"), raw.get("multiply"), table, raw.get("default")
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
    )


def check_channel(raw: dict) -> Iterator[DefinitionError]:
    if "callback_expiry" in raw:
        try:
            parse_duration(raw["callback_expiry"])
        except ValueError as exc:
            yield DefinitionError("$.callback_expiry", str(exc))
    if "mapping" in raw:
        yield from _check_mapping(raw["mapping"], "$.mapping")


def _check_mapping(raw: dict, path: str) -> Iterator[DefinitionError]:
    if "each" in raw:
        yield from _check_mapping(raw["map"], join_path(path, "map"))
        return
    if "path" in raw or "const" in raw:
        if "path" in raw and "const" in raw:
            yield DefinitionError(path, "give either `path` or `const`, not both")
        if "const" in raw and ("divide" in raw or "multiply" in raw or "table" in raw):
            yield DefinitionError(path, "a constant needs no conversion")
        for key in ("divide", "multiply"):
            if raw.get(key) == 0:
                yield DefinitionError(join_path(path, key), "must not be zero")
        return
    for name, child in raw.items():
        if isinstance(child, dict):
            yield from _check_mapping(child, join_path(path, name))
