from pydantic import BaseModel


class LotView(BaseModel):
    lot: str
    on_hand: int
    reserved: int
    available: int
    received_at: str
    expires_on: str | None


class StockBalance(BaseModel):
    """A SKU's balance in one warehouse; ``channel_reserved`` is kept for channels."""

    warehouse: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    channel_reserved: int


class StockRow(StockBalance):
    """A balance; lot-tracked SKUs also list their lots (the key is absent for the others)."""

    lots: list[LotView] | None = None


class StockList(BaseModel):
    stock: list[StockRow]


class WarehouseView(BaseModel):
    code: str
    name: str
    region: str
    country: str
    latitude: float
    longitude: float
    handling_cost: float
    cutoff: str
    daily_capacity: int
    serves: list[str]


class WarehouseList(BaseModel):
    warehouses: list[WarehouseView]


class SkuView(BaseModel):
    sku: str
    name: str
    price: float
    weight_kg: float
    length_cm: float
    width_cm: float
    height_cm: float
    category: str
    lot_tracked: bool
    expiry_tracked: bool
    low_stock_threshold: int
    lead_time_days: int


class SkuList(BaseModel):
    skus: list[SkuView]


class MovementView(BaseModel):
    """A row of the stock ledger; ``qty`` is signed for adjustments and transfers."""

    id: int | None
    operation: str
    warehouse: str
    sku: str
    lot: str | None
    qty: int
    reason: str
    order_id: str | None
    line_no: int | None
    counterpart: str | None
    user: str | None
    at: str | None


class MovementList(BaseModel):
    movements: list[MovementView]
    limit: int
    offset: int


class MovementMade(MovementView):
    """The movement made, and the backordered orders it woke."""

    woken_orders: list[str]


class TransferMade(BaseModel):
    """The two ledger rows of a transfer (out, then in), and the backordered orders it woke."""

    movements: list[MovementView]
    woken_orders: list[str]


class AlertView(BaseModel):
    id: int
    sku: str
    status: str
    available: int
    threshold: int
    message: str
    created_at: str
    resolved_at: str | None


class AlertList(BaseModel):
    alerts: list[AlertView]


class Suggestion(BaseModel):
    """What to order of a SKU, and why."""

    sku: str
    available: int
    sold_in_window: int
    window_days: int
    daily_demand: float
    lead_time_days: int
    cover_days: int
    threshold: int
    days_of_stock: float | None
    suggested_qty: int
    why: str


class SuggestionList(BaseModel):
    suggestions: list[Suggestion]


class Quantities(BaseModel):
    on_hand: int
    reserved: int


class Difference(BaseModel):
    """A balance the ledger does not rebuild; ``lot`` only at the lot level."""

    level: str
    warehouse: str
    sku: str
    lot: str | None = None
    stored: Quantities
    ledger: Quantities


class NegativeBalance(BaseModel):
    warehouse: str
    sku: str
    on_hand: int
    reserved: int


class Reconciliation(BaseModel):
    """Every balance rebuilt from the ledger; ``ok`` when nothing differs and nothing is negative."""

    ok: bool
    movements: int
    balances: int
    lots: int
    differences: list[Difference]
    negative: list[NegativeBalance]


class BackorderView(BaseModel):
    order_id: str
    sku: str
    qty: int
    status: str
    created_at: str
    closed_at: str | None


class BackorderList(BaseModel):
    backorders: list[BackorderView]


class ChannelReserve(BaseModel):
    """Units of a SKU in a warehouse kept for one channel."""

    channel: str
    warehouse: str
    sku: str
    qty: int


class ChannelReserveList(BaseModel):
    channel_reserves: list[ChannelReserve]
