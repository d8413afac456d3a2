"""Data scopes: which orders, tasks and stock a caller limited to channels or warehouses sees.

A caller limited to channels sees the orders of those channels. A caller
limited to warehouses sees the orders with stock reserved, picked or shipped
there (an order not yet allocated belongs to no warehouse), their tasks, and
those warehouses' stock. Something outside the scope is "not found", so a
scoped caller cannot learn which ids exist elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import exists
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, and_, col, select

from oms.auth import Principal
from oms.models import Order, StockMovement, Task
from services.errors import Forbidden, NotFound


class OutOfScope(NotFound):
    """The order or task is outside the caller's channels or warehouses."""


class WarehouseForbidden(Forbidden):
    """The caller may not change stock of this warehouse."""


def order_clause(caller: Principal) -> ColumnElement[bool] | None:
    """A WHERE clause on ``Order`` keeping the caller's orders; None: no limit."""
    parts: list[ColumnElement[bool]] = []
    if caller.channels:
        parts.append(col(Order.channel).in_(caller.channels))
    if caller.warehouses:
        parts.append(
            exists().where(
                col(StockMovement.order_id) == col(Order.id), col(StockMovement.warehouse).in_(caller.warehouses)
            )
        )
    if not parts:
        return None
    return and_(*parts) if len(parts) > 1 else parts[0]


def sees_order(session: Session, caller: Principal, order: Order) -> bool:
    if caller.channels and order.channel not in caller.channels:
        return False
    if caller.warehouses:
        held = session.exec(
            select(StockMovement.order_id)
            .where(StockMovement.order_id == order.id, col(StockMovement.warehouse).in_(caller.warehouses))
            .limit(1)
        ).first()
        return held is not None
    return True


def visible_order(session: Session, caller: Principal, order_id: str) -> Order:
    """The order, if the caller may see it; otherwise OutOfScope (as if it did not exist)."""
    order = session.get(Order, order_id)
    if order is None or not sees_order(session, caller, order):
        raise OutOfScope("order_not_found", f"no order {order_id!r}")
    return order


def visible_task(session: Session, caller: Principal, task_id: str) -> Task:
    task = session.get(Task, task_id)
    order = session.get(Order, task.order_id) if task is not None else None
    if task is None or order is None or not sees_order(session, caller, order):
        raise OutOfScope("task_not_found", f"no task {task_id!r}")
    return task


def sees_warehouse(caller: Principal, warehouse: str) -> bool:
    return not caller.warehouses or warehouse in caller.warehouses


def check_warehouses(caller: Principal, warehouses: Iterable[str]) -> None:
    """Refuse a stock change touching a warehouse outside the caller's scope."""
    for warehouse in warehouses:
        if not sees_warehouse(caller, warehouse):
            raise WarehouseForbidden(
                "warehouse_out_of_scope",
                f"{caller.username} may change stock of {', '.join(caller.warehouses)} only, not {warehouse}",
                field="warehouse",
            )


def check_channel(caller: Principal, channel: str) -> None:
    """Refuse an order for a channel outside the caller's scope."""
    if caller.channels and channel not in caller.channels:
        raise Forbidden(
            "channel_out_of_scope",
            f"{caller.username} acts for channel {', '.join(caller.channels)} only, not {channel!r}",
            field="channel",
        )
