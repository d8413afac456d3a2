"""Every figure of the dashboard obeys every filter: the service against a count made here.

A small world of orders (three channels, three countries, three days; held,
cancelled, rejected and out-of-stock orders, parcels against cut-offs,
returns, a changed address) is written to a fresh SQLite and PostgreSQL
database with its timelines; the counters are rebuilt from them, and each
figure of ``services.dashboard.dashboard`` under each filter must equal what
this module counts from the world's own description.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import median_low

import pytest
from sqlalchemy import create_engine, delete
from sqlmodel import Session, SQLModel, col

from oms.models import DailyMetric, Order, OrderEvent, Return, ReturnLine, Shipment, Sku, Stock, Warehouse
from services import analytics, dashboard
from services.errors import Invalid
from tests.conftest import _database

D0 = date(2026, 3, 2)
D1, D2 = D0 + timedelta(days=1), D0 + timedelta(days=4)
CUTOFFS = {"BER": "16:00", "PAR": "12:00"}
PRICES = {"MUG": 9.5, "CAP": 20.0, "LAMP": 120.0}
ON_HAND = {("BER", "MUG"): 40, ("PAR", "MUG"): 10, ("BER", "CAP"): 8, ("PAR", "LAMP"): 0}
NOT_SOLD = {"rejected", "cancelled", "out_of_stock"}
STAGES = {"capture to approved": (None, "reserved"), "approved to shipped": ("reserved", "shipped")}
STAGES["shipped to delivered"] = ("shipped", "delivered")


def at(day: date, clock: str) -> datetime:
    hours, minutes = clock.split(":")
    return datetime(day.year, day.month, day.day, int(hours), int(minutes), tzinfo=UTC)


@dataclass
class Spec:
    """One order of the world: where it went, what the audit said, the statuses it reached and when."""

    id: str
    channel: str
    country: str  # at capture
    captured: datetime
    action: str
    lines: list[tuple[str, int]]
    path: list[tuple[str, datetime]] = field(default_factory=list)
    parcels: list[str] = field(default_factory=list)
    returns: list[tuple[date, str, str, int]] = field(default_factory=list)  # day, reason, sku, qty
    moved_to: str | None = None  # the country of an address changed after capture
    rule: str = "high_value"

    @property
    def total(self) -> float:
        return sum(PRICES[sku] * qty for sku, qty in self.lines)

    def reached(self, status: str) -> datetime | None:
        return next((moment for s, moment in self.path if s == status), None)


WORLD = [
    Spec(
        "ord_w01", "alpha", "FR", at(D0, "09:00"), "approve", [("MUG", 2), ("CAP", 1)],
        [("reserved", at(D0, "09:30")), ("shipped", at(D0, "14:00")), ("delivered", at(D1, "09:00"))],
        ["BER", "PAR"], [(D1, "damaged", "MUG", 1)],
    ),
    Spec(
        "ord_w02", "alpha", "FR", at(D1, "08:00"), "review", [("LAMP", 1)],
        [("on_hold", at(D1, "08:01")), ("reserved", at(D1, "11:00")), ("shipped", at(D2, "10:00"))],
        ["PAR"],
    ),
    Spec(
        "ord_w03", "alpha", "DE", at(D0, "10:00"), "approve", [("MUG", 3)],
        [("reserved", at(D0, "10:05")), ("shipped", at(D0, "15:00")), ("delivered", at(D2, "09:00"))],
        ["BER"], [(D2, "wrong_size", "MUG", 2)],
    ),
    Spec(
        "ord_w04", "beta", "FR", at(D0, "16:30"), "approve", [("CAP", 2)],
        [("reserved", at(D0, "17:00")), ("shipped", at(D1, "13:00"))], ["BER"],
    ),
    Spec(
        "ord_w05", "beta", "DE", at(D1, "12:00"), "review", [("LAMP", 2)],
        [("on_hold", at(D1, "12:01")), ("cancelled", at(D2, "12:00"))], rule="ip_velocity",
    ),
    Spec(
        "ord_w06", "alpha", "FR", at(D2, "07:00"), "review", [("MUG", 1)],
        [("on_hold", at(D2, "07:01")), ("rejected", at(D2, "09:00"))],
    ),
    Spec("ord_w07", "gamma", "NL", at(D2, "11:00"), "approve", [("LAMP", 1)], [("out_of_stock", at(D2, "11:01"))]),
    Spec(
        "ord_w08", "alpha", "FR", at(D0, "12:00"), "approve", [("CAP", 1)],
        [("reserved", at(D0, "12:10")), ("shipped", at(D1, "08:00"))], ["BER"], moved_to="DE",
    ),
    Spec(
        "ord_w09", "gamma", "FR", at(D1, "09:00"), "approve", [("MUG", 4)],
        [("reserved", at(D1, "09:20")), ("shipped", at(D1, "17:00")), ("delivered", at(D2, "08:00"))],
        ["BER"], [(D2, "damaged", "MUG", 1), (D2, "changed_mind", "MUG", 1)],
    ),
]  # fmt: skip


def _address(country: str) -> dict:
    return {"street": "Rue 1", "city": "Town", "postal_code": "12345", "country": country}


def _write(session: Session) -> None:
    for code, cutoff in CUTOFFS.items():
        session.add(Warehouse(code=code, name=code, region="eu", country="DE", cutoff=cutoff))
    session.add_all([Sku(sku=sku, name=f"The {sku.lower()}", price=price) for sku, price in PRICES.items()])
    session.flush()
    session.add_all([Stock(warehouse=w, sku=s, on_hand=n) for (w, s), n in ON_HAND.items()])
    for spec in WORLD:
        lines = [{"sku": sku, "qty": qty, "price": PRICES[sku]} for sku, qty in spec.lines]
        document = {
            "channel": spec.channel,
            "shipping_address": _address(spec.moved_to or spec.country),
            "lines": lines,
            "total": spec.total,
        }
        last = spec.path[-1][0] if spec.path else "audited"
        session.add(
            Order(
                id=spec.id,
                channel=spec.channel,
                external_id=spec.id,
                workflow_id=f"order-{spec.id}",
                status=last,
                flow_name="order",
                flow_version=1,
                address_key=spec.id,
                total=spec.total,
                document=document,
                created_at=spec.captured,
            )
        )
        session.flush()
        fired = [{"rule": spec.rule, "action": spec.action}] if spec.action != "approve" else []
        timeline = [
            ("audited", "audited", spec.captured + timedelta(seconds=2), {"action": spec.action, "fired": fired})
        ]
        if spec.moved_to:
            changed = {"previous": _address(spec.country), "shipping_address": _address(spec.moved_to)}
            timeline.append(("address_changed", None, spec.captured + timedelta(minutes=1), changed))
        timeline += [("step", status, moment, {}) for status, moment in spec.path]
        for seq, (kind, status, moment, data) in enumerate(timeline, start=1):
            session.add(OrderEvent(order_id=spec.id, seq=seq, type=kind, status=status, data=data, at=moment))
        for parcel, warehouse in enumerate(spec.parcels, start=1):
            session.add(
                Shipment(
                    order_id=spec.id,
                    parcel=parcel,
                    carrier="sim",
                    tracking_number=f"{spec.id}-{parcel}",
                    warehouse=warehouse,
                )
            )
        for n, (day, reason, sku, qty) in enumerate(spec.returns, start=1):
            return_id = f"ret_{spec.id}_{n}"
            session.add(
                Return(
                    id=return_id,
                    order_id=spec.id,
                    workflow_id=f"return-{return_id}",
                    kind="refund",
                    reason=reason,
                    flow_name="return",
                    flow_version=1,
                    value=qty * PRICES[sku],
                    created_at=at(day, "18:00"),
                )
            )
            session.flush()
            line_no = next(i for i, (s, _) in enumerate(spec.lines, start=1) if s == sku)
            session.add(
                ReturnLine(
                    return_id=return_id,
                    line_no=line_no,
                    order_id=spec.id,
                    sku=sku,
                    qty=qty,
                    price=PRICES[sku],
                    counted=qty,
                )
            )
    session.flush()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    url, drop = _database(request.param, tmp_path_factory.mktemp(f"figures-{request.param}"))
    engine = create_engine(url)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        _write(session)
        analytics.rebuild(session)
        session.commit()
    yield engine
    engine.dispose()
    drop()


# -- what the figures must be, counted from the world's description ---------------------------------


def _chosen(spec: Spec, filters: dashboard.Filters) -> bool:
    channels = (filters.channel,) if filters.channel else filters.channels
    return (not channels or spec.channel in channels) and filters.country in (None, spec.country)


def _in(moment: datetime | date | None, filters: dashboard.Filters) -> bool:
    if moment is None:
        return False
    day = moment.date() if isinstance(moment, datetime) else moment
    return filters.start <= day <= filters.end


def expected(filters: dashboard.Filters) -> dict:
    chosen = [s for s in WORLD if _chosen(s, filters)]
    captured = [s for s in chosen if _in(s.captured, filters)]
    sold = [s for s in captured if not any(status in NOT_SOLD for status, _ in s.path)]
    by_day, by_channel, by_country = Counter(), Counter(), Counter()
    revenue_day, revenue_channel, revenue_country = Counter(), Counter(), Counter()
    units, sku_revenue = Counter(), Counter()
    for s in sold:
        for count, amount, key in (
            (by_day, revenue_day, s.captured.date().isoformat()),
            (by_channel, revenue_channel, s.channel),
            (by_country, revenue_country, s.country),
        ):
            count[key] += 1
            amount[key] += s.total
        for sku, qty in s.lines:
            units[sku] += qty
            sku_revenue[sku] += qty * PRICES[sku]
    funnel = Counter()
    for s in chosen:
        reached = [("received", s.captured), ("audited", s.captured + timedelta(seconds=2)), *s.path]
        funnel.update(status for status, moment in reached if _in(moment, filters))
    stages = {}
    for label, (start, end) in STAGES.items():
        durations = []
        for s in chosen:
            began, ended = (s.captured if start is None else s.reached(start)), s.reached(end)
            if began and ended and _in(ended, filters):
                durations.append((ended - began).total_seconds())
        stages[label] = durations
    parcels: dict[str, Counter] = defaultdict(Counter)
    for s in chosen:
        shipped = s.reached("shipped")
        if not _in(shipped, filters):
            continue
        ready = s.reached("reserved")
        for warehouse in s.parcels:
            cutoff = at(ready.date(), CUTOFFS[warehouse])
            due = ready.date() if ready <= cutoff else ready.date() + timedelta(days=1)
            parcels[warehouse]["on_time" if shipped.date() <= due else "late"] += 1
    returned: Counter = Counter()
    for s in chosen:
        for day, reason, sku, qty in s.returns:
            if _in(day, filters):
                returned[(sku, reason)] += qty
    return {
        "totals": {
            "orders": len(sold),
            "units": sum(units.values()),
            "revenue": round(sum(s.total for s in sold), 2),
            "unsold_orders": len(captured) - len(sold),
            "unsold_value": round(sum(s.total for s in captured if s not in sold), 2),
        },
        "by_day": {k: (by_day[k], round(revenue_day[k], 2)) for k in by_day},
        "by_channel": {k: (by_channel[k], round(revenue_channel[k], 2)) for k in by_channel},
        "by_country": {k: (by_country[k], round(revenue_country[k], 2)) for k in by_country},
        "by_sku": {k: (units[k], round(sku_revenue[k], 2)) for k in units},
        "outcomes": dict(Counter(s.action for s in captured)),
        "reasons": dict(Counter((s.rule, s.action) for s in captured if s.action != "approve")),
        "funnel": dict(funnel),
        "stages": stages,
        "parcels": {w: (sum(c.values()), c["on_time"]) for w, c in parcels.items()},
        "returns": dict(returned),
        "units": dict(units),
    }


FILTERS = {
    "everything": {},
    "channel alpha": {"channel": "alpha"},
    "country FR": {"country": "FR"},
    "channel alpha, country FR": {"channel": "alpha", "country": "FR"},
    "the first day": {"end": D0},
    "the last day": {"start": D2},
    "channel alpha, country FR, the last day": {"channel": "alpha", "country": "FR", "start": D2},
    "scoped to beta and gamma, country FR": {"channels": ("beta", "gamma"), "country": "FR"},
}


@pytest.mark.parametrize("name", FILTERS)
def test_every_figure_equals_a_count_under_each_filter(world, name):
    filters = dashboard.Filters(**{"start": D0, "end": D2 + timedelta(days=2), **FILTERS[name]})
    want = expected(filters)
    with Session(world) as session:
        board = dashboard.dashboard(session, filters)
    sales = board["sales"]
    assert sales["totals"] == want["totals"]
    assert {r["day"]: (r["orders"], r["revenue"]) for r in sales["by_day"]} == want["by_day"]
    assert {r["channel"]: (r["orders"], r["revenue"]) for r in sales["by_channel"]} == want["by_channel"]
    assert {r["country"]: (r["orders"], r["revenue"]) for r in sales["by_country"]} == want["by_country"]
    assert {r["sku"]: (r["units"], r["revenue"]) for r in sales["by_sku"]} == want["by_sku"]

    audit = board["audit"]
    assert audit["outcomes"] == want["outcomes"]
    audited = sum(want["outcomes"].values())
    assert audit["audited"] == audited
    assert audit["auto_approval_rate"] == (round(want["outcomes"].get("approve", 0) / audited, 4) if audited else None)
    assert audit["hold_rate"] == (round(want["outcomes"].get("review", 0) / audited, 4) if audited else None)
    assert {(r["rule"], r["action"]): r["orders"] for r in audit["top_reasons"]} == want["reasons"]

    assert {r["status"]: r["orders"] for r in board["funnel"]} == want["funnel"]
    for row in board["cycle_times"]:
        durations = want["stages"][row["stage"]]
        assert row["orders"] == len(durations)
        if durations:  # counted in buckets 1.25 times wider each: read within the exact median's bucket
            exact = median_low(durations)
            assert exact / 1.25 - 1 <= row["p50_seconds"] <= exact * 1.25 + 1
            assert row["p50_hours"] == round(row["p50_seconds"] / 3600, 2)
        else:
            assert row["p50_seconds"] is None

    assert {r["warehouse"]: (r["parcels"], r["on_time"]) for r in board["on_time"]} == want["parcels"]

    pairs = board["returns"]["by_sku_and_reason"]
    assert {(r["sku"], r["reason"]): r["units"] for r in pairs} == want["returns"]
    for row in board["returns"]["by_sku"]:
        sold = want["units"].get(row["sku"], 0)
        assert row["units_sold"] == sold
        returned = sum(n for (sku, _), n in want["returns"].items() if sku == row["sku"])
        assert row["return_rate"] == (round(returned / sold, 4) if sold else None)

    stock = {r["sku"]: r for r in board["stock"]}
    for sku in PRICES:
        on_hand = sum(n for (_, s), n in ON_HAND.items() if s == sku)
        assert (stock[sku]["units_sold"], stock[sku]["on_hand"]) == (want["units"].get(sku, 0), on_hand)
    for series in board["forecast"]:
        assert sum(series["weekly_units"]) == want["units"][series["sku"]]


def test_each_filter_narrows_each_figure(world):
    """The world is built so that every filter leaves out part of every figure: a filter that a
    figure ignored would pass the test above only if the figures happened to agree, and here they cannot."""
    base = dashboard.Filters(D0, D2 + timedelta(days=2))
    everything = expected(base)
    for name, narrowing in FILTERS.items():
        if name == "everything":
            continue
        narrowed = expected(dashboard.Filters(**{"start": D0, "end": D2 + timedelta(days=2), **narrowing}))
        for figure in ("totals", "outcomes", "funnel", "stages", "parcels", "returns", "by_sku"):
            assert narrowed[figure] != everything[figure], (name, figure)


def test_an_address_changed_after_capture_keeps_the_order_in_its_countrys_figures(world):
    with Session(world) as session:
        france = dashboard.dashboard(session, dashboard.Filters(D0, D2, channel="alpha", country="FR"))
        germany = dashboard.dashboard(session, dashboard.Filters(D0, D2, channel="alpha", country="DE"))
    assert "CAP" in {r["sku"] for r in france["sales"]["by_sku"]}  # ord_w08, moved to DE after capture
    assert {r["sku"] for r in germany["sales"]["by_sku"]} == {"MUG"}  # ord_w03 only


def test_counters_of_another_version_are_rebuilt_on_start_and_current_ones_kept(world):
    with Session(world) as session:
        assert analytics.current_version(session) == analytics.VERSION
        assert analytics.ensure_current(session) is None
        before = dashboard.dashboard(session, dashboard.Filters(D0, D2))
        # As a release that kept its counters otherwise left them: no version row, a counter of its own.
        session.execute(delete(DailyMetric).where(col(DailyMetric.metric) == "_version"))
        session.add(DailyMetric(metric="sku_channel", day=D0, k1="MUG", k2="alpha", count=2, amount=19.0))
        session.flush()
        assert analytics.current_version(session) is None
        assert analytics.ensure_current(session)
        assert analytics.current_version(session) == analytics.VERSION
        assert dashboard.dashboard(session, dashboard.Filters(D0, D2)) == before
        session.rollback()


@pytest.mark.parametrize(
    "start, end, channel, country, field, message",
    [
        (D2, D0, None, None, "to", f"To ({D0}) is before From ({D2})"),
        (date(2020, 1, 1), D0, None, None, "from", f"The range from 2020-01-01 to {D0} is longer than 1098 days"),
        (D0, D2, "Web Shop", None, "channel", "'Web Shop' is not a channel name"),
        (D0, D2, None, "France", "country", "'FRANCE' is not a country code (two letters, like FR)"),
    ],
)
def test_bad_filters_are_named_by_field(start, end, channel, country, field, message):
    with pytest.raises(Invalid) as refused:
        dashboard.choose(start, end, channel, country)
    assert [(e.field, e.message) for e in refused.value.details] == [(field, message)]


def test_filters_default_to_the_last_thirty_days_and_an_upper_case_country():
    chosen = dashboard.choose(None, None, "", "fr", today=D2)
    assert (chosen.start, chosen.end, chosen.channel, chosen.country) == (D2 - timedelta(days=29), D2, None, "FR")
