"""Migration 0009: search keys of existing orders take their order's time, new keys get it from the model;
orders by total are indexed with their id."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, create_engine, inspect, select, text
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from oms import migrate
from oms.models import Order, OrderKey
from tests.conftest import _database
from tests.migrations.test_migrations import _upgrade_to


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    url, drop = _database(request.param, tmp_path)
    yield url
    drop()


CREATED = {"ord_a": datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "ord_b": datetime(2026, 5, 2, 17, 0, tzinfo=UTC)}


def _order_before(db, order_id: str) -> None:
    """An order and its keys as revision 0008 stored them (no created_at on the keys)."""
    db.execute(
        text(
            "INSERT INTO orders (id, channel, external_id, workflow_id, workflow_started, status, flow_name, "
            "flow_version, customer_type, address_key, tags, milestones, pins, total, document, customer_name, "
            "email, created_at, updated_at) VALUES (:id, 'web', :id, :id, true, 'completed', 'order', 1, "
            "'consumer', 'k', '[\"vip\"]', '{}', '[]', 9.5, :doc, 'ann example', '', :at, :at)"
        ).bindparams(bindparam("at", type_=UTCDateTime())),
        {"id": order_id, "doc": json.dumps({"lines": [{"sku": "MUG", "qty": 1}]}), "at": CREATED[order_id]},
    )
    for kind, value in (("sku", "MUG"), ("tag", "vip"), ("word", "ann"), ("word", "example")):
        db.execute(
            text("INSERT INTO order_keys (kind, value, order_id) VALUES (:kind, :value, :id)"),
            {"kind": kind, "value": value, "id": order_id},
        )


def _keys(db) -> set[tuple[str, str, str, datetime]]:
    """Every key row, its time read as the model reads it (aware, UTC)."""
    table = OrderKey.__table__.c  # type: ignore[attr-defined]
    return {tuple(row) for row in db.execute(select(table.kind, table.value, table.order_id, table.created_at))}


def test_existing_keys_take_their_orders_time_and_new_keys_are_written_with_it(database_url):
    _upgrade_to(database_url, "0008")
    engine = create_engine(database_url)
    with engine.begin() as db:
        for order_id in CREATED:
            _order_before(db, order_id)

    assert migrate.upgrade(database_url) == ("0008", migrate.head())

    with engine.connect() as db:
        found = _keys(db)
    assert found == {
        (kind, value, order_id, at)
        for order_id, at in CREATED.items()
        for kind, value in (("sku", "MUG"), ("tag", "vip"), ("word", "ann"), ("word", "example"))
    }
    index = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("order_keys")}
    assert index["ix_order_keys_kind_value_created"] == ["kind", "value", "created_at", "order_id"]
    assert [c["nullable"] for c in inspect(engine).get_columns("order_keys") if c["name"] == "created_at"] == [False]
    by_total = {
        i["name"]: i["column_names"] for i in inspect(engine).get_indexes("orders") if "total" in i["column_names"]
    }
    assert by_total == {"ix_orders_total_id": ["total", "id"]}

    # An order stored through the model writes its keys with its own time, and a tag added later too.
    placed = datetime(2026, 7, 4, 8, 15, tzinfo=UTC)
    with Session(engine) as session:
        order = Order(
            id="ord_c",
            channel="web",
            external_id="C-1",
            workflow_id="order-web-C-1",
            flow_name="order",
            flow_version=1,
            address_key="k",
            document={"customer": {"name": "Bo Berg"}, "lines": [{"sku": "CAP", "qty": 1}]},
            created_at=placed,
        )
        session.add(order)
        session.commit()
        order.tags = ["gift"]
        session.add(order)
        session.commit()
    with engine.connect() as db:
        written = {(k, v, at) for k, v, o, at in _keys(db) if o == "ord_c"}
    engine.dispose()
    assert written == {
        ("sku", "CAP", placed),
        ("word", "bo", placed),
        ("word", "berg", placed),
        ("tag", "gift", placed),
    }
