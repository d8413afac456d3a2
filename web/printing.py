"""Printable documents (shipping labels, packing slips, pick lists) from `template` definitions.

The analyst's template renders the document's content in Jinja2's sandbox with
every value escaped; this module wraps it in a page with print CSS. The result
is HTML meant for the browser's print dialog (one label or parcel per page),
served with a Content-Security-Policy under which no script runs but the page's
own Print button (``onclick="window.print()"``, allowed by its hash): whatever
a template says, it cannot run code in the browser of the operator who prints.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlmodel import Session

from engine.templates import RenderError
from oms.models import Order, Shipment, Warehouse, Wave
from services.definitions.pinned import pinned_model
from services.errors import Conflict, DomainError, Invalid, NotFound
from services.fulfilment.picking import wave_view
from services.notifications import order_view, shipment_view, shipments_of
from web import i18n
from web.i18n import gettext

_PAGE = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates" / "print")),
    autoescape=select_autoescape(default=True),
)
i18n.install(_PAGE)  # the page around the analyst's content (title, Print button) speaks the reader's language

_PRINT_BUTTON = base64.b64encode(hashlib.sha256(b"window.print()").digest()).decode()
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    f"script-src 'unsafe-hashes' 'sha256-{_PRINT_BUTTON}'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


def printable(html: str) -> HTMLResponse:
    """A printable document with the policy that keeps scripts from running in it."""
    return HTMLResponse(
        html, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}
    )


TEMPLATE_FOR = {"label": "shipping_label", "packing_slip": "packing_slip", "pick_list": "pick_list"}
PAGE_SIZE = {"label": "A6", "packing_slip": "A4", "pick_list": "A4"}


class PrintRefused(DomainError):
    """A document that cannot be printed."""


class NothingToPrint(PrintRefused, NotFound):
    """No template for the document, or no such parcel."""


class NotPrintableYet(PrintRefused, Conflict):
    """The order has no parcels yet to label."""


class TemplateFailed(PrintRefused, Invalid):
    """The published template does not render."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _template(session: Session, use: str, order: Order | None = None):
    """The template of ``use``: the one the order pinned at intake; a wave's pick list: the live one."""
    name = TEMPLATE_FOR[use]
    template, _ = pinned_model(session, order.pins if order is not None else [], "template", name)
    if template is None or template.use != use:
        raise NothingToPrint("no_template", f"no {use} template: publish a template named {name!r} with use: {use}")
    return template


def _document(title: str, use: str, parts: list[str]) -> str:
    return _PAGE.get_template("document.html").render(
        title=title, page_size=PAGE_SIZE[use], content=Markup("\n".join(parts))
    )


def _render(template, context: dict[str, Any]) -> str:
    try:
        return template.render(context)
    except RenderError as exc:
        raise TemplateFailed("template_failed", str(exc)) from exc


def labels(session: Session, order: Order, shipment_id: int | None = None) -> str:
    """The labels of an order's parcels (or of one parcel), one per page."""
    parcels = shipments_of(session, order.id)
    if shipment_id is not None:
        parcels = [p for p in parcels if p.id == shipment_id]
    if not parcels:
        raise NotPrintableYet(
            "no_parcels", f"order {order.id} has no parcels yet ({order.status}); labels print once it ships"
        )
    template = _template(session, "label", order)
    parts = []
    for parcel in parcels:
        warehouse = session.get(Warehouse, parcel.warehouse)
        sender = parcel.label.get("sender") or {
            "code": parcel.warehouse,
            "name": warehouse.name if warehouse else "",
            "country": warehouse.country if warehouse else "",
        }
        shipment = {
            **shipment_view(parcel),
            "parcels": len(shipments_of(session, order.id)),
            **{k: v for k, v in parcel.label.items() if k not in ("sender",)},
        }
        parts.append(
            _render(
                template, {"order": order_view(order), "shipment": shipment, "sender": sender, "printed_at": _now()}
            )
        )
    return _document(gettext("Labels %(id)s", id=order.external_id), "label", parts)


def packing_slip(session: Session, order: Order) -> str:
    template = _template(session, "packing_slip", order)
    content = _render(
        template,
        {
            "order": order_view(order),
            "shipments": [shipment_view(s) for s in shipments_of(session, order.id)],
            "printed_at": _now(),
        },
    )
    return _document(gettext("Packing slip %(id)s", id=order.external_id), "packing_slip", [content])


def pick_list(session: Session, wave: Wave) -> str:
    template = _template(session, "pick_list")
    content = _render(template, {"wave": wave_view(session, wave), "printed_at": _now()})
    return _document(gettext("Pick list %(id)s", id=wave.id), "pick_list", [content])


def shipment_for(session: Session, shipment_id: int) -> tuple[Order, Shipment]:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NothingToPrint("shipment_not_found", f"no shipment {shipment_id}")
    return session.get(Order, shipment.order_id), shipment
