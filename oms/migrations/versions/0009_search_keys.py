"""Search keys carry their order's creation time; orders by total in (total, id) order.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-22

The order list filtered by a SKU or tag, newest first, reads the first page
of ``order_keys`` rows in the order of ix_order_keys_kind_value_created and
looks up only those orders, instead of every order with the key and a sort
(services/orders/search.py). Existing keys take their order's ``created_at``
here, in one statement; new ones get it from the model's flush events.

Sorted by total, the list pages through orders of the same total (a shop has
few distinct totals, so thousands share each) by (total, id): ix_orders_total_id
replaces ix_orders_total, whose ties were read and sorted on every page.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEX = "ix_order_keys_kind_value_created"


def upgrade() -> None:
    with op.batch_alter_table("order_keys") as batch_op:
        batch_op.add_column(sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # a join; the correlated form looks up each key's order
        op.execute(
            "UPDATE order_keys SET created_at = orders.created_at FROM orders WHERE orders.id = order_keys.order_id"
        )
    else:
        op.execute(
            "UPDATE order_keys SET created_at = (SELECT created_at FROM orders WHERE orders.id = order_keys.order_id)"
        )
    with op.batch_alter_table("order_keys") as batch_op:
        batch_op.alter_column(
            "created_at", existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), existing_nullable=True, nullable=False
        )
    op.create_index(INDEX, "order_keys", ["kind", "value", "created_at", "order_id"])
    op.create_index("ix_orders_total_id", "orders", ["total", "id"])
    op.drop_index("ix_orders_total", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_total", "orders", ["total"])
    op.drop_index("ix_orders_total_id", table_name="orders")
    op.drop_index(INDEX, table_name="order_keys")
    with op.batch_alter_table("order_keys") as batch_op:
        batch_op.drop_column("created_at")
