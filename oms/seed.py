"""Demo warehouses, SKUs, stock and customers for the embedded default."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from oms.models import Customer, Sku, Stock, StockLot, StockMovement, Warehouse, utcnow

WAREHOUSES = [
    Warehouse(
        code="BER",
        name="Berlin",
        region="eu-central",
        country="DE",
        latitude=52.52,
        longitude=13.40,
        handling_cost=2.5,
        cutoff="16:00",
        daily_capacity=2000,
        serves=["DE", "AT", "NL", "BE", "LU", "PL", "CZ", "DK", "CH", "GB", "CN"],
    ),
    Warehouse(
        code="LYS",
        name="Lyon",
        region="eu-west",
        country="FR",
        latitude=45.76,
        longitude=4.84,
        handling_cost=2.0,
        cutoff="15:00",
        daily_capacity=1200,
        serves=["FR", "BE", "LU", "NL", "DE", "CH", "IT", "ES", "PT", "GB"],
    ),
    Warehouse(
        code="NJ1",
        name="New Jersey",
        region="us-east",
        country="US",
        latitude=40.74,
        longitude=-74.17,
        handling_cost=3.0,
        cutoff="17:00",
        daily_capacity=1500,
        serves=["US", "CA"],
    ),
]

SKUS = [
    Sku(
        sku="TSHIRT-BLK-M",
        name="T-shirt black M",
        price=19.9,
        weight_kg=0.2,
        length_cm=30,
        width_cm=25,
        height_cm=2,
        category="apparel",
        low_stock_threshold=40,
        lead_time_days=21,
    ),
    Sku(
        sku="TSHIRT-WHT-L",
        name="T-shirt white L",
        price=19.9,
        weight_kg=0.2,
        length_cm=30,
        width_cm=25,
        height_cm=2,
        category="apparel",
        low_stock_threshold=40,
        lead_time_days=21,
    ),
    Sku(
        sku="HOODIE-GRY-M",
        name="Hoodie grey M",
        price=49.0,
        weight_kg=0.6,
        length_cm=35,
        width_cm=30,
        height_cm=6,
        category="apparel",
        low_stock_threshold=30,
        lead_time_days=21,
    ),
    Sku(
        sku="SNEAKER-42",
        name="Sneaker size 42",
        price=89.0,
        weight_kg=1.1,
        length_cm=33,
        width_cm=22,
        height_cm=12,
        category="footwear",
        low_stock_threshold=20,
        lead_time_days=28,
    ),
    Sku(
        sku="BACKPACK-20L",
        name="Backpack 20 l",
        price=59.0,
        weight_kg=0.9,
        length_cm=45,
        width_cm=30,
        height_cm=15,
        category="bags",
        low_stock_threshold=20,
        lead_time_days=28,
    ),
    Sku(
        sku="MUG-LOGO",
        name="Mug with logo",
        price=9.5,
        weight_kg=0.4,
        length_cm=12,
        width_cm=9,
        height_cm=10,
        category="home",
        low_stock_threshold=50,
        lead_time_days=14,
    ),
    Sku(
        sku="LAPTOP-14",
        name="Laptop 14 inch",
        price=1299.0,
        weight_kg=1.6,
        length_cm=34,
        width_cm=24,
        height_cm=2,
        category="electronics",
        low_stock_threshold=25,
        lead_time_days=10,
    ),
    Sku(
        sku="MONITOR-27",
        name="Monitor 27 inch",
        price=329.0,
        weight_kg=6.5,
        length_cm=62,
        width_cm=20,
        height_cm=45,
        category="electronics",
        low_stock_threshold=15,
        lead_time_days=10,
    ),
    Sku(
        sku="HEADPHONES-NC",
        name="Noise-cancelling headphones",
        price=249.0,
        weight_kg=0.3,
        length_cm=20,
        width_cm=18,
        height_cm=8,
        category="electronics",
        low_stock_threshold=25,
        lead_time_days=10,
    ),
    Sku(
        sku="CHAIR-OFFICE",
        name="Office chair",
        price=399.0,
        weight_kg=15.0,
        length_cm=70,
        width_cm=65,
        height_cm=60,
        category="furniture",
        low_stock_threshold=10,
        lead_time_days=35,
    ),
    Sku(
        sku="COFFEE-1KG",
        name="Coffee beans 1 kg",
        price=18.5,
        weight_kg=1.0,
        length_cm=25,
        width_cm=12,
        height_cm=8,
        category="food",
        lot_tracked=True,
        expiry_tracked=True,
        low_stock_threshold=30,
        lead_time_days=14,
    ),
]

# Lot-tracked demo stock: (warehouse, sku, lot, qty, days since receipt, days until expiry).
LOTS = [
    ("BER", "COFFEE-1KG", "C2601", 60, 40, 20),  # expires within the default allocation's 30 days
    ("BER", "COFFEE-1KG", "C2603", 120, 10, 160),
    ("BER", "COFFEE-1KG", "C2605", 120, 2, 220),
    ("LYS", "COFFEE-1KG", "C2604", 80, 6, 190),
    ("NJ1", "COFFEE-1KG", "U2602", 100, 8, 180),
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
        if sku.lot_tracked:
            continue
        for code, qty in STOCK_PER_SKU.items():
            session.add(Stock(warehouse=code, sku=sku.sku, on_hand=qty, reserved=0))
            session.add(StockMovement(operation="adjust", warehouse=code, sku=sku.sku, qty=qty, reason="demo stock"))
    now = utcnow()
    for code, sku, lot, qty, age_days, shelf_days in LOTS:
        row = session.get(Stock, (code, sku)) or Stock(warehouse=code, sku=sku, on_hand=0, reserved=0)
        row.on_hand += qty
        session.add(row)
        session.add(
            StockLot(
                warehouse=code,
                sku=sku,
                lot=lot,
                on_hand=qty,
                reserved=0,
                received_at=now - timedelta(days=age_days),
                expires_on=(now + timedelta(days=shelf_days)).date(),
            )
        )
        session.add(
            StockMovement(
                operation="receipt",
                warehouse=code,
                sku=sku,
                lot=lot,
                qty=qty,
                reason="demo stock",
                at=now - timedelta(days=age_days),
            )
        )
        session.flush()
    return True
