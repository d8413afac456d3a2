"""The dashboard: what the OMS knows, for the people who run the business."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request

from services import analytics
from services.definitions.live import live_definitions
from services.errors import Forbidden
from web.api.analytics import csv_response, filters, scoped
from web.deps import CurrentUser, SessionDep
from web.pages import charts
from web.pages.rendering import PageRoute, render
from web.pages.security import PageRefused, SignedIn

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PageRefused(422, f"{field}: {value!r} is not a date (YYYY-MM-DD).") from None


def _chosen(request: Request, user: CurrentUser) -> analytics.Filters:
    """The page's filters, limited to the user's channels and warehouses."""
    params = request.query_params
    try:
        chosen = filters(
            _day(params.get("from"), "From"),
            _day(params.get("to"), "To"),
            params.get("channel", ""),
            params.get("country", ""),
        )
    except HTTPException as exc:
        raise PageRefused(422, f"{exc.detail}.") from None
    try:
        return scoped(chosen, user)
    except Forbidden as exc:
        raise PageRefused(403, f"You see the figures of {', '.join(user.channels)} only.") from exc


@router.get("/dashboard/{table}.csv")
def dashboard_csv(table: str, request: Request, session: SessionDep, user: SignedIn):
    """The page's tables as CSV, with the page's sign-in (the API's twin needs a bearer token)."""
    chosen = _chosen(request, user)
    every = analytics.tables(analytics.dashboard(session, chosen))
    if table not in every:
        raise PageRefused(404, f"There is no table {table!r}.")
    return csv_response(every[table], f"{table}_{chosen.start}_{chosen.end}.csv")


@router.get("/dashboard")
def dashboard_page(request: Request, session: SessionDep, user: SignedIn):
    chosen = _chosen(request, user)
    board = analytics.dashboard(session, chosen)
    query = urlencode(
        {
            k: v
            for k, v in {
                "from": chosen.start.isoformat(),
                "to": chosen.end.isoformat(),
                "channel": chosen.channel or "",
                "country": chosen.country or "",
            }.items()
            if v
        }
    )
    sales = board["sales"]
    pictures = {
        "revenue": charts.line_chart([(d["day"], d["revenue"]) for d in sales["by_day"]], "Revenue per day"),
        "channels": charts.bar_chart([(r["channel"], r["revenue"]) for r in sales["by_channel"]], "Revenue by channel"),
        "countries": charts.bar_chart([(r["country"], r["orders"]) for r in sales["by_country"]], "Orders by country"),
        "skus": charts.bar_chart([(r["sku"], r["revenue"]) for r in sales["by_sku"]], "Revenue by SKU"),
        "funnel": charts.bar_chart(
            [(r["status"], r["orders"]) for r in board["funnel"]], "Orders reaching each status"
        ),
        "forecast": {
            f["sku"]: charts.line_chart(
                [(f"week {i + 1}", v) for i, v in enumerate(f["weekly_units"])],
                f"Units of {f['sku']} per week, with the forecast",
                forecast=f["forecast"],
            )
            for f in board["forecast"]
        },
    }
    return render(
        request,
        "pages/dashboard.html",
        {
            "nav": "dashboard",
            "board": board,
            "pictures": pictures,
            "query": query,
            "tables": analytics.tables(board),
            "channels": [c for c in live_definitions(session).names("channel") if c in (user.channels or (c,))],
        },
    )
