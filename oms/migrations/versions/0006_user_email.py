"""People's e-mail addresses: escalated tasks are announced to the escalation role by e-mail.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14

Every existing user starts without an address (""), so nobody is mailed until
an admin gives one (`oms users set-email`, PATCH /api/users/{name}).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("email", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("email")
