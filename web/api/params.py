"""Bounds shared by query, path and body parameters, so no number reaches the database unchecked.

A huge integer in a query (offset=10**20) used to reach SQLite or PostgreSQL
and come back as a 500; each parameter now says its range and FastAPI answers
422 beyond it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# The largest value of an integer column on both databases (PostgreSQL `integer`).
MAX_ID = 2**31 - 1
MAX_OFFSET = 1_000_000
MAX_MINUTES = 10 * 366 * 24 * 60
MAX_DAYS = 10 * 366

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
Version = Annotated[int, Path(ge=1, le=MAX_ID)]
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]
