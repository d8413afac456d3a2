"""People's page language: English or Chinese, or "" to follow the browser.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-22

Every existing user starts with "" (the browser's Accept-Language decides, else English)
until they pick a language in the page header or an admin sets one.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("language", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("language")
