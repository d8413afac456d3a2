"""Pull connectors: each channel's cursor and its last run's outcome.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-23

A channel with a ``pull:`` section is polled by the ``ChannelPull`` workflow
on a Temporal schedule; the cursor one run hands to the next is stored here
(not in the schedule's input, which a run cannot change) once a run has taken
every page, so a failed run repeats its pages (intake is idempotent) instead
of skipping them.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "channel_pulls",
        sa.Column("channel", text, nullable=False),
        sa.Column("cursor", text, nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_pages", sa.Integer(), nullable=False),
        sa.Column("last_items", sa.Integer(), nullable=False),
        sa.Column("last_created", sa.Integer(), nullable=False),
        sa.Column("last_existing", sa.Integer(), nullable=False),
        sa.Column("last_rejected", sa.JSON(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("channel"),
    )


def downgrade() -> None:
    op.drop_table("channel_pulls")
