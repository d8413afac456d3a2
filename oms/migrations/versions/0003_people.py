"""People: users with several roles and data scopes, token revocation, channel API keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

A user's one ``role`` becomes the list ``roles`` (the old role its only
member); every user starts active, unscoped and at token version 0, so the
tokens signed before the upgrade (which carry no version) stop working and
everyone signs in again.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _not_null(batch_op, name: str, type_, default) -> None:
    """A NOT NULL column; existing rows get ``default``."""
    batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=default))


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        _not_null(batch_op, "roles", sa.JSON(), "[]")
        _not_null(batch_op, "channels", sa.JSON(), "[]")
        _not_null(batch_op, "warehouses", sa.JSON(), "[]")
        _not_null(batch_op, "active", sa.Boolean(), sa.true())
        _not_null(batch_op, "token_version", sa.Integer(), "0")
        _not_null(batch_op, "created_at", sqlmodel.sql.sqltypes.UTCDateTime(), sa.func.current_timestamp())
    bind = op.get_bind()
    for username, role in bind.execute(sa.text("SELECT username, role FROM users")).all():
        bind.execute(
            sa.text("UPDATE users SET roles = :roles WHERE username = :username"),
            {"roles": json.dumps([role] if role else []), "username": username},
        )
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("role")

    op.create_table(
        "channel_keys",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("channel_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_keys_channel"), ["channel"], unique=False)


def downgrade() -> None:
    raise NotImplementedError("downgrading is not supported: restore the database backup taken before the upgrade")
