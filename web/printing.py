"""Printable documents (shipping labels, packing slips, pick lists) from `template` definitions.

The analyst's template renders the document's content in Jinja2's sandbox with
every value escaped; this module wraps it in a page with print CSS. The result
is HTML meant for the browser's print dialog (one label or parcel per page).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlmodel import Session

from engine.templates import RenderError
from oms.models import Order, Shipment, Warehouse, Wave
from services.definitions.pinned import live_model
from services.fulfilment.picking import wave_view
from services.notifications import order_view, shipment_view, shipments_of

_PAGE = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates" / "print")),
    autoescape=select_autoescape(default=True),
)

TEMPLATE_FOR = {"label": "shipping_label", "packing_slip": "packing_slip", "pick_list": "pick_list"}
PAGE_SIZE = {"label": "A6", "packing_slip": "A4", "pick_list": "A4"}


class PrintRefused(ValueError):
    def __init__(self, message: str, status_code: int = 409):
        super().__init__(message)
        self.status_code = status_code


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _template(session: Session, use: str):
    name = TEMPLATE_FOR[use]
    template, _ = live_model(session, "template", name)
    if template is None or template.use != use:
        raise PrintRefused(f"no {use} template: publish a template named {name!r} with use: {use}", 404)
    return template


def _document(title: str, use: str, parts: list[str]) -> str:
    return _PAGE.get_template("document.html").render(
        title=title, page_size=PAGE_SIZE[use], content=Markup("\n".join(parts)))


def _render(template, context: dict[str, Any]) -> str:
    try:
        return template.render(context)
    except RenderError as exc:
        raise PrintRefused(str(exc), 422) from exc


def labels(session: Session, order: Order, shipment_id: int | None = None) -> str:
    """The labels of an order's parcels (or of one parcel), one per page."""
    parcels = shipments_of(session, order.id)
    if shipment_id is not None:
        parcels = [p for p in parcels if p.id == shipment_id]
    if not parcels:
        raise PrintRefused(f"order {order.id} has no parcels yet ({order.status}); labels print once it ships")
    template = _template(session, "label")
    parts = []
    for parcel in parcels:
        warehouse = session.get(Warehouse, parcel.warehouse)
        sender = parcel.label.get("sender") or {"code": parcel.warehouse, "name": warehouse.name if warehouse else "",
                                                 "country": warehouse.country if warehouse else ""}
        shipment = {**shipment_view(parcel), "parcels": len(shipments_of(session, order.id)), **{
            k: v for k, v in parcel.label.items() if k not in ("sender",)}}
        parts.append(_render(template, {"order": order_view(order), "shipment": shipment, "sender": sender,
                                        "printed_at": _now()}))
    return _document(f"Labels {order.external_id}", "label", parts)


def packing_slip(session: Session, order: Order) -> str:
    template = _template(session, "packing_slip")
    content = _render(template, {"order": order_view(order),
                                 "shipments": [shipment_view(s) for s in shipments_of(session, order.id)],
                                 "printed_at": _now()})
    return _document(f"Packing slip {order.external_id}", "packing_slip", [content])


def pick_list(session: Session, wave: Wave) -> str:
    template = _template(session, "pick_list")
    content = _render(template, {"wave": wave_view(session, wave), "printed_at": _now()})
    return _document(f"Pick list {wave.id}", "pick_list", [content])


def shipment_for(session: Session, shipment_id: int) -> tuple[Order, Shipment]:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise PrintRefused(f"no shipment {shipment_id}", 404)
    return session.get(Order, shipment.order_id), shipment
