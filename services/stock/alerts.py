"""Low-stock alerts and replenishment suggestions.

An alert opens when a SKU's available stock over all warehouses falls to its
threshold and resolves itself when stock comes back above it. Operators see
open alerts on the stock page (/stock) and in ``GET /api/inventory/alerts``.

A caller limited to warehouses sees the alerts of the SKUs its warehouses
hold, with the stock available there (never the total over all warehouses),
and replenishment counted from its warehouses' demand and stock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from oms.models import Sku, Stock, StockAlert, StockMovement, utcnow

SALES_WINDOW_DAYS = 30
COVER_DAYS = 14  # stock a purchase should cover beyond the lead time


def available_by_sku(session: Session, skus: Iterable[str], warehouses: Sequence[str] = ()) -> dict[str, int]:
    """Available (on hand less reserved) per SKU, over every warehouse or over ``warehouses``."""
    query = select(Stock.sku, func.sum(Stock.on_hand - Stock.reserved)).where(col(Stock.sku).in_(list(skus)))
    if warehouses:
        query = query.where(col(Stock.warehouse).in_(warehouses))
    rows = session.exec(query.group_by(col(Stock.sku))).all()
    return {sku: int(qty or 0) for sku, qty in rows}


def check_alerts(session: Session, skus: Iterable[str]) -> None:
    """Open or resolve the low-stock alert of each SKU, in the caller's transaction."""
    skus = sorted(set(skus))
    items = {
        s.sku: s for s in session.exec(select(Sku).where(col(Sku.sku).in_(skus), Sku.low_stock_threshold > 0)).all()
    }
    if not items:
        return
    available = available_by_sku(session, items)
    for sku, item in items.items():
        left = available.get(sku, 0)
        current = session.exec(select(StockAlert).where(StockAlert.open_key == sku)).first()
        if left <= item.low_stock_threshold and current is None:
            alert = StockAlert(
                sku=sku,
                open_key=sku,
                available=left,
                threshold=item.low_stock_threshold,
                message=f"{sku}: {left} available, at or below the threshold of {item.low_stock_threshold}",
            )
            try:
                with session.begin_nested():
                    session.add(alert)
            except IntegrityError:
                pass  # a concurrent transaction opened the same alert
        elif left <= item.low_stock_threshold and current is not None and current.available != left:
            current.available = left
            current.message = f"{sku}: {left} available, at or below the threshold of {item.low_stock_threshold}"
            session.add(current)
        elif left > item.low_stock_threshold and current is not None:
            current.status, current.open_key, current.resolved_at = "resolved", None, utcnow()
            current.available = left
            session.add(current)


def alert_view(alert: StockAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "sku": alert.sku,
        "status": alert.status,
        "available": alert.available,
        "threshold": alert.threshold,
        "message": alert.message,
        "created_at": alert.created_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def alerts(
    session: Session, status: str | None = "open", sku: str | None = None, warehouses: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Alerts, newest first; with ``warehouses``: those of the SKUs held there, with what is available there."""
    query = select(StockAlert)
    if status:
        query = query.where(StockAlert.status == status)
    if sku:
        query = query.where(StockAlert.sku == sku)
    if warehouses:
        held = select(Stock.sku).where(col(Stock.warehouse).in_(warehouses))
        query = query.where(col(StockAlert.sku).in_(held))
    views = [
        alert_view(a)
        for a in session.exec(query.order_by(col(StockAlert.created_at).desc(), col(StockAlert.id).desc())).all()
    ]
    if warehouses and views:
        there = available_by_sku(session, {v["sku"] for v in views}, warehouses)
        where = ", ".join(warehouses)
        for view in views:
            view["available"] = there.get(view["sku"], 0)
            view["message"] = (
                f"{view['sku']}: stock over all warehouses at or below the threshold of {view['threshold']}; "
                f"{view['available']} available in {where}"
            )
    return views


def replenishment(
    session: Session,
    skus: Iterable[str] | None = None,
    window_days: int = SALES_WINDOW_DAYS,
    cover_days: int = COVER_DAYS,
    warehouses: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Per SKU: demand over the window (reservations less releases), daily rate, and what to order.

    Suggested quantity = daily demand x (lead time + cover days) + threshold - available, never below 0.
    With ``warehouses``, demand and available are those of these warehouses.
    """
    query = select(Sku)
    if skus is not None:
        query = query.where(col(Sku.sku).in_(list(skus)))
    items = session.exec(query.order_by(Sku.sku)).all()
    since = utcnow() - timedelta(days=window_days)
    demand_query = select(StockMovement.sku, StockMovement.operation, func.sum(StockMovement.qty)).where(
        StockMovement.at >= since,
        col(StockMovement.operation).in_(("reserve", "release")),
        col(StockMovement.sku).in_([i.sku for i in items]),
    )
    if warehouses:
        demand_query = demand_query.where(col(StockMovement.warehouse).in_(warehouses))
    rows = session.exec(demand_query.group_by(StockMovement.sku, StockMovement.operation)).all()
    demand: dict[str, int] = {}
    for sku, operation, qty in rows:
        demand[sku] = demand.get(sku, 0) + (int(qty) if operation == "reserve" else -int(qty))
    available = available_by_sku(session, [i.sku for i in items], warehouses)
    where = f" in {', '.join(warehouses)}" if warehouses else ""
    result = []
    for item in items:
        sold = max(0, demand.get(item.sku, 0))
        daily = sold / window_days
        need = daily * (item.lead_time_days + cover_days) + item.low_stock_threshold
        left = available.get(item.sku, 0)
        suggested = max(0, math.ceil(need - left))
        days_left = round(left / daily, 1) if daily else None
        result.append(
            {
                "sku": item.sku,
                "available": left,
                "sold_in_window": sold,
                "window_days": window_days,
                "daily_demand": round(daily, 3),
                "lead_time_days": item.lead_time_days,
                "cover_days": cover_days,
                "threshold": item.low_stock_threshold,
                "days_of_stock": days_left,
                "suggested_qty": suggested,
                "why": (
                    f"{sold} reserved{where} in {window_days} d = {daily:.2f}/d; cover {item.lead_time_days} d lead "
                    f"time + {cover_days} d + threshold {item.low_stock_threshold} = {math.ceil(need)}; "
                    f"available {left}{where}"
                ),
            }
        )
    return result
