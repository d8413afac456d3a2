"""Stock sync: the channels whose stock is pushed, and per channel and SKU what was pushed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-24

A stock change marks its SKUs in ``stock_sync_items`` for every channel listed
in ``stock_sync_channels``, in the transaction of the change (one statement);
each channel's ``StockSync`` workflow pushes the marked SKUs in batches and
stores the quantity pushed, when, and any failure. Two new tables: nothing is
rewritten, so the upgrade costs the same at any size.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    when = sqlmodel.sql.sqltypes.UTCDateTime()
    op.create_table(
        "stock_sync_channels",
        sa.Column("channel", text, nullable=False),
        sa.Column("sha256", text, nullable=False),
        sa.Column("since", when, nullable=False),
        sa.Column("resync_by", text, nullable=True),
        sa.Column("resync_at", when, nullable=True),
        sa.PrimaryKeyConstraint("channel"),
    )
    op.create_table(
        "stock_sync_items",
        sa.Column("channel", text, nullable=False),
        sa.Column("sku", text, nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("dirty_since", when, nullable=True),
        sa.Column("pushed_qty", sa.Integer(), nullable=True),
        sa.Column("pushed_at", when, nullable=True),
        sa.Column("attempted_qty", sa.Integer(), nullable=True),
        sa.Column("attempted_at", when, nullable=True),
        sa.Column("error", text, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "sku"),
    )
    op.create_index("ix_stock_sync_items_channel_dirty", "stock_sync_items", ["channel", "dirty_since"])


def downgrade() -> None:
    op.drop_index("ix_stock_sync_items_channel_dirty", table_name="stock_sync_items")
    op.drop_table("stock_sync_items")
    op.drop_table("stock_sync_channels")
