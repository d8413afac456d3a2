"""Shipping: split the order into parcels, choose each parcel's carrier, book it.

One parcel per warehouse the order's stock is reserved in; lines matching
the step's ``apart`` expression over ``line``, ``sku`` (category, weight_kg,
name) and ``order`` (e.g. ``sku.category == 'presale'``) go in a parcel of
their own. Each parcel's carrier and price come from the live ``carriers``
definition (a decision table over weight, destination region and service
level) unless the step names a ``carrier``. With ``merge_window`` (e.g.
``2h``), a parcel for the same customer and address from the same warehouse
that was booked within the window and has not left yet is shipped together
with this one: both carry the same ``consolidation`` key, which the label and
the packing slip print, and the warehouse packs them in one box.

A carrier with an ``http`` adapter is booked outside the step's transaction:
the step plans its parcels, books the ones it has no booking for at the
carrier's API (services/adapter_calls.py: ``with_calls``), then plans again
and writes the parcels with the carrier's tracking numbers and labels. A
parcel whose plan changed in between is booked again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from engine.adapters import CarrierShipment
from engine.carriers import Carrier, NoCarrier
from engine.durations import parse_duration
from engine.expressions import ExpressionError, compile_expression
from oms.models import Order, Shipment, Sku, StockMovement, Warehouse, utcnow
from services.adapter_calls import Answers, CallsNeeded, Pending, answer_of, with_calls
from services.definitions.pinned import pinned_model
from services.errors import StepFailed
from services.fulfilment.carriers import CarrierAdapter, ParcelRequest, carrier_adapter, is_remote
from services.orders.steps import run_step
from services.stock import reservation as inventory
from workflows.contracts import StepInput, StepResult

CARRIERS = "default"


def _ship_ledger(session: Session, order: Order, moves: list[StockMovement]) -> None:
    """Move the reserved stock out of each warehouse (ledger rows ``ship``)."""
    for warehouse in dict.fromkeys(m.warehouse for m in moves):
        inventory.ship_reserved(session, order.id, warehouse, held=moves)


def _parcels(
    order: Order, moves: list[StockMovement], apart: str | None, skus: dict[str, Sku]
) -> list[tuple[str, bool, list]]:
    """(warehouse, apart, moves) per parcel, in a stable order; ``apart`` sees line, sku and order."""
    lines = order.document.get("lines", [])
    try:
        rule = compile_expression(apart) if apart else None
    except ExpressionError as exc:  # validation refuses such flows; this guards older published versions
        raise StepFailed("bad_params", f"params.apart: {exc}") from exc
    groups: dict[tuple[str, bool], list[StockMovement]] = defaultdict(list)
    for move in moves:
        line = lines[move.line_no - 1] if move.line_no and move.line_no <= len(lines) else {"sku": move.sku}
        separate = False
        if rule is not None:
            try:
                sku = skus.get(move.sku)
                facts = (
                    {"sku": move.sku, "name": sku.name, "category": sku.category, "weight_kg": sku.weight_kg}
                    if sku
                    else {"sku": move.sku}
                )
                separate = rule.is_true({"line": line, "sku": facts, "order": order.document})
            except ExpressionError as exc:
                raise StepFailed("bad_params", f"params.apart: {exc}") from exc
        groups[(move.warehouse, separate)].append(move)
    return [(w, a, m) for (w, a), m in sorted(groups.items())]


def _consolidation(session: Session, order: Order, warehouse: str, window: str | None) -> str | None:
    """The key of a parcel booked for the same customer and address within ``window``, not yet on its way."""
    if not window:
        return None
    since = utcnow() - timedelta(seconds=parse_duration(window))
    customer = order.document.get("customer") or {}
    rows = session.exec(
        select(Shipment, Order)
        .join(Order, col(Order.id) == Shipment.order_id)
        .where(
            Order.address_key == order.address_key,
            Order.id != order.id,
            Shipment.warehouse == warehouse,
            Shipment.status == "label_created",
            Shipment.created_at >= since,
        )
        .order_by(col(Shipment.created_at))
    ).all()
    for shipment, other in rows:
        other_customer = other.document.get("customer") or {}
        if (other_customer.get("email"), other_customer.get("name")) == (customer.get("email"), customer.get("name")):
            return shipment.consolidation or shipment.tracking_number
    return None


def _ship(session: Session, order: Order, inp: StepInput, bookings: Answers | None = None) -> tuple[str, dict]:
    bookings = {} if bookings is None else bookings
    pending: Pending = {}
    moves = inventory.open_reservations(session, order.id)
    if not moves:
        raise StepFailed("nothing_to_ship", f"order {order.id} holds no reserved stock to ship")
    params = inp.params
    table = None
    if not params.get("carrier"):
        table, _ = pinned_model(session, order.pins, "carriers", params.get("carriers", CARRIERS))
        if table is None:
            raise StepFailed("no_carrier", f"no carriers definition {params.get('carriers', CARRIERS)!r} is published")
    doc = order.document
    address = doc.get("shipping_address") or {}
    skus = {s.sku: s for s in session.exec(select(Sku).where(col(Sku.sku).in_({m.sku for m in moves}))).all()}
    prices = {i: float(line.get("price") or 0) for i, line in enumerate(doc.get("lines", []), start=1)}
    parcels = _parcels(order, moves, params.get("apart"), skus)
    _ship_ledger(session, order, moves)
    booked: list[dict[str, Any]] = []
    for number, (warehouse_code, apart, parcel_moves) in enumerate(parcels, start=1):
        warehouse = session.get(Warehouse, warehouse_code)
        weight = round(sum((skus[m.sku].weight_kg if m.sku in skus else 0) * m.qty for m in parcel_moves), 3)
        value = round(sum(prices.get(m.line_no, 0) * m.qty for m in parcel_moves), 2)
        service_level = str(doc.get("service_level") or "standard")
        if table is None:
            chosen = Carrier(params["carrier"], "simulated", params["carrier"])
            service, price, row = "", 0.0, None
        else:
            try:
                choice = table.choose(
                    {
                        "weight_kg": weight,
                        "country": address.get("country"),
                        "value": value,
                        "service_level": service_level,
                        "warehouse": warehouse_code,
                    }
                )
            except (NoCarrier, ExpressionError) as exc:
                raise StepFailed("no_carrier", str(exc)) from exc
            chosen, service, price, row = choice.carrier, choice.service, choice.price, choice.row
        carrier, title = chosen.name, chosen.title
        sender = {
            "code": warehouse_code,
            "name": warehouse.name if warehouse else warehouse_code,
            "country": warehouse.country if warehouse else "",
        }
        request = ParcelRequest(
            order_id=order.id,
            parcel=number,
            carrier=carrier,
            service=service,
            weight_kg=weight,
            sender=sender,
            recipient={**address, "name": address.get("name") or (doc.get("customer") or {}).get("name") or ""},
            value=value,
            customer=dict(doc.get("customer") or {}),
            external_id=order.external_id,
        )
        booking = _book(carrier_adapter(chosen), request, bookings, pending)
        if booking is None:
            continue  # booked at the carrier's API once the plan is complete (below)
        lines = [
            {"line": m.line_no, "sku": m.sku, "qty": m.qty, "name": skus[m.sku].name if m.sku in skus else m.sku}
            for m in parcel_moves
        ]
        consolidation = _consolidation(session, order, warehouse_code, params.get("merge_window"))
        session.add(
            Shipment(
                order_id=order.id,
                parcel=number,
                carrier=carrier,
                adapter=chosen.adapter,
                tracking_number=booking.tracking_number,
                warehouses=[warehouse_code],
                warehouse=warehouse_code,
                service=service,
                service_level=service_level,
                price=price,
                weight_kg=weight,
                lines=lines,
                label={
                    **booking.label,
                    "carrier_title": title,
                    "sender": sender,
                    "apart": apart,
                    **({"carriers_definition": table.name} if table is not None else {}),
                },
                consolidation=consolidation,
            )
        )
        booked.append(
            {
                "parcel": number,
                "warehouse": warehouse_code,
                "carrier": carrier,
                "service": service,
                "price": price,
                "weight_kg": weight,
                "tracking_number": booking.tracking_number,
                "table_row": row,
                "apart": apart,
                "consolidation": consolidation,
            }
        )
    if pending:
        raise CallsNeeded(pending)  # nothing of this transaction is kept: the step runs again with the bookings
    summary = "; ".join(
        f"parcel {b['parcel']} from {b['warehouse']} ({b['weight_kg']} kg) with {b['carrier']}"
        + (f" {b['service']} for {b['price']:.2f}" if b["service"] else "")
        + f", tracking {b['tracking_number']}"
        + (f", packed with {b['consolidation']}" if b["consolidation"] else "")
        for b in booked
    )
    return f"shipped in {len(booked)} parcel{'s' if len(booked) > 1 else ''}: {summary}", {
        "carrier": booked[0]["carrier"],
        "tracking_number": booked[0]["tracking_number"],
        "warehouses": list(dict.fromkeys(b["warehouse"] for b in booked)),
        "shipments": booked,
    }


def _book(
    adapter: CarrierAdapter,
    request: ParcelRequest,
    bookings: Answers,
    pending: Pending,
) -> CarrierShipment | None:
    """The parcel's booking: at once from a built-in adapter; from a carrier's API only outside the transaction."""
    if not is_remote(adapter):
        return adapter.create_shipment(request)
    key = json.dumps(asdict(request), sort_keys=True, default=str)
    return answer_of(bookings, pending, key, lambda: adapter.create_shipment(request))


def create_shipment(inp: StepInput) -> StepResult:
    """Ship the reserved stock: one parcel per warehouse (or rule), carrier by the carriers table."""
    return with_calls(lambda bookings: run_step(inp, "shipped", lambda s, o, i: _ship(s, o, i, bookings)))
