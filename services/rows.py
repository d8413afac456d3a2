"""Rows the caller knows exist, fetched by primary key; a clear failure when one is not there.

A workflow's activity reads the rows its flow stored (the order, the return,
the task it opened) and the rows their foreign keys name. ``session.get`` may
answer ``None`` for any key; ``required`` says once that here it must not.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import Session, SQLModel

from services.errors import NotFound

Row = TypeVar("Row", bound=SQLModel)


def required(session: Session, model: type[Row], key: Any) -> Row:
    """The ``model`` row with primary key ``key``; ``NotFound`` (code ``<model>_missing``) if there is none.

    Retryable, like any failure before this helper existed: an activity keeps
    trying (the row may not be committed yet) instead of failing its flow's step.
    """
    row = session.get(model, key)
    if row is None:
        name = model.__name__.lower()
        raise NotFound(f"{name}_missing", f"{name} {key} is not stored", retryable=True)
    return row
