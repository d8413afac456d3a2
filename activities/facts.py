"""Facts about an order that rules need and only the database knows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from oms.models import Customer, Order

ADDRESS_PARTS = ("street", "city", "postal_code", "country")
CLOSED_STATUSES = ("completed", "cancelled", "rejected")
VELOCITY_WINDOW = timedelta(hours=1)


def address_facts(address: dict[str, Any]) -> dict[str, Any]:
    missing = [part for part in ADDRESS_PARTS if not str(address.get(part) or "").strip()]
    return {"complete": not missing, "missing": missing}


def order_facts(session: Session, order: Order) -> dict[str, Any]:
    """Customer history, address novelty, IP velocity and B2B credit for ``order``."""
    doc = order.document
    earlier = Order.created_at <= order.created_at
    others = Order.id != order.id
    seen_address = session.exec(
        select(func.count()).select_from(Order).where(Order.address_key == order.address_key, others, earlier)
    ).one()
    from_ip = 0
    if order.client_ip:
        from_ip = session.exec(
            select(func.count())
            .select_from(Order)
            .where(
                Order.client_ip == order.client_ip,
                Order.created_at >= order.created_at - VELOCITY_WINDOW,
                earlier,
            )
        ).one()
    customer_orders = 0
    credit = {"limit": 0.0, "open_balance": 0.0, "remaining": 0.0}
    if order.customer_id:
        customer_orders = session.exec(
            select(func.count()).select_from(Order).where(Order.customer_id == order.customer_id, others, earlier)
        ).one()
        customer = session.get(Customer, order.customer_id)
        if customer is not None and customer.type == "b2b":
            open_balance = session.exec(
                select(func.coalesce(func.sum(Order.total), 0)).where(
                    Order.customer_id == order.customer_id,
                    others,
                    Order.status.not_in(CLOSED_STATUSES),
                )
            ).one()
            credit = {
                "limit": float(customer.credit_limit),
                "open_balance": float(open_balance),
                "remaining": float(customer.credit_limit) - float(open_balance),
            }
    return {
        "first_time_address": seen_address == 0,
        "orders_from_ip_last_hour": from_ip,
        "customer": {"orders_so_far": customer_orders, "known": customer_orders > 0},
        "credit": credit,
        "address": address_facts(doc.get("shipping_address") or {}),
    }
