"""Facts about an order that rules need and only the database knows.

Everything a rule may test is computed here, inside the audit activity, so the
facts and the decision are recorded together in the workflow's history and on
the order ("why was this order held?").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from oms.models import Customer, Order, Stock
from services.definitions.pinned import pinned_model

ADDRESS_PARTS = ("street", "city", "postal_code", "country")
CLOSED_STATUSES = ("completed", "cancelled", "rejected")
RETURNED_STATUSES = ("returned",)
VELOCITY_WINDOW = timedelta(hours=1)
REGIONS = "delivery"
PROMOTIONS = "coupons"


def _count(session: Session, *conditions) -> int:
    return session.exec(select(func.count()).select_from(Order).where(*conditions)).one()


def address_facts(session: Session, address: dict[str, Any], pins: list[dict] | None = None) -> dict[str, Any]:
    """Whether the address is complete and served, by the delivery regions pinned in ``pins``."""
    missing = [part for part in ADDRESS_PARTS if not str(address.get(part) or "").strip()]
    regions, version = pinned_model(session, pins or [], "regions", REGIONS)
    serviceable, why = regions.serviceable(address) if regions else (True, "")
    return {
        "complete": not missing,
        "missing": missing,
        "serviceable": serviceable,
        "unserviceable_reason": why,
        "regions_version": version,
    }


def velocity_facts(session: Session, order: Order) -> dict[str, int]:
    """Orders within the last hour (this one included) from the same IP, phone, address."""
    recent = (Order.created_at >= order.created_at - VELOCITY_WINDOW, Order.created_at <= order.created_at)
    return {
        "ip": _count(session, Order.client_ip == order.client_ip, *recent) if order.client_ip else 0,
        "phone": _count(session, Order.phone == order.phone, *recent) if order.phone else 0,
        "address": _count(session, Order.address_key == order.address_key, *recent),
        "window_minutes": int(VELOCITY_WINDOW.total_seconds() // 60),
    }


def customer_facts(session: Session, order: Order) -> dict[str, Any]:
    if not order.customer_id:
        return {"known": False, "orders_so_far": 0, "returned_orders": 0, "returns_ratio": 0.0}
    earlier = (Order.customer_id == order.customer_id, Order.id != order.id, Order.created_at <= order.created_at)
    so_far = _count(session, *earlier)
    returned = _count(session, *earlier, col(Order.status).in_(RETURNED_STATUSES))
    return {
        "known": so_far > 0,
        "orders_so_far": so_far,
        "returned_orders": returned,
        "returns_ratio": round(returned / so_far, 3) if so_far else 0.0,
    }


def credit_facts(session: Session, order: Order) -> dict[str, float]:
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    if customer is None or customer.type != "b2b":
        return {"limit": 0.0, "open_balance": 0.0, "remaining": 0.0}
    open_balance = session.exec(
        select(func.coalesce(func.sum(Order.total), 0)).where(
            Order.customer_id == order.customer_id, Order.id != order.id, col(Order.status).not_in(CLOSED_STATUSES)
        )
    ).one()
    limit = float(customer.credit_limit)
    return {"limit": limit, "open_balance": float(open_balance), "remaining": limit - float(open_balance)}


def stock_facts(session: Session, lines: list[dict[str, Any]]) -> dict[str, Any]:
    skus = {line["sku"] for line in lines}
    rows = session.exec(
        select(Stock.sku, func.sum(Stock.on_hand - Stock.reserved))
        .where(col(Stock.sku).in_(skus))
        .group_by(col(Stock.sku))
    ).all()
    available = {sku: int(qty or 0) for sku, qty in rows}
    per_line = [
        {
            "sku": line["sku"],
            "qty": line["qty"],
            "available": available.get(line["sku"], 0),
            "enough": available.get(line["sku"], 0) >= line["qty"],
        }
        for line in lines
    ]
    return {"lines": per_line, "all_available": all(line["enough"] for line in per_line)}


def coupon_facts(session: Session, order: Order) -> dict[str, Any]:
    promotions, version = pinned_model(session, order.pins, "promotions", PROMOTIONS)
    code = order.document.get("coupon")
    if promotions is None:
        return {"code": code, "exists": False, "valid": False, "min_spend_met": False, "promotions_version": None}
    return {**promotions.check(code, order.total, order.created_at.date()), "promotions_version": version}


def order_facts(session: Session, order: Order) -> dict[str, Any]:
    """Every fact the audit rules can use, for ``order``."""
    velocity = velocity_facts(session, order)
    customer = customer_facts(session, order)
    seen_address = _count(
        session, Order.address_key == order.address_key, Order.id != order.id, Order.created_at <= order.created_at
    )
    return {
        "first_time_address": seen_address == 0,
        "orders_from_ip_last_hour": velocity["ip"],
        "velocity": velocity,
        "customer": customer,
        "credit": credit_facts(session, order),
        "address": address_facts(session, order.document.get("shipping_address") or {}, order.pins),
        "stock": stock_facts(session, order.document.get("lines", [])),
        "coupon": coupon_facts(session, order),
    }
