"""Pure helpers of the pages: inbox filters in the URL, times for people, safe redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.datastructures import QueryParams

from oms.models import Order, Task
from web.pages.inbox import InboxFilters, _row
from web.pages.orders import reserved_now
from web.pages.rendering import age, due, span
from web.pages.security import safe_next

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_filters_round_trip_through_the_url_and_drop_bad_values():
    filters = InboxFilters.from_query(
        QueryParams("reason=first-time+address&channel=phone&older_than=15&claimed=me&role=admin&sort=amount&page=3")
    )
    assert filters == InboxFilters("first-time address", "phone", 15, "me", "admin", sort="amount", page=3)
    assert filters.url(page=4) == (
        "/inbox?reason=first-time+address&channel=phone&older_than=15&claimed=me&role=admin&sort=amount&page=4"
    )
    assert InboxFilters.from_query(QueryParams(filters.url().split("?", 1)[1])) == filters
    assert filters.url(sort="due", page=1) == (
        "/inbox?reason=first-time+address&channel=phone&older_than=15&claimed=me&role=admin"
    )  # due soonest first is the default
    bad = InboxFilters.from_query(QueryParams("older_than=abc&claimed=everyone&role=channel&sort=customer&page=-2"))
    assert bad == InboxFilters()
    assert bad.url() == "/inbox"
    assert InboxFilters(channel="web").url(page=1) == "/inbox?channel=web"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "< 1 min"),
        (180, "3 min"),
        (3599, "59 min"),
        (7200, "2 h"),
        (47 * 3600, "47 h"),
        (4 * 86400, "4 d"),
    ],
)
def test_durations_read_like_people_write_them(seconds, text):
    assert span(seconds) == text


def test_age_and_due_treat_stored_times_as_utc():
    stored = (NOW - timedelta(minutes=3)).replace(tzinfo=None)  # as SQLite hands it back
    assert age(stored, NOW) == "3 min"
    assert due(NOW + timedelta(minutes=10, seconds=5), NOW) == "in 10 min"
    assert due((NOW - timedelta(hours=2)).isoformat(), NOW) == "2 h overdue"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/inbox?channel=web", "/inbox?channel=web"),
        ("/orders/ord_1", "/orders/ord_1"),
        ("https://evil.example/", "/inbox"),
        ("//evil.example/", "/inbox"),
        ("/\\evil.example", "/inbox"),
        ("javascript:alert(1)", "/inbox"),
        ("", "/inbox"),
        (None, "/inbox"),
    ],
)
def test_redirects_stay_on_this_site(target, expected):
    assert safe_next(target) == expected


def test_stock_still_held_is_reservations_not_released_or_shipped():
    moves = [
        {"line": 1, "sku": "A", "qty": 2, "warehouse": "W1", "state": "reserve"},
        {"line": 2, "sku": "B", "qty": 1, "warehouse": "W1", "state": "reserve"},
        {"line": 1, "sku": "A", "qty": 2, "warehouse": "W1", "state": "release"},
    ]
    assert reserved_now(moves) == [moves[1]]


def _task(due_in: timedelta, **fields) -> Task:
    return Task(
        id="t1", order_id="o1", workflow_id="w", step="s", title="t", role="operator", due_at=NOW + due_in, **fields
    )


@pytest.mark.parametrize(
    ("due_in", "sla"),
    [(timedelta(minutes=-1), "overdue"), (timedelta(minutes=59), "soon"), (timedelta(hours=1, seconds=1), "ok")],
)
def test_the_sla_colour_of_a_row(due_in, sla):
    order = Order(id="o1", channel="web", external_id="A-1", document={"customer": {"name": "Ann"}}, total=12.5)
    assert _row(_task(due_in), order, None, "operator", NOW).sla == sla


def test_a_row_names_the_customer_the_currency_and_who_holds_it():
    order = Order(
        id="o1", channel="web", external_id="A-1", document={"customer": {"name": "Ann"}, "currency": "chf"}, total=1234
    )
    row = _row(_task(timedelta(hours=3), claimed_by="ben", decisions=["approve", "reject"]), order, None, "ann", NOW)
    assert (row.customer, row.amount, row.claimed_by_other, row.quick_decisions) == (
        "Ann",
        "1,234.00 CHF",
        True,
        ["approve", "reject"],
    )
    qc = _row(_task(timedelta(hours=3), return_id="ret_1", decisions=["inspected"]), order, None, "ann", NOW)
    assert (qc.form_decisions, qc.quick_decisions, qc.claimed_by_other) == (["inspected"], [], False)


def test_a_refused_decision_reads_as_a_sentence():
    from web.pages.inbox import _could_not

    assert _could_not("reject", None, "it is decided") == "Could not reject this task: it is decided"
    assert _could_not("inspected", None, "no") == "Could not record “inspected” for this task: no"
