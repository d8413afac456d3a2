"""The dashboard: what the OMS knows, for the people who run the business."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request

from services import dashboard as figures
from services.definitions.live import live_definitions
from services.errors import Forbidden, Invalid
from web.api.analytics import csv_response, scoped
from web.deps import CurrentUser, SessionDep
from web.pages import charts
from web.pages.figures import amount, duration, number, share
from web.pages.rendering import PageRoute, render
from web.pages.security import PageRefused, SignedIn
from web.pages.wording import words

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FIELDS = {"from": "From", "to": "To", "channel": "Channel", "country": "Country"}


class FilterErrors(Exception):
    """The filters asked for have mistakes: field -> message, shown beside the fields."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def _asked(request: Request) -> dict[str, str]:
    return {field: request.query_params.get(field, "").strip() for field in FIELDS}


def _chosen(asked: dict[str, str], user: CurrentUser) -> figures.Filters:
    """The filters asked for, limited to the user's channels and warehouses (FilterErrors: field mistakes)."""
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for field in ("from", "to"):
        try:
            days[field] = date.fromisoformat(asked[field]) if asked[field] else None
        except ValueError:
            days[field] = None
            errors[field] = f"{asked[field]!r} is not a date (YYYY-MM-DD)"
    try:
        chosen = figures.choose(days["from"], days["to"], asked["channel"], asked["country"])
    except Invalid as exc:
        for error in exc.details:
            errors.setdefault(error.field, error.message)
    if errors:
        raise FilterErrors(errors)
    try:
        return scoped(chosen, user)
    except Forbidden as exc:
        raise PageRefused(403, f"You see the figures of {', '.join(user.channels)} only.") from exc


@router.get("/dashboard/{table}.csv")
def dashboard_csv(table: str, request: Request, session: SessionDep, user: SignedIn):
    """The page's tables as CSV, with the page's sign-in (the API's twin needs a bearer token)."""
    try:
        chosen = _chosen(_asked(request), user)
    except FilterErrors as exc:
        raise PageRefused(422, f"{exc}.") from None
    every = figures.tables(figures.dashboard(session, chosen))
    if table not in every:
        raise PageRefused(404, f"There is no table {table!r}.")
    return csv_response(every[table], f"{table}_{chosen.start}_{chosen.end}.csv")


# The page's tables: (key, heading, how the value is written) per column; the CSV keeps raw values.
Column = tuple[str, str, str]
COLUMNS: dict[str, list[Column]] = {
    "sales_by_day": [("day", "Day", "text"), ("orders", "Orders", "number"), ("revenue", "Revenue", "amount")],
    "sales_by_channel": [
        ("channel", "Channel", "text"),
        ("orders", "Orders", "number"),
        ("revenue", "Revenue", "amount"),
    ],
    "sales_by_country": [
        ("country", "Country", "text"),
        ("orders", "Orders", "number"),
        ("revenue", "Revenue", "amount"),
    ],
    "sales_by_sku": [("sku", "SKU", "text"), ("units", "Units", "number"), ("revenue", "Revenue", "amount")],
    "audit_outcomes": [("outcome", "Outcome", "words"), ("orders", "Orders", "number")],
    "hold_reasons": [("rule", "Rule", "text"), ("action", "Action", "words"), ("orders", "Orders", "number")],
    "funnel": [("status", "Status", "words"), ("orders", "Orders", "number")],
    "cycle_times": [
        ("stage", "Stage", "text"),
        ("orders", "Orders", "number"),
        ("p50_seconds", "Median (p50)", "duration"),
        ("p90_seconds", "p90", "duration"),
        ("mean_seconds", "Mean", "duration"),
    ],
    "on_time_shipments": [
        ("warehouse", "Warehouse", "text"),
        ("parcels", "Parcels", "number"),
        ("on_time", "On time", "number"),
        ("on_time_rate", "On-time rate", "share"),
    ],
    "returns_by_sku": [
        ("sku", "SKU", "text"),
        ("units_returned", "Units returned", "number"),
        ("value", "Value", "amount"),
        ("units_sold", "Units sold", "number"),
        ("return_rate", "Return rate", "share"),
    ],
    "returns_by_reason": [
        ("reason", "Reason", "words"),
        ("units", "Units", "number"),
        ("value", "Value", "amount"),
        ("share", "Share", "share"),
    ],
    "returns_by_sku_and_reason": [
        ("sku", "SKU", "text"),
        ("reason", "Reason", "words"),
        ("units", "Units", "number"),
        ("value", "Value", "amount"),
    ],
    "stock_movers": [
        ("sku", "SKU", "text"),
        ("name", "Name", "text"),
        ("units_sold", "Units sold", "number"),
        ("on_hand", "On hand now, all warehouses", "number"),
        ("turnover", "Turnover", "number"),
    ],
    "forecast": [
        ("sku", "SKU", "text"),
        ("weekly_units", "Units per week", "text"),
        ("forecast_next_weeks", "Forecast, next 4 weeks", "text"),
    ],
}
# The columns that name a row (its data-key on the page: what tests and scripts find it by).
KEYS = {"hold_reasons": ("rule", "action"), "returns_by_sku_and_reason": ("sku", "reason")}


def _writers(currency: str) -> dict[str, Callable[[Any], str]]:
    return {
        "text": lambda v: "" if v is None else str(v),
        "words": words,
        "number": number,
        "amount": lambda v: amount(v, currency),
        "share": share,
        "duration": duration,
    }


def page_tables(tables: dict[str, list[dict]], currency: str) -> dict[str, dict[str, Any]]:
    """Every table as the page shows it: headings, and per row its key and the written cells."""
    write = _writers(currency)
    shown = {}
    for name, columns in COLUMNS.items():
        keys = KEYS.get(name, (columns[0][0],))
        rows = [
            {
                "key": "/".join(str(row[k]) for k in keys),
                "cells": [(write[kind](row.get(key)), kind) for key, _, kind in columns],
            }
            for row in tables[name]
        ]
        shown[name] = {"headings": [(heading, kind) for _, heading, kind in columns], "rows": rows}
    return shown


def pictures(board: dict[str, Any]) -> dict[str, Any]:
    """The charts: amounts written as in the tables, with the currency."""
    sales, currency = board["sales"], board["currency"]

    def money(value: float) -> str:
        return amount(value, currency)

    return {
        "revenue": charts.line_chart([(d["day"], d["revenue"]) for d in sales["by_day"]], "Revenue per day", money),
        "channels": charts.bar_chart(
            [(r["channel"], r["revenue"]) for r in sales["by_channel"]], "Revenue by channel", money
        ),
        "countries": charts.bar_chart([(r["country"], r["orders"]) for r in sales["by_country"]], "Orders by country"),
        "skus": charts.bar_chart([(r["sku"], r["revenue"]) for r in sales["by_sku"]], "Revenue by SKU", money),
        "funnel": charts.bar_chart(
            [(words(r["status"]), r["orders"]) for r in board["funnel"]], "Orders reaching each status"
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


def key_figures(board: dict[str, Any]) -> list[dict[str, str]]:
    """The figures at the top of the page (``key``: what tests and scripts find each by)."""
    totals, audit, currency = board["sales"]["totals"], board["audit"], board["currency"]
    return [
        {"key": "orders", "value": number(totals["orders"]), "label": "orders sold"},
        {"key": "units", "value": number(totals["units"]), "label": "units sold"},
        {"key": "revenue", "value": amount(totals["revenue"], currency), "label": "revenue"},
        {
            "key": "unsold",
            "value": number(totals["unsold_orders"]),
            "label": f"rejected or cancelled ({amount(totals['unsold_value'], currency)})",
        },
        {"key": "approval_rate", "value": share(audit["auto_approval_rate"]), "label": "approved by the rules"},
        {"key": "hold_rate", "value": share(audit["hold_rate"]), "label": "held for review"},
    ]


@router.get("/dashboard")
def dashboard_page(request: Request, session: SessionDep, user: SignedIn):
    asked = _asked(request)
    channels = [c for c in live_definitions(session).names("channel") if c in (user.channels or (c,))]
    context: dict[str, Any] = {"nav": "dashboard", "channels": channels, "fields": asked, "errors": {}}
    try:
        chosen = _chosen(asked, user)
    except FilterErrors as exc:
        # The page still renders: the form with what was typed and each mistake beside its field.
        return render(request, "pages/dashboard.html", {**context, "errors": exc.errors, "board": None}, 422)
    board = figures.dashboard(session, chosen)
    shown = {
        "from": chosen.start.isoformat(),
        "to": chosen.end.isoformat(),
        "channel": chosen.channel or "",
        "country": chosen.country or "",
    }
    return render(
        request,
        "pages/dashboard.html",
        {
            **context,
            "fields": shown,
            "board": board,
            "pictures": pictures(board),
            "key_figures": key_figures(board),
            "query": urlencode({k: v for k, v in shown.items() if v}),
            "tables": page_tables(figures.tables(board), board["currency"]),
            "unfiltered": {item["figure"]: item["why"] for item in board["unfiltered"]},
        },
    )
