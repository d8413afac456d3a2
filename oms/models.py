"""The read model and reference tables (SQLModel)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class DefinitionVersion(SQLModel, table=True):
    __tablename__ = "definition_versions"
    __table_args__ = (UniqueConstraint("kind", "name", "version"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    name: str = Field(index=True)
    version: int
    sha256: str = Field(index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    author: str
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_client_ip_created", "client_ip", "created_at"),
    )

    id: str = Field(primary_key=True)
    channel: str = Field(index=True)
    external_id: str
    workflow_id: str = Field(unique=True)
    # Set once Temporal took the workflow start; intake's sweep starts the unmarked (oms/starter.py).
    workflow_started: bool = False
    status: str = Field(default="received")
    flow_name: str
    flow_version: int
    customer_id: Optional[str] = Field(default=None, index=True)
    customer_type: str = "consumer"
    address_key: str = Field(index=True)
    client_ip: Optional[str] = None
    phone: Optional[str] = Field(default=None, index=True)
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    total: float = 0
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    audit: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class OrderEvent(SQLModel, table=True):
    """One line of an order's timeline; (order, seq) makes workflow writes idempotent."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, foreign_key="orders.id")
    seq: int
    type: str
    step: Optional[str] = None
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class Task(SQLModel, table=True):
    """A human task (approval) in the operator inbox."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_role", "status", "role"),)

    id: str = Field(primary_key=True)
    order_id: str = Field(index=True, foreign_key="orders.id")
    workflow_id: str
    step: str
    title: str
    role: str
    status: str = "open"  # open | decided | expired
    reason: str = ""
    decisions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    due_at: datetime
    decision: Optional[str] = None
    decided_by: Optional[str] = None
    comment: str = ""
    decided_at: Optional[datetime] = None
    approvals: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    needs_approvals: int = 1
    claimed_by: Optional[str] = Field(default=None, index=True)
    escalated_at: Optional[datetime] = None


class DecisionRecord(SQLModel, table=True):
    """The audit log of human decisions: who, when, what, why, on which task."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, foreign_key="orders.id")
    task_id: str = Field(index=True)
    seq: int
    user: str = Field(index=True)
    role: str
    decision: str
    comment: str = ""
    final: bool = True
    at: datetime = Field(default_factory=utcnow, index=True)


class Warehouse(SQLModel, table=True):
    __tablename__ = "warehouses"

    code: str = Field(primary_key=True)
    name: str
    region: str
    country: str


class Sku(SQLModel, table=True):
    __tablename__ = "skus"

    sku: str = Field(primary_key=True)
    name: str
    price: float
    weight_kg: float = 0.5


class Stock(SQLModel, table=True):
    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="ck_stock_reserved_nonnegative"),
        CheckConstraint("reserved <= on_hand", name="ck_stock_not_oversold"),
    )

    warehouse: str = Field(primary_key=True, foreign_key="warehouses.code")
    sku: str = Field(primary_key=True, foreign_key="skus.sku")
    on_hand: int = 0
    reserved: int = 0


class StockMovement(SQLModel, table=True):
    """Ledger row; (order, line, operation) is unique so retries never move stock twice."""

    __tablename__ = "stock_movements"
    __table_args__ = (UniqueConstraint("order_id", "line_no", "operation"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    order_id: Optional[str] = Field(default=None, index=True)
    line_no: Optional[int] = None
    operation: str  # reserve | release | ship | adjust
    warehouse: str
    sku: str
    qty: int
    reason: str = ""
    at: datetime = Field(default_factory=utcnow)


class Shipment(SQLModel, table=True):
    __tablename__ = "shipments"

    id: Optional[int] = Field(default=None, primary_key=True)
    order_id: str = Field(unique=True, foreign_key="orders.id")
    carrier: str
    tracking_number: str
    warehouses: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True)
    name: str
    type: str = "consumer"  # consumer | b2b
    credit_limit: float = 0


class User(SQLModel, table=True):
    __tablename__ = "users"

    username: str = Field(primary_key=True)
    password_hash: str
    role: str
