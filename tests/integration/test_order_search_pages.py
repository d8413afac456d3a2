"""services.orders.search page by page on SQLite and PostgreSQL: a SKU or tag read from its key's date index,
the keyset cursor of every sort, ties included, equal to the same filter applied to every order in Python."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from oms import migrate
from oms.auth import Principal
from oms.models import Order, StockMovement
from services.orders import search as searching
from services.orders.search import parse_query, search
from tests.conftest import _database

ADMIN = Principal("admin", ("admin",))
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SKUS = ("MUG", "CAP", "TEE")


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def session(request, tmp_path_factory):
    """A migrated database with 40 orders: several share a time, several a total; some are tagged."""
    url, drop = _database(request.param, tmp_path_factory.mktemp("search"))
    migrate.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        for n in range(40):
            order_id = f"ord_{n:02d}"
            session.add(
                Order(
                    id=order_id,
                    channel=("web", "phone")[n % 2],
                    external_id=f"E-{n}",
                    workflow_id=f"wf-{n}",
                    status=("completed", "shipped", "awaiting_payment")[n % 3],
                    flow_name="order",
                    flow_version=1,
                    address_key="k",
                    phone=f"+4930{n:07d}",
                    tags=["vip"] if n % 3 != 1 else [],
                    total=float(n % 4),
                    document={"customer": {"name": f"Ann Berg{n}"}, "lines": [{"sku": SKUS[n % 3], "qty": 1}]},
                    created_at=START + timedelta(days=n // 3),  # three orders a day at the same moment
                )
            )
            session.add(StockMovement(order_id=order_id, operation="reserve", warehouse="BER", sku="MUG", qty=1))
        session.commit()
    with Session(engine) as session:
        yield session
    engine.dispose()
    drop()


def _pages(session: Session, params: dict[str, str], caller: Principal = ADMIN) -> list[str]:
    """Every page of 4 in turn, each after the previous page's cursor: the ids in the order shown."""
    shown, after = [], ""
    while True:
        found = search(session, caller, parse_query({**params, "limit": "4", "after": after}))
        shown += [o.id for o in found.orders]
        if found.next_cursor is None:
            return shown
        after = found.next_cursor


def _expected(session: Session, keep: Callable[[Order], bool], key: Callable[[Order], tuple], reverse: bool) -> list:
    orders = [o for o in session.exec(select(Order)).all() if keep(o)]
    return [o.id for o in sorted(orders, key=key, reverse=reverse)]


def _skus(order: Order) -> set[str]:
    return {line["sku"] for line in order.document["lines"]}


NEWEST = (lambda o: (o.created_at, o.id), True)
OLDEST = (lambda o: (o.created_at, o.id), False)
LARGEST = (lambda o: (o.total, o.id), True)


def _case(params: dict[str, str], keep: Callable[[Order], bool], order: tuple) -> object:
    return pytest.param(params, keep, order, id=urlencode(params) or "everything")


@pytest.mark.parametrize(
    ("params", "keep", "order"),
    [
        _case({"tag": "vip"}, lambda o: "vip" in o.tags, NEWEST),
        _case({"tag": "vip", "sort": "created"}, lambda o: "vip" in o.tags, OLDEST),
        _case({"sku": "MUG"}, lambda o: "MUG" in _skus(o), NEWEST),
        _case({"sku": "CAP", "tag": "vip"}, lambda o: "CAP" in _skus(o) and "vip" in o.tags, NEWEST),
        _case(
            {"tag": "vip", "status": "completed,awaiting_payment", "channel": "web"},
            lambda o: "vip" in o.tags and o.status != "shipped" and o.channel == "web",
            NEWEST,
        ),
        _case(
            {"tag": "vip", "from": "2026-01-03", "to": "2026-01-06"},
            lambda o: "vip" in o.tags and date(2026, 1, 3) <= o.created_at.date() <= date(2026, 1, 6),
            NEWEST,
        ),
        _case({"tag": "vip", "sort": "-total"}, lambda o: "vip" in o.tags, LARGEST),
        _case({"sort": "-total"}, lambda o: True, LARGEST),
        _case({}, lambda o: True, NEWEST),
        _case({"q": "ann", "warehouse": "BER"}, lambda o: True, NEWEST),
    ],
)
def test_every_page_follows_the_last_and_together_they_are_the_matches_in_order(session, params, keep, order):
    key, reverse = order
    assert _pages(session, params) == _expected(session, keep, key, reverse)


def test_a_scoped_caller_pages_through_only_their_channels_tagged_orders(session):
    scoped = Principal("ops", ("operator",), ("web",), ("BER",))
    expected = _expected(session, lambda o: "vip" in o.tags and o.channel == "web", *NEWEST)
    assert _pages(session, {"tag": "vip"}, scoped) == expected
    assert _pages(session, {"tag": "nobody-has-it"}) == []


@pytest.mark.parametrize("sort", ["-created", "-total"])
def test_a_word_many_names_share_is_found_in_the_lists_order_as_its_keys_find_it(session, monkeypatch, sort):
    by_keys = {word: _pages(session, {"q": word, "sort": sort}) for word in ("ann", "berg1")}
    assert len(by_keys["ann"]) == 40 and len(by_keys["berg1"]) == 11  # berg1, berg10 ... berg19
    monkeypatch.setattr(searching, "WORD_COUNT_CAP", 5)  # now both words are common ones
    assert {word: _pages(session, {"q": word, "sort": sort}) for word in by_keys} == by_keys
    monkeypatch.setattr(searching, "WORD_COUNT_CAP", 0)  # every word common: ids are still looked up
    assert _pages(session, {"q": "E-7", "sort": sort}) == _pages(session, {"q": "ord_07", "sort": sort}) == ["ord_07"]


@pytest.mark.parametrize("typed", ["+49 30 0000007", "+49 (30) 000-0007", "+49300000007"])
def test_a_phone_number_is_found_however_it_is_typed(session, typed):
    assert _pages(session, {"q": typed}) == ["ord_07"]
