"""Changes to an order in flight: a new shipping address before the order ships."""

from __future__ import annotations

from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import StepInput, StepResult
from activities.steps import run_step
from oms.intake import address_key
from oms.models import Order

ADDRESS_PARTS = ("name", "street", "city", "postal_code", "country", "region")


def _change_address(session: Session, order: Order, inp: StepInput) -> tuple[str, dict]:
    new = (inp.event or {}).get("shipping_address")
    if not isinstance(new, dict):
        raise ApplicationError("the address_changed event carries no shipping_address", type="bad_event",
                               non_retryable=True)
    new = {k: v for k, v in new.items() if k in ADDRESS_PARTS}
    document = dict(order.document)
    previous = document.get("shipping_address") or {}
    document["shipping_address"] = new
    order.document = document
    order.address_key = address_key(new)
    session.add(order)
    where = ", ".join(str(new.get(k)) for k in ("street", "postal_code", "city", "country") if new.get(k))
    return f"shipping address changed to {where}", {
        "previous": previous, "shipping_address": new, "order_update": {"shipping_address": new},
    }


@activity.defn(name="change_address")
def change_address(inp: StepInput) -> StepResult:
    """Apply the new shipping address of an address_changed event (re-audit and re-allocate follow in the flow)."""
    return run_step(inp, "address_changed", _change_address)
