from pydantic import BaseModel, ConfigDict, Field


class Filters(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")
    channel: str | None
    country: str | None


class DaySales(BaseModel):
    day: str
    orders: int
    revenue: float


class ChannelSales(BaseModel):
    channel: str
    orders: int
    revenue: float


class CountrySales(BaseModel):
    country: str
    orders: int
    revenue: float


class SkuSales(BaseModel):
    sku: str
    units: int
    revenue: float


class SalesTotals(BaseModel):
    """Orders sold in the range (captured, not ended rejected, cancelled or out of stock), and the unsold."""

    orders: int
    units: int
    revenue: float
    unsold_orders: int = Field(
        description="orders captured in the range that ended rejected, cancelled or out of stock"
    )
    unsold_value: float


class Sales(BaseModel):
    totals: SalesTotals
    by_day: list[DaySales]
    by_channel: list[ChannelSales]
    by_country: list[CountrySales]
    by_sku: list[SkuSales]


class HoldReason(BaseModel):
    rule: str
    action: str
    orders: int


class AuditOutcomes(BaseModel):
    """Orders audited, by outcome (approve, review, reject), with the rates and the rules that held most."""

    audited: int
    outcomes: dict[str, int]
    auto_approval_rate: float | None
    hold_rate: float | None
    reject_rate: float | None
    top_reasons: list[HoldReason]


class FunnelStage(BaseModel):
    status: str
    orders: int


class CycleTime(BaseModel):
    stage: str
    orders: int
    p50_hours: float | None
    p90_hours: float | None
    mean_hours: float | None
    p50_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None


class OnTime(BaseModel):
    warehouse: str
    parcels: int
    on_time: int
    on_time_rate: float | None


class SkuReturns(BaseModel):
    sku: str
    units_returned: int
    value: float
    units_sold: int
    return_rate: float | None


class ReasonReturns(BaseModel):
    reason: str
    units: int
    value: float
    share: float | None


class SkuReasonReturns(BaseModel):
    sku: str
    reason: str
    units: int
    value: float


class Returns(BaseModel):
    by_sku: list[SkuReturns]
    by_reason: list[ReasonReturns]
    by_sku_and_reason: list[SkuReasonReturns]


class StockMover(BaseModel):
    sku: str
    name: str
    units_sold: int
    on_hand: int
    turnover: float | None


class Forecast(BaseModel):
    sku: str
    weekly_units: list[int]
    forecast: list[float]


class Withheld(BaseModel):
    section: str = Field(description="a section of the dashboard, left empty")
    why: str


class Unfiltered(BaseModel):
    figure: str = Field(description="a figure (section.field) that does not obey every filter")
    why: str


class DashboardScope(BaseModel):
    """The caller's channels and warehouses (empty: all) and the sections its scope withholds."""

    channels: list[str]
    warehouses: list[str]
    withheld: list[Withheld]


class Dashboard(BaseModel):
    """Every section of the dashboard for the filters' date range (tables also as CSV)."""

    filters: Filters
    currency: str = Field(description="the currency of every amount (the shop's, OMS_CURRENCY)")
    sales: Sales
    audit: AuditOutcomes
    funnel: list[FunnelStage]
    cycle_times: list[CycleTime]
    on_time: list[OnTime]
    returns: Returns
    stock: list[StockMover]
    forecast: list[Forecast]
    unfiltered: list[Unfiltered]
    scope: DashboardScope
