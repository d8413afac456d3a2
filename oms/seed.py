"""Demo warehouses, SKUs, stock and customers for the embedded default."""

from __future__ import annotations

from sqlmodel import Session, select

from oms.models import Customer, Sku, Stock, StockMovement, Warehouse

WAREHOUSES = [
    Warehouse(code="BER", name="Berlin", region="eu-central", country="DE"),
    Warehouse(code="LYS", name="Lyon", region="eu-west", country="FR"),
    Warehouse(code="NJ1", name="New Jersey", region="us-east", country="US"),
]

SKUS = [
    Sku(sku="TSHIRT-BLK-M", name="T-shirt black M", price=19.9, weight_kg=0.2),
    Sku(sku="TSHIRT-WHT-L", name="T-shirt white L", price=19.9, weight_kg=0.2),
    Sku(sku="HOODIE-GRY-M", name="Hoodie grey M", price=49.0, weight_kg=0.6),
    Sku(sku="SNEAKER-42", name="Sneaker size 42", price=89.0, weight_kg=1.1),
    Sku(sku="BACKPACK-20L", name="Backpack 20 l", price=59.0, weight_kg=0.9),
    Sku(sku="MUG-LOGO", name="Mug with logo", price=9.5, weight_kg=0.4),
    Sku(sku="LAPTOP-14", name="Laptop 14 inch", price=1299.0, weight_kg=1.6),
    Sku(sku="MONITOR-27", name="Monitor 27 inch", price=329.0, weight_kg=6.5),
    Sku(sku="HEADPHONES-NC", name="Noise-cancelling headphones", price=249.0, weight_kg=0.3),
    Sku(sku="CHAIR-OFFICE", name="Office chair", price=399.0, weight_kg=15.0),
]

CUSTOMERS = [
    Customer(id="ACME", name="ACME Trading GmbH", type="b2b", credit_limit=20000),
    Customer(id="GLOBEX", name="Globex Corp.", type="b2b", credit_limit=5000),
]

STOCK_PER_SKU = {"BER": 500, "LYS": 300, "NJ1": 400}


def seed_demo(session: Session) -> bool:
    """Seed once; returns False when warehouses exist already."""
    if session.exec(select(Warehouse).limit(1)).first() is not None:
        return False
    session.add_all([w.model_copy() for w in WAREHOUSES])
    session.add_all([s.model_copy() for s in SKUS])
    session.add_all([c.model_copy() for c in CUSTOMERS])
    session.flush()
    for sku in SKUS:
        for code, qty in STOCK_PER_SKU.items():
            session.add(Stock(warehouse=code, sku=sku.sku, on_hand=qty, reserved=0))
            session.add(StockMovement(operation="adjust", warehouse=code, sku=sku.sku, qty=qty, reason="demo stock"))
    return True
