"""This release: the intake outbox, the dashboard's counters, stock lots and alerts, parcels and tracking, drafts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Upgrading a database of the release before keeps every row: new columns get
the values the code would have written (orders already had their workflows
started; old shipments are parcel 1 of their first warehouse), and the old
unnamed unique constraints that the new ledger and parcels outgrow are dropped
by their names on PostgreSQL and rebuilt by a table copy on SQLite.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Names SQLite's table copy gives the unnamed constraints it reflects, so they can be dropped.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def _not_null(batch_op, name: str, type_, default) -> None:
    """A NOT NULL column; existing rows get ``default``."""
    batch_op.add_column(sa.Column(name, type_, nullable=False, server_default=default))


def upgrade() -> None:
    op.create_table(
        "daily_metrics",
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("k1", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("k2", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "day", "k1", "k2"),
    )
    with op.batch_alter_table("daily_metrics", schema=None) as batch_op:
        batch_op.create_index("ix_daily_metrics_scan", ["metric", "day", "k1", "k2", "count", "amount"], unique=False)

    op.create_table(
        "definition_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "name", "author"),
    )
    with op.batch_alter_table("definition_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_definition_drafts_author"), ["author"], unique=False)

    op.create_table(
        "backorders",
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("order_id", "sku"),
    )
    with op.batch_alter_table("backorders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backorders_status"), ["status"], unique=False)

    op.create_table(
        "channel_reservations",
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("warehouse", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.CheckConstraint("qty >= 0", name="ck_channel_reservations_qty"),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["skus.sku"],
        ),
        sa.ForeignKeyConstraint(
            ["warehouse"],
            ["warehouses.code"],
        ),
        sa.PrimaryKeyConstraint("channel", "warehouse", "sku"),
    )
    op.create_table(
        "stock_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("open_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("resolved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["skus.sku"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key"),
    )
    with op.batch_alter_table("stock_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_alerts_sku"), ["sku"], unique=False)

    op.create_table(
        "stock_lots",
        sa.Column("warehouse", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lot", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.CheckConstraint("reserved <= on_hand", name="ck_stock_lots_not_oversold"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_lots_reserved_nonnegative"),
        sa.ForeignKeyConstraint(
            ["sku"],
            ["skus.sku"],
        ),
        sa.ForeignKeyConstraint(
            ["warehouse"],
            ["warehouses.code"],
        ),
        sa.PrimaryKeyConstraint("warehouse", "sku", "lot"),
    )
    op.create_table(
        "waves",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("warehouse", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("orders", sa.JSON(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warehouse"],
            ["warehouses.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("waves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_waves_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_waves_warehouse"), ["warehouse"], unique=False)

    op.create_table(
        "tracking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("carrier", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("carrier", "event_id", name="uq_tracking_events_carrier_event"),
    )
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracking_events_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tracking_events_shipment_id"), ["shipment_id"], unique=False)

    op.create_table(
        "wave_orders",
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("wave_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["waves.id"],
        ),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("wave_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wave_orders_wave_id"), ["wave_id"], unique=False)

    with op.batch_alter_table("order_events") as batch_op:
        batch_op.add_column(sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    with op.batch_alter_table("orders") as batch_op:
        _not_null(batch_op, "workflow_started", sa.Boolean(), sa.false())
        _not_null(batch_op, "milestones", sa.JSON(), "{}")
    # The release before started every workflow before it answered.
    op.execute(sa.text("UPDATE orders SET workflow_started = :yes").bindparams(yes=True))
    op.create_index(
        "ix_orders_unstarted",
        "orders",
        ["created_at"],
        sqlite_where=sa.text("workflow_started = 0"),
        postgresql_where=sa.text("NOT workflow_started"),
    )

    with op.batch_alter_table("skus") as batch_op:
        for name in ("length_cm", "width_cm", "height_cm"):
            _not_null(batch_op, name, sa.Float(), "0")
        _not_null(batch_op, "category", sqlmodel.sql.sqltypes.AutoString(), "general")
        _not_null(batch_op, "lot_tracked", sa.Boolean(), sa.false())
        _not_null(batch_op, "expiry_tracked", sa.Boolean(), sa.false())
        _not_null(batch_op, "low_stock_threshold", sa.Integer(), "0")
        _not_null(batch_op, "lead_time_days", sa.Integer(), "7")

    with op.batch_alter_table("warehouses") as batch_op:
        _not_null(batch_op, "latitude", sa.Float(), "0")
        _not_null(batch_op, "longitude", sa.Float(), "0")
        _not_null(batch_op, "handling_cost", sa.Float(), "0")
        _not_null(batch_op, "cutoff", sqlmodel.sql.sqltypes.AutoString(), "16:00")
        _not_null(batch_op, "daily_capacity", sa.Integer(), "1000")
        _not_null(batch_op, "serves", sa.JSON(), "[]")

    # The ledger's key grows by cycle and part: (order, line, operation) alone is no longer unique.
    with op.batch_alter_table("stock_movements", naming_convention=SQLITE_NAMES) as batch_op:
        batch_op.add_column(sa.Column("lot", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        _not_null(batch_op, "part", sa.Integer(), "0")
        _not_null(batch_op, "cycle", sa.Integer(), "0")
        batch_op.add_column(sa.Column("counterpart", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("user", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.drop_constraint(
            "uq_stock_movements_order_id_line_no_operation"
            if _sqlite()
            else "stock_movements_order_id_line_no_operation_key",
            type_="unique",
        )
        batch_op.create_index("ix_stock_movements_sku_at", ["sku", "at"], unique=False)
        batch_op.create_unique_constraint(
            "uq_stock_movements_order_op", ["order_id", "line_no", "operation", "cycle", "part"]
        )

    # An order may now have several parcels; a tracking number stays unique.
    with op.batch_alter_table("shipments", naming_convention=SQLITE_NAMES) as batch_op:
        _not_null(batch_op, "parcel", sa.Integer(), "1")
        _not_null(batch_op, "warehouse", sqlmodel.sql.sqltypes.AutoString(), "")
        _not_null(batch_op, "adapter", sqlmodel.sql.sqltypes.AutoString(), "simulated")
        _not_null(batch_op, "service", sqlmodel.sql.sqltypes.AutoString(), "")
        _not_null(batch_op, "service_level", sqlmodel.sql.sqltypes.AutoString(), "standard")
        _not_null(batch_op, "price", sa.Float(), "0")
        _not_null(batch_op, "weight_kg", sa.Float(), "0")
        _not_null(batch_op, "status", sqlmodel.sql.sqltypes.AutoString(), "in_transit")
        _not_null(batch_op, "lines", sa.JSON(), "[]")
        _not_null(batch_op, "label", sa.JSON(), "{}")
        batch_op.add_column(sa.Column("consolidation", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        _not_null(batch_op, "updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), sa.func.current_timestamp())
        batch_op.drop_constraint("uq_shipments_order_id" if _sqlite() else "shipments_order_id_key", type_="unique")
        batch_op.create_index("ix_shipments_consolidation", ["consolidation"], unique=False)
        batch_op.create_index("ix_shipments_order_id", ["order_id"], unique=False)
        batch_op.create_unique_constraint("uq_shipments_order_parcel", ["order_id", "parcel"])
        batch_op.create_unique_constraint("uq_shipments_tracking_number", ["tracking_number"])
    _backfill_shipments()
    _returns()


def _returns() -> None:
    """Returns and exchanges: the return, its lines and timeline; a task may belong to a return."""
    op.create_table(
        "returns",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("replacement_sku", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("photos", sa.JSON(), nullable=False),
        sa.Column("flow_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("refunded", sa.Float(), nullable=False),
        sa.Column("refunded_shipping", sa.Float(), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("audit", sa.JSON(), nullable=True),
        sa.Column("exchange_order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id"),
    )
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.create_index("ix_returns_status_created", ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_returns_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_returns_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_returns_reason"), ["reason"], unique=False)

    op.create_table(
        "return_lines",
        sa.Column("return_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("restocked", sa.Integer(), nullable=False),
        sa.Column("written_off", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["returns.id"],
        ),
        sa.PrimaryKeyConstraint("return_id", "line_no"),
    )
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_return_lines_order_id"), ["order_id"], unique=False)

    op.create_table(
        "return_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("step", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["returns.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("return_id", "seq"),
    )
    with op.batch_alter_table("return_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_return_events_return_id"), ["return_id"], unique=False)

    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(sa.Column("return_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.create_index(batch_op.f("ix_tasks_return_id"), ["return_id"], unique=False)


def _backfill_shipments() -> None:
    """Old shipments: their first warehouse, delivered if the order completed."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT s.id, s.warehouses, s.created_at, o.status FROM shipments s JOIN orders o ON o.id = s.order_id")
    ).all()
    for shipment_id, warehouses, created_at, order_status in rows:
        if isinstance(warehouses, str):
            warehouses = json.loads(warehouses or "[]")
        bind.execute(
            sa.text("UPDATE shipments SET warehouse = :warehouse, status = :status, updated_at = :at WHERE id = :id"),
            {
                "warehouse": (warehouses or [""])[0],
                "status": "delivered" if order_status == "completed" else "in_transit",
                "at": created_at,
                "id": shipment_id,
            },
        )


def downgrade() -> None:
    raise NotImplementedError("downgrading is not supported: restore the database backup taken before the upgrade")
