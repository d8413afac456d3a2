"""Values at dotted paths in a payload another system sent (``order.lines.0.sku``), shared by channel
mappings, pull connectors and the HTTP adapters."""

from __future__ import annotations

from typing import Any

MISSING = object()  # no value at the path (unlike a value that is null)


def dig(payload: Any, path: str) -> Any:
    value = payload
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value
