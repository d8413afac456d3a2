"""Order search: normalised name and e-mail, search keys (SKU, tag, name word), saved views, indexes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-13

Existing orders get their name, e-mail and keys from their documents here;
new and changed orders keep them through the model's flush events
(oms/models.py), so the order list never reads JSON to search.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TEXT = sqlmodel.sql.sqltypes.AutoString
ORDER_INDEXES = {
    "ix_orders_external_id": ["external_id"],
    "ix_orders_customer_name": ["customer_name"],
    "ix_orders_email": ["email"],
    "ix_orders_channel_created": ["channel", "created_at"],
    "ix_orders_total": ["total"],
}


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("customer_name", TEXT(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("email", TEXT(), nullable=False, server_default=""))
    op.create_table(
        "order_keys",
        sa.Column("kind", TEXT(), nullable=False),
        sa.Column("value", TEXT(), nullable=False),
        sa.Column("order_id", TEXT(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"]),
        sa.PrimaryKeyConstraint("kind", "value", "order_id"),
    )
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", TEXT(), nullable=False),
        sa.Column("name", TEXT(), nullable=False),
        sa.Column("query", TEXT(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", "name"),
    )
    _backfill()
    for name, columns in ORDER_INDEXES.items():
        op.create_index(name, "orders", columns)
    op.create_index("ix_stock_movements_warehouse_order", "stock_movements", ["warehouse", "order_id"])


def _backfill() -> None:
    bind = op.get_bind()
    orders = sa.table("orders", sa.column("id"), sa.column("document", sa.JSON), sa.column("tags", sa.JSON))
    keys = sa.table("order_keys", sa.column("kind"), sa.column("value"), sa.column("order_id"))
    rows = bind.execute(sa.select(orders.c.id, orders.c.document, orders.c.tags)).all()
    # The rules of oms/models.py search_fields and search_keys at this revision, frozen here.
    for order_id, document, tags in rows:
        customer = (document or {}).get("customer") or {}
        name = " ".join(str(customer.get("name") or "").lower().split())
        email = str(customer.get("email") or "").strip().lower()
        bind.execute(
            sa.text("UPDATE orders SET customer_name = :name, email = :email WHERE id = :id"),
            {"name": name, "email": email, "id": order_id},
        )
        found = {("sku", str(line["sku"])) for line in (document or {}).get("lines") or [] if line.get("sku")}
        found |= {("tag", str(tag)) for tag in tags or []} | {("word", word) for word in name.split()}
        if found:
            bind.execute(sa.insert(keys), [{"kind": k, "value": v, "order_id": order_id} for k, v in found])


def downgrade() -> None:
    raise NotImplementedError("downgrading is not supported: restore the database backup taken before the upgrade")
