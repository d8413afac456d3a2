"""Changes to an order in flight: a new shipping address before the order ships."""

from __future__ import annotations

from sqlmodel import Session

from oms.models import Order
from services.errors import StepFailed
from services.orders.intake import address_key
from services.orders.steps import run_step
from workflows.contracts import StepInput, StepResult

ADDRESS_PARTS = ("name", "street", "city", "postal_code", "country", "region")


def _change_address(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    new = (inp.event or {}).get("shipping_address")
    if not isinstance(new, dict):
        raise StepFailed("bad_event", "the address_changed event carries no shipping_address")
    new = {k: v for k, v in new.items() if k in ADDRESS_PARTS}
    document = dict(order.document)
    previous = document.get("shipping_address") or {}
    document["shipping_address"] = new
    order.document = document
    order.address_key = address_key(new)
    session.add(order)
    where = ", ".join(str(new.get(k)) for k in ("street", "postal_code", "city", "country") if new.get(k))
    return f"shipping address changed to {where}", {
        "previous": previous,
        "shipping_address": new,
        "order_update": {"shipping_address": new},
    }


def change_address(inp: StepInput) -> StepResult:
    """Apply the new shipping address of an address_changed event (re-audit and re-allocate follow in the flow)."""
    return run_step(inp, "address_changed", _change_address)
