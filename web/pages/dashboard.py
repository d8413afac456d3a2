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
from web.i18n import N_, gettext
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
        raise PageRefused(
            403, gettext("You see the figures of %(channels)s only.", channels=", ".join(user.channels))
        ) from exc


@router.get("/dashboard/{table}.csv")
def dashboard_csv(table: str, request: Request, session: SessionDep, user: SignedIn):
    """The page's tables as CSV, with the page's sign-in (the API's twin needs a bearer token)."""
    try:
        chosen = _chosen(_asked(request), user)
    except FilterErrors as exc:
        raise PageRefused(422, f"{exc}.") from None
    every = figures.tables(figures.dashboard(session, chosen))
    if table not in every:
        raise PageRefused(404, gettext("There is no table %(table)r.", table=table))
    return csv_response(every[table], f"{table}_{chosen.start}_{chosen.end}.csv")


# The page's tables: (key, heading, how the value is written) per column; the CSV keeps raw values.
Column = tuple[str, str, str]
COLUMNS: dict[str, list[Column]] = {
    "sales_by_day": [
        ("day", N_("Day"), "text"),
        ("orders", N_("Orders"), "number"),
        ("revenue", N_("Revenue"), "amount"),
    ],
    "sales_by_channel": [
        ("channel", N_("Channel"), "text"),
        ("orders", N_("Orders"), "number"),
        ("revenue", N_("Revenue"), "amount"),
    ],
    "sales_by_country": [
        ("country", N_("Country"), "text"),
        ("orders", N_("Orders"), "number"),
        ("revenue", N_("Revenue"), "amount"),
    ],
    "sales_by_sku": [
        ("sku", N_("SKU"), "text"),
        ("units", N_("Units"), "number"),
        ("revenue", N_("Revenue"), "amount"),
    ],
    "audit_outcomes": [("outcome", N_("Outcome"), "words"), ("orders", N_("Orders"), "number")],
    "hold_reasons": [
        ("rule", N_("Rule"), "text"),
        ("action", N_("Action"), "words"),
        ("orders", N_("Orders"), "number"),
    ],
    "funnel": [("status", N_("Status"), "words"), ("orders", N_("Orders"), "number")],
    "cycle_times": [
        ("stage", N_("Stage"), "text"),
        ("orders", N_("Orders"), "number"),
        ("p50_seconds", N_("Median (p50)"), "duration"),
        ("p90_seconds", N_("p90"), "duration"),
        ("mean_seconds", N_("Mean"), "duration"),
    ],
    "on_time_shipments": [
        ("warehouse", N_("Warehouse"), "text"),
        ("parcels", N_("Parcels"), "number"),
        ("on_time", N_("On time"), "number"),
        ("on_time_rate", N_("On-time rate"), "share"),
    ],
    "returns_by_sku": [
        ("sku", N_("SKU"), "text"),
        ("units_returned", N_("Units returned"), "number"),
        ("value", N_("Value"), "amount"),
        ("units_sold", N_("Units sold"), "number"),
        ("return_rate", N_("Return rate"), "share"),
    ],
    "returns_by_reason": [
        ("reason", N_("Reason"), "words"),
        ("units", N_("Units"), "number"),
        ("value", N_("Value"), "amount"),
        ("share", N_("Share"), "share"),
    ],
    "returns_by_sku_and_reason": [
        ("sku", N_("SKU"), "text"),
        ("reason", N_("Reason"), "words"),
        ("units", N_("Units"), "number"),
        ("value", N_("Value"), "amount"),
    ],
    "stock_movers": [
        ("sku", N_("SKU"), "text"),
        ("name", N_("Name"), "text"),
        ("units_sold", N_("Units sold"), "number"),
        ("on_hand", N_("On hand now, all warehouses"), "number"),
        ("turnover", N_("Turnover"), "number"),
    ],
    "forecast": [
        ("sku", N_("SKU"), "text"),
        ("weekly_units", N_("Units per week"), "text"),
        ("forecast_next_weeks", N_("Forecast, next 4 weeks"), "text"),
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
        shown[name] = {"headings": [(gettext(heading), kind) for _, heading, kind in columns], "rows": rows}
    return shown


def pictures(board: dict[str, Any]) -> dict[str, Any]:
    """The charts: amounts written as in the tables, with the currency."""
    sales, currency = board["sales"], board["currency"]

    def money(value: float) -> str:
        return amount(value, currency)

    return {
        "revenue": charts.line_chart(
            [(d["day"], d["revenue"]) for d in sales["by_day"]], gettext("Revenue per day"), money
        ),
        "channels": charts.bar_chart(
            [(r["channel"], r["revenue"]) for r in sales["by_channel"]], gettext("Revenue by channel"), money
        ),
        "countries": charts.bar_chart(
            [(r["country"], r["orders"]) for r in sales["by_country"]], gettext("Orders by country")
        ),
        "skus": charts.bar_chart([(r["sku"], r["revenue"]) for r in sales["by_sku"]], gettext("Revenue by SKU"), money),
        "funnel": charts.bar_chart(
            [(words(r["status"]), r["orders"]) for r in board["funnel"]], gettext("Orders reaching each status")
        ),
        "forecast": {
            f["sku"]: charts.line_chart(
                [(gettext("week %(n)s", n=i + 1), v) for i, v in enumerate(f["weekly_units"])],
                gettext("Units of %(sku)s per week, with the forecast", sku=f["sku"]),
                forecast=f["forecast"],
            )
            for f in board["forecast"]
        },
    }


def key_figures(board: dict[str, Any]) -> list[dict[str, str]]:
    """The figures at the top of the page (``key``: what tests and scripts find each by)."""
    totals, audit, currency = board["sales"]["totals"], board["audit"], board["currency"]
    return [
        {"key": "orders", "value": number(totals["orders"]), "label": gettext("orders sold")},
        {"key": "units", "value": number(totals["units"]), "label": gettext("units sold")},
        {"key": "revenue", "value": amount(totals["revenue"], currency), "label": gettext("revenue")},
        {
            "key": "unsold",
            "value": number(totals["unsold_orders"]),
            "label": gettext("rejected or cancelled (%(value)s)", value=amount(totals["unsold_value"], currency)),
        },
        {
            "key": "approval_rate",
            "value": share(audit["auto_approval_rate"]),
            "label": gettext("approved by the rules"),
        },
        {"key": "hold_rate", "value": share(audit["hold_rate"]), "label": gettext("held for review")},
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
