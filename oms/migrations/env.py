"""Alembic environment: migrates the database the settings name (see oms/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from oms import models  # noqa: F401  (registers the tables)

config = context.config
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot alter most of a table in place: batch mode copies it.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
