"""The read model and reference tables (SQLModel)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Index,
    Text,
    UniqueConstraint,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class DefinitionVersion(SQLModel, table=True):
    __tablename__ = "definition_versions"
    __table_args__ = (UniqueConstraint("kind", "name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    name: str = Field(index=True)
    version: int
    sha256: str = Field(index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    author: str
    note: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class DefinitionDraft(SQLModel, table=True):
    """An analyst's unpublished text of a definition: one per (kind, name, author); never run by any order."""

    __tablename__ = "definition_drafts"
    __table_args__ = (UniqueConstraint("kind", "name", "author"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    name: str
    author: str = Field(index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_client_ip_created", "client_ip", "created_at"),
        # The intake sweep looks for orders whose workflow start is unconfirmed: few, whatever the table's size.
        Index(
            "ix_orders_unstarted",
            "created_at",
            sqlite_where=text("workflow_started = 0"),
            postgresql_where=text("NOT workflow_started"),
        ),
        # The order list's search (services/orders/search.py): exact or prefix matches, newest first per channel.
        Index("ix_orders_external_id", "external_id"),
        Index("ix_orders_customer_name", "customer_name"),
        Index("ix_orders_email", "email"),
        Index("ix_orders_channel_created", "channel", "created_at"),
        # (total, id): the list by total pages through orders of one total (there are few totals) in index order.
        Index("ix_orders_total_id", "total", "id"),
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
    customer_id: str | None = Field(default=None, index=True)
    customer_type: str = "consumer"
    address_key: str = Field(index=True)
    client_ip: str | None = None
    phone: str | None = Field(default=None, index=True)
    # The customer's name and e-mail in lower case, kept from the document on every write (see below).
    customer_name: str = ""
    email: str = ""
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # When the order first reached each status (status -> ISO time), for cycle times.
    milestones: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    total: float = 0
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    audit: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Every definition the order uses, pinned at intake: [{kind, name, version, sha256}]; empty for
    # orders taken before pinning (they read the live versions, as they always did).
    pins: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class OrderKey(SQLModel, table=True):
    """What an order is found by besides its own columns: each SKU, tag, and word of the customer's name."""

    __tablename__ = "order_keys"
    __table_args__ = (
        # A key's orders newest first in index order: the list filtered by a SKU or tag reads one page of
        # rows, not every match (services/orders/search.py).
        Index("ix_order_keys_kind_value_created", "kind", "value", "created_at", "order_id"),
    )

    kind: str = Field(primary_key=True)  # sku | tag | word
    value: str = Field(primary_key=True)
    order_id: str = Field(primary_key=True, foreign_key="orders.id")
    created_at: datetime  # the order's, which never changes


def search_fields(document: dict[str, Any]) -> tuple[str, str]:
    """The customer's name and e-mail of an order document, normalised as search compares them."""
    customer = document.get("customer") or {}
    return " ".join(str(customer.get("name") or "").lower().split()), str(customer.get("email") or "").strip().lower()


def search_keys(document: dict[str, Any], tags: list[str], customer_name: str) -> set[tuple[str, str]]:
    """(kind, value) rows of ``order_keys`` for an order."""
    keys = {("sku", str(line["sku"])) for line in document.get("lines") or [] if line.get("sku")}
    return keys | {("tag", str(tag)) for tag in tags} | {("word", word) for word in customer_name.split()}


@event.listens_for(Order, "before_insert")
@event.listens_for(Order, "before_update")
def _normalise(mapper: Any, connection: Any, order: Order) -> None:
    order.customer_name, order.email = search_fields(order.document or {})


@event.listens_for(Order, "after_insert")
def _write_new_keys(mapper: Any, connection: Any, order: Order) -> None:
    _write_keys(mapper, connection, order, had=set())  # a new order has none yet


@event.listens_for(Order, "after_update")
def _write_keys(mapper: Any, connection: Any, order: Order, had: set | None = None) -> None:
    # Keys only grow: SKUs never change, tags are only added, and a name change keeps the old name findable.
    state = inspect(order)
    if state.attrs.document.history.unchanged and state.attrs.tags.history.unchanged:
        return
    table = OrderKey.__table__.c  # type: ignore[attr-defined]
    if had is None:
        had = set(connection.execute(select(table.kind, table.value).where(table.order_id == order.id)))
    rows = [
        {"kind": k, "value": v, "order_id": order.id, "created_at": order.created_at}
        for k, v in search_keys(order.document or {}, order.tags, order.customer_name) - had
    ]
    if rows:
        connection.execute(insert(OrderKey), rows)


class SavedView(SQLModel, table=True):
    """A search of the order list that a person saved under a name (their own; shipped presets are code)."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("username", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str
    name: str
    query: str  # the list's query string, e.g. "status=awaiting_payment&sort=created"
    created_at: datetime = Field(default_factory=utcnow)


class DailyMetric(SQLModel, table=True):
    """A counter of the dashboard: per day, metric and two keys (see engine/analytics.py)."""

    __tablename__ = "daily_metrics"
    # Covering: the dashboard's range scans read the index alone.
    __table_args__ = (Index("ix_daily_metrics_scan", "metric", "day", "k1", "k2", "count", "amount"),)

    metric: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    k1: str = Field(default="", primary_key=True)
    k2: str = Field(default="", primary_key=True)
    count: int = 0
    amount: float = 0


class OrderEvent(SQLModel, table=True):
    """One line of an order's timeline; (order, seq) makes workflow writes idempotent."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, foreign_key="orders.id")
    seq: int
    type: str
    step: str | None = None
    status: str | None = None  # the order's status this line set, if any
    message: str = ""
    # The message's wording and the values it was written with (services/timeline_words.py): the pages
    # say the line in the reader's language. None for lines no wording fits, and for those stored before.
    message_key: str | None = None
    message_values: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
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
    decision: str | None = None
    decided_by: str | None = None
    comment: str = ""
    decided_at: datetime | None = None
    approvals: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    needs_approvals: int = 1
    claimed_by: str | None = Field(default=None, index=True)
    escalated_at: datetime | None = None
    # A task of a return's flow (review, quality check) names the return; order_id is the returned order.
    return_id: str | None = Field(default=None, index=True)


class DecisionRecord(SQLModel, table=True):
    """The audit log of human decisions: who, when, what, why, on which task."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
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
    latitude: float = 0.0
    longitude: float = 0.0
    handling_cost: float = 0.0  # per shipment leaving this warehouse
    cutoff: str = "16:00"  # local time after which orders ship the next working day
    daily_capacity: int = 1000  # shipments per day
    # Destination countries (ISO alpha-2) or regions this warehouse ships to; empty: its own country.
    serves: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Sku(SQLModel, table=True):
    __tablename__ = "skus"

    sku: str = Field(primary_key=True)
    name: str
    price: float
    weight_kg: float = 0.5
    length_cm: float = 0.0
    width_cm: float = 0.0
    height_cm: float = 0.0
    category: str = "general"
    lot_tracked: bool = False  # stock is held per lot (batch) with its receipt date
    expiry_tracked: bool = False  # lots carry an expiry date (FEFO)
    low_stock_threshold: int = 0  # alert when available stock over all warehouses falls to this
    lead_time_days: int = 7  # days from a purchase order to stock on the shelf


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
    """Ledger row; (order, line, operation, cycle, part) is unique so retries never move stock twice.

    A line allocated from several warehouses or lots has one part per piece;
    ``cycle`` counts reservations of the order after a full release (re-allocation).
    """

    __tablename__ = "stock_movements"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no", "operation", "cycle", "part", name="uq_stock_movements_order_op"),
        Index("ix_stock_movements_sku_at", "sku", "at"),
        # Orders by warehouse (the order list's filter and warehouse scopes).
        Index("ix_stock_movements_warehouse_order", "warehouse", "order_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: str | None = Field(default=None, index=True)
    line_no: int | None = None
    operation: str  # receipt | reserve | release | ship | return | adjust | transfer
    warehouse: str
    sku: str
    qty: int  # signed for adjust and transfer (out of this warehouse: negative)
    reason: str = ""
    at: datetime = Field(default_factory=utcnow)
    lot: str | None = None
    part: int = 0
    cycle: int = 0
    counterpart: str | None = None  # the other warehouse of a transfer
    user: str | None = None


class StockLot(SQLModel, table=True):
    """Stock of a lot-tracked SKU per lot; the ``stock`` row holds the warehouse's sum."""

    __tablename__ = "stock_lots"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="ck_stock_lots_reserved_nonnegative"),
        CheckConstraint("reserved <= on_hand", name="ck_stock_lots_not_oversold"),
    )

    warehouse: str = Field(primary_key=True, foreign_key="warehouses.code")
    sku: str = Field(primary_key=True, foreign_key="skus.sku")
    lot: str = Field(primary_key=True)
    on_hand: int = 0
    reserved: int = 0
    received_at: datetime = Field(default_factory=utcnow)
    expires_on: date | None = None


class ChannelReservation(SQLModel, table=True):
    """Safety stock kept for a channel: other channels may not take it."""

    __tablename__ = "channel_reservations"
    __table_args__ = (CheckConstraint("qty >= 0", name="ck_channel_reservations_qty"),)

    channel: str = Field(primary_key=True)
    warehouse: str = Field(primary_key=True, foreign_key="warehouses.code")
    sku: str = Field(primary_key=True, foreign_key="skus.sku")
    qty: int = 0


class StockAlert(SQLModel, table=True):
    """A low-stock alert; ``open_key`` (the SKU while open) keeps one open alert per SKU."""

    __tablename__ = "stock_alerts"

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(index=True, foreign_key="skus.sku")
    open_key: str | None = Field(default=None, unique=True)
    status: str = "open"  # open | resolved
    available: int
    threshold: int
    message: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None


class Backorder(SQLModel, table=True):
    """An order waiting for stock of a SKU; a receipt of that SKU wakes its workflow."""

    __tablename__ = "backorders"

    order_id: str = Field(primary_key=True, foreign_key="orders.id")
    sku: str = Field(primary_key=True)
    qty: int
    status: str = Field(default="open", index=True)  # open | filled | cancelled
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


class Shipment(SQLModel, table=True):
    """One parcel of an order: from one warehouse, with one carrier and tracking number."""

    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "parcel", name="uq_shipments_order_parcel"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, foreign_key="orders.id")
    parcel: int = 1
    carrier: str
    tracking_number: str = Field(unique=True)
    warehouses: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    warehouse: str = ""
    adapter: str = "simulated"
    service: str = ""
    service_level: str = "standard"
    price: float = 0
    weight_kg: float = 0
    # label_created | in_transit | out_for_delivery | delivered | exception
    status: str = "label_created"
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    label: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Orders of the same customer and address shipped in one box share this key (see activities/shipping.py).
    consolidation: str | None = Field(default=None, index=True)
    updated_at: datetime = Field(default_factory=utcnow)


class TrackingEvent(SQLModel, table=True):
    """What a carrier reported about a parcel; (carrier, event_id) makes webhooks idempotent."""

    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("carrier", "event_id", name="uq_tracking_events_carrier_event"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: int = Field(index=True, foreign_key="shipments.id")
    order_id: str = Field(index=True)
    carrier: str
    event_id: str
    type: str  # in_transit | out_for_delivery | delivered | exception
    description: str = ""
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class Wave(SQLModel, table=True):
    """A batch of orders picked together in one warehouse from one pick list."""

    __tablename__ = "waves"

    id: str = Field(primary_key=True)
    warehouse: str = Field(index=True, foreign_key="warehouses.code")
    status: str = "open"  # open | done
    orders: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    lines: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)


class WaveOrder(SQLModel, table=True):
    """An order's place in a wave; an order is in at most one open wave."""

    __tablename__ = "wave_orders"

    order_id: str = Field(primary_key=True, foreign_key="orders.id")
    wave_id: str = Field(index=True, foreign_key="waves.id")


class Customer(SQLModel, table=True):
    __tablename__ = "customers"

    id: str = Field(primary_key=True)
    name: str
    type: str = "consumer"  # consumer | b2b
    credit_limit: float = 0


class User(SQLModel, table=True):
    """A person who signs in; roles and scopes are read from here on every request (oms/auth.py)."""

    __tablename__ = "users"

    username: str = Field(primary_key=True)
    password_hash: str
    # admin, analyst, operator, channel, or a role an approval step names.
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Data scopes; empty: every channel or warehouse.
    channels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    warehouses: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    # Where escalated and overdue tasks of the user's roles are announced (services/escalations.py); "" none.
    email: str = ""
    # The pages' language ("en", "zh"); "" follows the browser (web/i18n.py).
    language: str = ""
    # Raised by sign-out, a password change and disabling: every token issued before stops working.
    token_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class ChannelKey(SQLModel, table=True):
    """An API key bound to one channel; only its sha256 is stored, the key is shown once."""

    __tablename__ = "channel_keys"

    id: str = Field(primary_key=True)  # public: the key's second part, shown in lists
    channel: str = Field(index=True)
    key_hash: str = Field(unique=True)
    label: str = ""
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class Return(SQLModel, table=True):
    """A customer's return of delivered goods, run by its own workflow (see workflows/returns.py)."""

    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_status_created", "status", "created_at"),)

    id: str = Field(primary_key=True)
    order_id: str = Field(index=True, foreign_key="orders.id")
    workflow_id: str = Field(unique=True)
    status: str = "requested"
    kind: str  # refund | exchange
    reason: str = Field(index=True)
    comment: str = ""
    replacement_sku: str | None = None
    photos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    flow_name: str
    flow_version: int
    value: float = 0  # price x quantity of the lines asked back
    refunded: float = 0
    refunded_shipping: float = 0
    label: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    audit: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    exchange_order_id: str | None = None
    # Every definition the return uses, pinned when it was requested (see Order.pins).
    pins: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


class ReturnLine(SQLModel, table=True):
    """One order line of a return. ``counted`` is what counts against the delivered quantity:
    the quantity asked while the return is open, what arrived once inspected, 0 once rejected or expired."""

    __tablename__ = "return_lines"

    return_id: str = Field(primary_key=True, foreign_key="returns.id")
    line_no: int = Field(primary_key=True)
    order_id: str = Field(index=True, foreign_key="orders.id")
    sku: str
    qty: int
    price: float
    counted: int
    # Quality check: [{result: resellable | damaged | missing, qty, reason}]
    results: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    restocked: int = 0
    written_off: int = 0


class ReturnEvent(SQLModel, table=True):
    """One line of a return's timeline; (return, seq) makes workflow writes idempotent."""

    __tablename__ = "return_events"
    __table_args__ = (UniqueConstraint("return_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    return_id: str = Field(index=True, foreign_key="returns.id")
    seq: int
    type: str
    step: str | None = None
    status: str | None = None
    message: str = ""
    # The message's wording and the values it was written with (services/timeline_words.py): the pages
    # say the line in the reader's language. None for lines no wording fits, and for those stored before.
    message_key: str | None = None
    message_values: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class FlowMigration(SQLModel, table=True):
    """One migration of a flow's waiting instances between versions: its plan, who started it, its progress
    (written by the ``FlowMigration`` workflow after every batch) and its result; the publish log lists it."""

    __tablename__ = "flow_migrations"

    id: str = Field(primary_key=True)
    flow: str = Field(index=True)
    source: int
    target: int
    where: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    by: str
    status: str = "running"  # running | paused | completed | failed
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    moved: int = 0
    already: int = 0
    stayed: int = 0
    failed: int = 0
    batches: int = 0
    error: str = ""
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class ChannelPullState(SQLModel, table=True):
    """A pull connector's cursor (the progress one run hands to the next) and its last run's outcome,
    with the listed orders it rejected (each naming the field); written when a run has taken every page."""

    __tablename__ = "channel_pulls"

    channel: str = Field(primary_key=True)
    cursor: str | None = None
    runs: int = 0
    last_run_at: datetime | None = None
    last_pages: int = 0
    last_items: int = 0
    last_created: int = 0
    last_existing: int = 0
    last_rejected: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class StockSyncChannel(SQLModel, table=True):
    """A channel whose stock is pushed to its platform (a live definition with ``stock_sync:``).

    Every stock change marks its SKUs for each row here (services/stock/sync_marks.py); ``sha256`` is
    the definition text the ``StockSync`` workflow last took its settings from: a new one pushes every SKU.
    """

    __tablename__ = "stock_sync_channels"

    channel: str = Field(primary_key=True)
    sha256: str
    since: datetime = Field(default_factory=utcnow)
    # Who last asked to push every SKU again (after the platform was fixed), and when.
    resync_by: str | None = None
    resync_at: datetime | None = None


class StockSyncItem(SQLModel, table=True):
    """One SKU of a syncing channel: whether it changed since its last push, and that push's outcome.

    ``changes`` grows with every stock change of the SKU; a push clears ``dirty_since`` only when
    ``changes`` is still what it read, so a change during a push is pushed again.
    """

    __tablename__ = "stock_sync_items"
    __table_args__ = (Index("ix_stock_sync_items_channel_dirty", "channel", "dirty_since"),)

    channel: str = Field(primary_key=True)
    sku: str = Field(primary_key=True)
    changes: int = 0
    dirty_since: datetime | None = None  # None: the platform has the latest quantity (or was told and refused)
    pushed_qty: int | None = None  # the last quantity the platform took
    pushed_at: datetime | None = None
    attempted_qty: int | None = None  # the quantity of the last attempt, taken or not
    attempted_at: datetime | None = None
    error: str | None = None  # why the last attempt failed; None once a push succeeds
    failures: int = 0  # attempts failed since the last success
