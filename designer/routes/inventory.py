from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlmodel import select

from designer.deps import CurrentUser, SessionDep, UserDep, require
from oms.db import session_scope
from oms.models import Sku, Stock, StockMovement, Warehouse

router = APIRouter(prefix="/api/inventory", tags=["inventory"])


def _view(row: Stock) -> dict:
    return {"warehouse": row.warehouse, "sku": row.sku, "on_hand": row.on_hand,
            "reserved": row.reserved, "available": row.on_hand - row.reserved}


@router.get("")
def list_stock(session: SessionDep, _: UserDep, sku: str | None = None, warehouse: str | None = None) -> dict:
    query = select(Stock)
    if sku:
        query = query.where(Stock.sku == sku)
    if warehouse:
        query = query.where(Stock.warehouse == warehouse)
    return {"stock": [_view(r) for r in session.exec(query.order_by(Stock.sku, Stock.warehouse)).all()]}


class StockLevel(BaseModel):
    on_hand: int = Field(ge=0, description="counted quantity in the warehouse")
    reason: str = Field(default="stock count", max_length=200)


@router.put("/{warehouse}/{sku}")
def set_stock(
    warehouse: str, sku: str, body: StockLevel,
    _: Annotated[CurrentUser, Depends(require("operator"))],
) -> dict:
    with session_scope() as session:
        if session.get(Warehouse, warehouse) is None:
            raise HTTPException(404, f"unknown warehouse {warehouse!r}")
        if session.get(Sku, sku) is None:
            raise HTTPException(404, f"unknown SKU {sku!r}")
        row = session.get(Stock, (warehouse, sku)) or Stock(warehouse=warehouse, sku=sku)
        if body.on_hand < row.reserved:
            raise HTTPException(422, f"on_hand {body.on_hand} is below the {row.reserved} reserved for orders")
        delta = body.on_hand - row.on_hand
        row.on_hand = body.on_hand
        session.add(row)
        if delta:
            session.add(StockMovement(operation="adjust", warehouse=warehouse, sku=sku, qty=delta, reason=body.reason))
        session.flush()
        return _view(row)
