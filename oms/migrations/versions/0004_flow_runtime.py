"""One flow runtime: every definition an order or return uses is pinned on its row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Orders and returns taken before this revision get an empty pin set and keep
reading the live definitions, as they did when they were taken.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("orders", "returns"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("pins", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    for table in ("orders", "returns"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("pins")
