"""Timeline lines keep their wording: the message's key and values beside its English text.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-24

A line's ``message`` stays the English the API returns; ``message_key`` (the
wording, a gettext message id) and ``message_values`` let a page say the line in
the reader's language (services/timeline_words.py). Lines stored before have
neither and keep showing their text. Two nullable columns per table: no row is
rewritten, so the upgrade costs the same at any number of lines.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("order_events", "return_events")


def upgrade() -> None:
    # ADD COLUMN of a nullable column, also on SQLite: no batch copy of the (large) timeline tables.
    for table in TABLES:
        op.add_column(table, sa.Column("message_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        op.add_column(table, sa.Column("message_values", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("message_values")
            batch_op.drop_column("message_key")
