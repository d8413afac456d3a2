import csv
import dataclasses
import io
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from services import analytics, scopes
from web.api.schemas.analytics import Dashboard
from web.deps import CurrentUser, SessionDep, UserDep

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

MAX_DAYS = 3 * 366


def filters(
    start: Annotated[
        date | None, Query(alias="from", description="first day (UTC), default 29 days before `to`")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (UTC), inclusive; default today")] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    country: Annotated[str | None, Query(max_length=8, description="destination country (ISO code)")] = None,
) -> analytics.Filters:
    end = end or date.today()
    start = start or end - timedelta(days=29)
    if start > end:
        raise HTTPException(422, f"from ({start}) is after to ({end})")
    if (end - start).days >= MAX_DAYS:
        raise HTTPException(422, f"the range from {start} to {end} is longer than {MAX_DAYS} days")
    return analytics.Filters(start, end, channel or None, (country or "").upper() or None)


def scoped(chosen: analytics.Filters, user: CurrentUser) -> analytics.Filters:
    """The filters limited to the caller's channels and warehouses; a channel outside them is refused (403)."""
    if chosen.channel:
        scopes.check_channel(user, chosen.channel)
    return dataclasses.replace(chosen, channels=user.channels, warehouses=user.warehouses)


def scoped_filters(chosen: Annotated[analytics.Filters, Depends(filters)], user: UserDep) -> analytics.Filters:
    return scoped(chosen, user)


FiltersDep = Annotated[analytics.Filters, Depends(scoped_filters)]


@router.get("", response_model=Dashboard)
def dashboard(session: SessionDep, chosen: FiltersDep) -> dict:
    """Sales, audit outcomes, funnel, cycle times, stock movers and forecast for a date range.

    A caller limited to channels gets the figures of its channels; one limited to warehouses, the
    on-time parcels of its warehouses. ``scope.withheld`` lists the sections the day counters cannot
    limit so (left empty), each with the reason."""
    return analytics.dashboard(session, chosen)


@router.get("/{table}.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def table_csv(table: str, session: SessionDep, chosen: FiltersDep) -> Response:
    """One dashboard table as CSV (the names are the keys of ``tables`` in the dashboard)."""
    every = analytics.tables(analytics.dashboard(session, chosen))
    if table not in every:
        raise HTTPException(404, f"no table {table!r}; tables are {', '.join(every)}")
    return csv_response(every[table], f"{table}_{chosen.start}_{chosen.end}.csv")


def csv_cell(value: object) -> object:
    """A text that a spreadsheet would run as a formula (= + - @, tab, CR first) is prefixed with '."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_response(rows: list[dict], filename: str) -> Response:
    """Rows as CSV, every text cell safe to open in a spreadsheet (numbers stay numbers)."""
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=[csv_cell(k) for k in rows[0]])
        writer.writeheader()
        writer.writerows([{csv_cell(k): csv_cell(v) for k, v in row.items()} for row in rows])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
