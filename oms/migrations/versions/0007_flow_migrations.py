"""Flow migrations: each move of waiting instances between flow versions, with its plan and progress.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "flow_migrations",
        sa.Column("id", text, nullable=False),
        sa.Column("flow", text, nullable=False),
        sa.Column("source", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("where", sa.JSON(), nullable=False),
        sa.Column("by", text, nullable=False),
        sa.Column("status", text, nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("already", sa.Integer(), nullable=False),
        sa.Column("stayed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("error", text, nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_flow_migrations_flow", "flow_migrations", ["flow"])
    op.create_index("ix_flow_migrations_created_at", "flow_migrations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_flow_migrations_created_at", table_name="flow_migrations")
    op.drop_index("ix_flow_migrations_flow", table_name="flow_migrations")
    op.drop_table("flow_migrations")
