"""Data scopes: which orders, tasks and stock a caller limited to channels or warehouses sees.

A caller limited to channels sees the orders of those channels. A caller
limited to warehouses sees the orders with stock reserved, picked or shipped
there (an order not yet allocated belongs to no warehouse), their tasks, and
those warehouses' stock. Something outside the scope is "not found", so a
scoped caller cannot learn which ids exist elsewhere.

What hangs off an order follows it: its returns, decisions, backorders and
stock movements. A wave is one warehouse's work: a warehouse-scoped caller
sees the waves of its warehouses, a channel-scoped caller the waves holding
only its channels' orders. Stock movements of no order (receipts, counts,
transfers) are the warehouse's: a channel scope does not limit them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import exists
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, and_, col, or_, select

from oms.auth import Principal
from oms.models import Order, Return, StockMovement, Task, Wave
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


def visible_order_ids(session: Session, caller: Principal, order_ids: Iterable[str]) -> set[str]:
    """Those of ``order_ids`` the caller may see (all of them for an unscoped caller)."""
    ids = set(order_ids)
    scope = order_clause(caller)
    if scope is None or not ids:
        return ids
    return set(session.exec(select(Order.id).where(col(Order.id).in_(ids), scope)).all())


def orders_of(caller: Principal, column) -> ColumnElement[bool] | None:
    """A WHERE clause keeping the rows whose ``column`` names an order the caller sees; None: no limit."""
    scope = order_clause(caller)
    return None if scope is None else col(column).in_(select(Order.id).where(scope))


def return_clause(caller: Principal) -> ColumnElement[bool] | None:
    """A WHERE clause on ``Return``: the returns of the caller's orders; None: no limit."""
    return orders_of(caller, Return.order_id)


def visible_return(session: Session, caller: Principal, return_id: str) -> Return:
    """The return, if the caller sees its order; otherwise OutOfScope (as if it did not exist)."""
    ret = session.get(Return, return_id)
    order = session.get(Order, ret.order_id) if ret is not None else None
    if ret is None or order is None or not sees_order(session, caller, order):
        raise OutOfScope("return_not_found", f"no return {return_id!r}")
    return ret


def movement_clause(caller: Principal) -> ColumnElement[bool] | None:
    """A WHERE clause on ``StockMovement``: the caller's warehouses; for a channel scope, movements of no
    order or of its channels' orders and their returns. None: no limit."""
    parts: list[ColumnElement[bool]] = []
    if caller.warehouses:
        parts.append(col(StockMovement.warehouse).in_(caller.warehouses))
    if caller.channels:
        own_orders = select(Order.id).where(col(Order.channel).in_(caller.channels))
        own_returns = select(Return.id).where(col(Return.order_id).in_(own_orders))
        parts.append(
            or_(
                col(StockMovement.order_id).is_(None),
                col(StockMovement.order_id).in_(own_orders),
                col(StockMovement.order_id).in_(own_returns),
            )
        )
    if not parts:
        return None
    return and_(*parts) if len(parts) > 1 else parts[0]


def sees_wave(session: Session, caller: Principal, wave: Wave) -> bool:
    if not sees_warehouse(caller, wave.warehouse):
        return False
    if caller.channels and wave.orders:
        elsewhere = session.exec(
            select(Order.id).where(col(Order.id).in_(wave.orders), col(Order.channel).not_in(caller.channels)).limit(1)
        ).first()
        return elsewhere is None
    return True


def visible_wave(session: Session, caller: Principal, wave_id: str) -> Wave:
    """The wave, if the caller sees it (see the module's docstring); otherwise OutOfScope."""
    wave = session.get(Wave, wave_id)
    if wave is None or not sees_wave(session, caller, wave):
        raise OutOfScope("wave_not_found", f"no wave {wave_id!r}")
    return wave


def visible_waves(session: Session, caller: Principal, warehouse: str | None = None, limit: int = 50) -> list[Wave]:
    """The newest ``limit`` waves the caller sees (of ``warehouse`` if given)."""
    query = select(Wave).order_by(col(Wave.created_at).desc(), col(Wave.id))
    if warehouse:
        query = query.where(Wave.warehouse == warehouse)
    if caller.warehouses:
        query = query.where(col(Wave.warehouse).in_(caller.warehouses))
    if not caller.channels:
        return list(session.exec(query.limit(limit)).all())
    # A wave's orders are a JSON list: the channel test runs per wave, on as many as it takes.
    seen: list[Wave] = []
    for wave in session.exec(query).all():
        if sees_wave(session, caller, wave):
            seen.append(wave)
            if len(seen) >= limit:
                break
    return seen


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
