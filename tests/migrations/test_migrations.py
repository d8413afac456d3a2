"""Alembic migrations: a fresh database gets the models' schema; an old one keeps its data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from oms import migrate
from tests.conftest import _database

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).isoformat(sep=" ")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    url, drop = _database(request.param, tmp_path)
    yield url
    create_engine(url).dispose()
    drop()


def _upgrade_to(url: str, revision: str) -> None:
    engine = migrate.migration_engine(url)
    with engine.begin() as connection:
        command.upgrade(migrate._config(connection), revision)
    engine.dispose()


def _release_before_migrations(url: str) -> None:
    """A database as the release before migrations left it: its tables, its rows, no alembic_version."""
    _upgrade_to(url, migrate.BASELINE)
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("DROP TABLE alembic_version"))
        db.execute(
            text(
                "INSERT INTO definition_versions (kind, name, version, sha256, body, author, note, created_at) "
                "VALUES ('flow', 'order', 1, 'abc', 'kind: flow', 'system', '', :at)"
            ),
            {"at": NOW},
        )
        db.execute(text("INSERT INTO warehouses (code, name, region, country) VALUES ('BER', 'Berlin', 'eu', 'DE')"))
        db.execute(text("INSERT INTO skus (sku, name, price, weight_kg) VALUES ('MUG', 'Mug', 9.5, 0.4)"))
        db.execute(text("INSERT INTO stock (warehouse, sku, on_hand, reserved) VALUES ('BER', 'MUG', 10, 2)"))
        db.execute(
            text(
                "INSERT INTO orders (id, channel, external_id, workflow_id, status, flow_name, flow_version, "
                "customer_type, address_key, tags, total, document, created_at, updated_at) VALUES "
                "('ord_1', 'web', 'W-1', 'order-web-W-1', 'awaiting_payment', 'order', 1, 'consumer', 'k', '[]', 19.0, "
                ":doc, :at, :at)"
            ),
            {"doc": json.dumps({"lines": [{"sku": "MUG", "qty": 2, "price": 9.5}]}), "at": NOW},
        )
        db.execute(
            text(
                "INSERT INTO order_events (order_id, seq, type, message, data, at) "
                "VALUES ('ord_1', 1, 'audited', 'approved', '{}', :at)"
            ),
            {"at": NOW},
        )
        db.execute(
            text(
                "INSERT INTO stock_movements (order_id, line_no, operation, warehouse, sku, qty, reason, at) "
                "VALUES ('ord_1', 1, 'reserve', 'BER', 'MUG', 2, 'order reservation', :at)"
            ),
            {"at": NOW},
        )
        db.execute(
            text(
                "INSERT INTO shipments (order_id, carrier, tracking_number, warehouses, created_at) "
                "VALUES ('ord_1', 'simulated', 'SIM1', '[\"BER\"]', :at)"
            ),
            {"at": NOW},
        )
    engine.dispose()


def test_a_fresh_database_gets_exactly_the_models_schema(database_url):
    before, after = migrate.upgrade(database_url)
    assert (before, after) == (None, migrate.head())
    engine = create_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_upgrading_a_database_of_the_release_before_migrations_keeps_its_data(database_url):
    _release_before_migrations(database_url)

    assert migrate.upgrade(database_url) == (migrate.BASELINE, migrate.head())

    engine = create_engine(database_url)
    with engine.connect() as db:
        order = db.execute(text("SELECT status, total, workflow_started FROM orders WHERE id = 'ord_1'")).one()
        assert (order.status, order.total) == ("awaiting_payment", 19.0)
        # Its workflow was started by the old intake: the sweep must not start it again.
        assert bool(order.workflow_started) is True
        assert db.execute(text("SELECT on_hand, reserved FROM stock")).one() == (10, 2)
        assert db.execute(text("SELECT count(*) FROM order_events")).scalar() == 1
        assert db.execute(text("SELECT body FROM definition_versions")).scalar() == "kind: flow"
        parcel = db.execute(text("SELECT parcel, warehouse, status, tracking_number FROM shipments")).one()
        assert tuple(parcel) == (1, "BER", "in_transit", "SIM1")
    with engine.begin() as db:
        # The ledger's wider key: a second part of the same line and operation is now allowed.
        db.execute(
            text(
                "INSERT INTO stock_movements "
                "(order_id, line_no, operation, warehouse, sku, qty, reason, at, part, cycle) "
                "VALUES ('ord_1', 1, 'reserve', 'BER', 'MUG', 1, 'split', :at, 1, 0)"
            ),
            {"at": NOW},
        )
        # ... and a second parcel of the order.
        db.execute(
            text(
                "INSERT INTO shipments "
                "(order_id, parcel, carrier, tracking_number, warehouses, created_at, updated_at) "
                "VALUES ('ord_1', 2, 'simulated', 'SIM2', '[]', :at, :at)"
            ),
            {"at": NOW},
        )
    engine.dispose()
    # Upgrading again is a no-op.
    assert migrate.upgrade(database_url) == (migrate.head(), migrate.head())
