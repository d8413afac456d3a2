"""Every activity the worker registers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities import fulfilment, http, orders, returns, stock

ALL_ACTIVITIES: list[Callable[..., Any]] = [
    function
    for module in (orders, stock, fulfilment, returns, http)
    for function in vars(module).values()
    if callable(function) and hasattr(function, "__temporal_activity_definition")
]


def activity_name(function: Callable[..., Any]) -> str:
    return function.__temporal_activity_definition.name  # type: ignore[attr-defined]
