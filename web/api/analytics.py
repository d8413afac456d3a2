import csv
import dataclasses
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from services import dashboard as figures
from services import scopes
from web.api.schemas.analytics import Dashboard
from web.deps import CurrentUser, SessionDep, UserDep

router = APIRouter(prefix="/api/analytics", tags=["analytics"])


def filters(
    start: Annotated[
        date | None, Query(alias="from", description="first day (UTC), default 29 days before `to`")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (UTC), inclusive; default today")] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    country: Annotated[
        str | None, Query(max_length=8, description="destination country (two letters, e.g. FR)")
    ] = None,
) -> figures.Filters:
    """The query's filters; a reversed or too long range, a bad channel or country: 422 naming the field."""
    return figures.choose(start, end, channel, country)


def scoped(chosen: figures.Filters, user: CurrentUser) -> figures.Filters:
    """The filters limited to the caller's channels and warehouses; a channel outside them is refused (403)."""
    if chosen.channel:
        scopes.check_channel(user, chosen.channel)
    return dataclasses.replace(chosen, channels=user.channels, warehouses=user.warehouses)


def scoped_filters(chosen: Annotated[figures.Filters, Depends(filters)], user: UserDep) -> figures.Filters:
    return scoped(chosen, user)


FiltersDep = Annotated[figures.Filters, Depends(scoped_filters)]


@router.get("", response_model=Dashboard)
def dashboard(session: SessionDep, chosen: FiltersDep) -> dict:
    """Sales, audit outcomes, funnel, cycle times, parcels, returns, stock movers and forecast for a date range.

    Every figure obeys the date range, channel and destination country; ``unfiltered`` names what
    cannot (with why). Sales count orders captured in the range that did not end rejected, cancelled
    or out of stock (those are ``sales.totals.unsold_*``); amounts are in ``currency``. A caller limited
    to channels gets the figures of its channels; one limited to warehouses, the on-time parcels of its
    warehouses. ``scope.withheld`` lists the sections a scope cannot limit so (left empty), with why."""
    return figures.dashboard(session, chosen)


@router.get("/{table}.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def table_csv(table: str, session: SessionDep, chosen: FiltersDep) -> Response:
    """One dashboard table as CSV (the names are the keys of ``tables`` in the dashboard)."""
    every = figures.tables(figures.dashboard(session, chosen))
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
