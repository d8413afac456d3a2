"""Finding orders: one query for the order list, its CSV export and ``GET /api/orders``.

Every filter reads an indexed column (oms/migrations/versions/0005_order_search.py):
the external id, the lower-case e-mail and name, the phone's digits, and
``order_keys`` (each SKU, tag and word of the customer's name, with the order's
time: 0009_search_keys.py). The search box takes any of them; a page is a keyset
after the last row shown (its sort value and id), so page 1,000 costs what page 1
costs. Nothing counts the matches: at a million orders a count is the slow part
of a list. What each query type costs at a million orders: bench/order_search.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, tuple_, union
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from engine.forms import FieldError
from oms.auth import Principal
from oms.models import Order, OrderKey, StockMovement
from services import scopes
from services.errors import Invalid

SORTS = {
    "-created": (Order.created_at, True),
    "created": (Order.created_at, False),
    "-total": (Order.total, True),
    "total": (Order.total, False),
}
SORT_WORDS = {
    "-created": "Newest first",
    "created": "Oldest first",
    "-total": "Largest total",
    "total": "Smallest total",
}
MAX_LIMIT = 500
EXPORT_LIMIT = 10_000  # rows of one CSV export; narrow the search for more
WORD_COUNT_CAP = 2_000
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,}$")
_TOP = "\U0010ffff"  # above every character: [prefix, prefix + _TOP) holds every text starting with prefix


class BadSearch(Invalid):
    """A search parameter that cannot be read (a cursor, date, sort or number)."""


@dataclass(frozen=True)
class OrderQuery:
    """What the list shows: the filters (all must hold), the order of rows and where the page starts."""

    q: str = ""  # an order id, external id, e-mail, phone or customer name
    status: tuple[str, ...] = ()
    channel: str = ""
    warehouse: str = ""
    sku: str = ""
    tag: str = ""
    created_from: date | None = None
    created_to: date | None = None
    older_than_days: int | None = None
    sort: str = "-created"
    after: str = ""  # the keyset cursor of the previous page's last row
    limit: int = 50

    def filters(self) -> dict[str, str]:
        """The query as URL parameters (empty ones left out), without the cursor: what a saved view stores."""
        values = {
            "q": self.q,
            "status": ",".join(self.status),
            "channel": self.channel,
            "warehouse": self.warehouse,
            "sku": self.sku,
            "tag": self.tag,
            "from": self.created_from.isoformat() if self.created_from else "",
            "to": self.created_to.isoformat() if self.created_to else "",
            "older_than_days": "" if self.older_than_days is None else str(self.older_than_days),
            "sort": "" if self.sort == "-created" else self.sort,
        }
        return {k: v for k, v in values.items() if v}


def _date(name: str, text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise BadSearch("bad_date", f"{name} must be a date like 2026-01-31, not {text!r}", field=name) from None


def _number(name: str, text: str, low: int, high: int) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadSearch("bad_number", f"{name} must be a whole number from {low} to {high}", field=name)
    return int(text)


def parse_query(params: dict[str, str]) -> OrderQuery:
    """An OrderQuery from URL parameters (as ``filters`` writes them); BadSearch names the field it cannot read."""
    get = {k: str(v).strip()[:200] for k, v in params.items() if v is not None}
    sort = get.get("sort") or "-created"
    if sort not in SORTS:
        raise BadSearch("bad_sort", f"sort must be one of {', '.join(SORTS)}", field="sort")
    query = OrderQuery(
        q=get.get("q", ""),
        status=tuple(s for s in re.split(r"[,\s]+", get.get("status", "")) if s),
        channel=get.get("channel", ""),
        warehouse=get.get("warehouse", ""),
        sku=get.get("sku", ""),
        tag=get.get("tag", ""),
        created_from=_date("from", get.get("from", "")),
        created_to=_date("to", get.get("to", "")),
        older_than_days=_number("older_than_days", get.get("older_than_days", ""), 0, 3660),
        sort=sort,
        after=get.get("after", ""),
        limit=_number("limit", get.get("limit", ""), 1, MAX_LIMIT) or 50,
    )
    if query.created_from and query.created_to and query.created_from > query.created_to:
        raise BadSearch("bad_range", "the date range ends before it starts", field="to")
    return query


def _keyed(kind: str, value: str, prefix: bool = False) -> Any:
    """Ids of the orders with key (kind, value), or (kind, a value starting with ``value``)."""
    if not prefix:
        return select(OrderKey.order_id).where(OrderKey.kind == kind, OrderKey.value == value)
    return select(OrderKey.order_id).where(
        OrderKey.kind == kind, col(OrderKey.value) >= value, col(OrderKey.value) < value + _TOP
    )


def _matches(session: Session, word: str) -> int:
    """How many orders have a name word starting with ``word``, counted up to WORD_COUNT_CAP."""
    # In index order: PostgreSQL otherwise reads every match of a common word (a bitmap) before the cap.
    capped = _keyed("word", word, prefix=True).order_by(col(OrderKey.value)).limit(WORD_COUNT_CAP).subquery()
    return int(session.exec(select(func.count()).select_from(capped)).one())


def _rarest(session: Session | None, words: list[str]) -> str:
    """The word of a name that matches the fewest orders (counted up to WORD_COUNT_CAP): the index's way in."""
    if session is None:
        return max(words, key=len)
    return min(words, key=lambda word: _matches(session, word))


def _name_has(word: str) -> ColumnElement[bool]:
    """A word of the order's name starts with ``word``: tested on the row itself, no key read."""
    name = col(Order.customer_name)
    return or_(name.startswith(word, autoescape=True), name.contains(" " + word, autoescape=True))


def text_clause(text: str, session: Session | None = None) -> ColumnElement[bool]:
    """Orders the search box means: its id or external id, an e-mail, a phone number or the customer's name."""
    words, phone = text.lower().split(), _PHONE.match(text.strip()) is not None
    if len(words) > 1 and not phone:  # a name: the rarest word picks by index, every word must be in the name
        driver = _rarest(session, words)
        rest = [col(Order.customer_name).contains(word, autoescape=True) for word in words if word != driver]
        return and_(col(Order.id).in_(_keyed("word", driver, prefix=True)), *rest)
    ids = [
        select(Order.id).where(Order.id == text),
        select(Order.id).where(Order.external_id == text),
    ]
    if "@" in text:
        ids.append(select(Order.id).where(col(Order.email) >= words[0], col(Order.email) < words[0] + _TOP))
    if phone:  # however it is written: "+49 30 1234567", "(030) 123-4567"
        ids.append(select(Order.id).where(Order.phone == re.sub(r"[^0-9+]", "", text)))
        if len(words) > 1:
            return col(Order.id).in_(union(*ids))
    if session is not None and _matches(session, words[0]) >= WORD_COUNT_CAP:
        # A word many names have (a first name): the list's own order finds a page of them in a few
        # thousand rows, where looking up every match and sorting them takes seconds at a million orders.
        return or_(col(Order.id).in_(union(*ids)), _name_has(words[0]))
    return col(Order.id).in_(union(*ids, _keyed("word", words[0], prefix=True)))


def _cursor_clause(query: OrderQuery, column: Any, id_column: Any) -> ColumnElement[bool] | None:
    """Rows after the cursor's (sort value, id) in the list's order, in a form an index on the sort value takes."""
    if not query.after:
        return None
    sort_column, descending = SORTS[query.sort]
    value_text, _, last_id = query.after.replace("\x00", "").rpartition("~")
    try:
        value: Any = datetime.fromisoformat(value_text) if sort_column is Order.created_at else float(value_text)
    except ValueError:
        raise BadSearch("bad_cursor", "the page cursor is not one this list gave out", field="after") from None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # Not "value < v OR (value = v AND id < last)", a filter over every row shown before: the range on
    # the value starts a scan of its own index at the cursor, and the row comparison starts one of an
    # index on (value, id) exactly there, however many orders share the value (a total, say).
    if descending:
        return and_(column <= value, tuple_(column, id_column) < tuple_(value, last_id))
    return and_(column >= value, tuple_(column, id_column) > tuple_(value, last_id))


def cursor_of(order: Order, sort: str) -> str:
    column, _ = SORTS[sort]
    moment = order.created_at if order.created_at.tzinfo else order.created_at.replace(tzinfo=UTC)
    value = moment.astimezone(UTC).isoformat() if column is Order.created_at else repr(order.total)
    return f"{value}~{order.id}"


def _driving_key(query: OrderQuery) -> tuple[str, str] | None:
    """The SKU or tag key whose index lists its orders by date: the way in when the list is sorted by date."""
    if SORTS[query.sort][0] is not Order.created_at:
        return None
    sku, tag = query.sku.replace("\x00", ""), query.tag.replace("\x00", "")
    return ("sku", sku) if sku else ("tag", tag) if tag else None


def clauses(
    query: OrderQuery,
    caller: Principal,
    now: datetime | None = None,
    session: Session | None = None,
    driver: tuple[str, str] | None = None,
    created: Any = Order.created_at,
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``query`` for ``caller`` (their channel and warehouse scopes included).

    The key ``driver`` is left out (the search joins it); date bounds are on ``created``, the
    joined key's copy of the order's time when there is one.
    """
    # PostgreSQL refuses NUL in a text parameter (an error, not a miss): no order has one anyway.
    query = replace(
        query,
        **{k: getattr(query, k).replace("\x00", "") for k in ("q", "channel", "warehouse", "sku", "tag")},
        status=tuple(s.replace("\x00", "") for s in query.status),
    )
    where: list[ColumnElement[bool]] = []
    if (scope := scopes.order_clause(caller)) is not None:
        where.append(scope)
    if query.q.strip():
        where.append(text_clause(query.q, session))
    if query.status:
        where.append(col(Order.status).in_(query.status))
    if query.channel:
        where.append(col(Order.channel) == query.channel)
    if query.warehouse:
        where.append(
            exists().where(
                col(StockMovement.order_id) == col(Order.id), col(StockMovement.warehouse) == query.warehouse
            )
        )
    for kind, value in (("sku", query.sku), ("tag", query.tag)):
        if value and (kind, value) != driver:
            where.append(col(Order.id).in_(_keyed(kind, value)))
    if query.created_from:
        where.append(created >= datetime.combine(query.created_from, time(), UTC))
    if query.created_to:
        where.append(created < datetime.combine(query.created_to + timedelta(days=1), time(), UTC))
    if query.older_than_days is not None:
        where.append(created < (now or datetime.now(UTC)) - timedelta(days=query.older_than_days))
    return where


@dataclass(frozen=True)
class Found:
    orders: list[Order]
    next_cursor: str | None  # the ``after`` of the next page; None on the last page


def search(session: Session, caller: Principal, query: OrderQuery, offset: int = 0) -> Found:
    """One page of the orders ``caller`` may see that match ``query``, in its sort order.

    Filtered by a SKU or tag and sorted by date, the rows come from that key's
    index in date order (``order_keys`` carries the order's ``created_at``), so
    a tag on 10,000 orders costs one page of lookups, not 10,000 and a sort.
    """
    column, descending = SORTS[query.sort]
    sort_column, id_column = col(column), col(Order.id)
    statement = select(Order)
    if (driver := _driving_key(query)) is not None:
        key = aliased(OrderKey)
        statement = statement.join(
            key, and_(col(key.order_id) == col(Order.id), col(key.kind) == driver[0], col(key.value) == driver[1])
        )
        sort_column, id_column = col(key.created_at), col(key.order_id)
    where = clauses(query, caller, session=session, driver=driver, created=sort_column if driver else Order.created_at)
    statement = statement.where(*where)
    if (after := _cursor_clause(query, sort_column, id_column)) is not None:
        statement = statement.where(after)
    order_by = (sort_column.desc(), id_column.desc()) if descending else (sort_column, id_column)
    rows = list(session.exec(statement.order_by(*order_by).offset(offset).limit(query.limit + 1)).all())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Found(rows, cursor_of(rows[-1], query.sort) if more and rows else None)


def export(session: Session, caller: Principal, query: OrderQuery) -> list[Order]:
    """Every match up to EXPORT_LIMIT, in the list's order (from the first page)."""
    return search(session, caller, replace(query, after="", limit=EXPORT_LIMIT)).orders


class AmbiguousOrder(Invalid):
    """An external id that orders of several channels have, typed without its channel."""

    # (channel, order id) of each order that has it, for a page to offer the choice.
    matches: tuple[tuple[str, str], ...] = ()


def resolve_order(
    session: Session, caller: Principal | None, reference: str, channel: str = "", field: str = "order_id"
) -> Order | None:
    """The order a person typed: its internal ``ord_…`` id or its external id (of ``channel``, when given).

    None when no order the caller sees has it (``caller`` None: every order).
    An external id is unique per channel only: typed alone and found in several
    channels the caller sees, it raises AmbiguousOrder about ``field``, naming
    each match, so the person can give the channel or the internal id.
    """
    reference, channel = reference.replace("\x00", "").strip(), channel.replace("\x00", "").strip()
    if not reference:
        return None
    order = session.get(Order, reference)
    seen = order is not None and (caller is None or scopes.sees_order(session, caller, order))
    if order is not None and seen and channel in ("", order.channel):
        return order
    statement = select(Order).where(Order.external_id == reference)
    if channel:
        statement = statement.where(Order.channel == channel)
    if caller is not None and (scope := scopes.order_clause(caller)) is not None:
        statement = statement.where(scope)
    found = session.exec(statement.order_by(col(Order.channel)).limit(10)).all()
    if len(found) > 1:
        matches = ", ".join(f"{o.id} in channel {o.channel}" for o in found)
        message = (
            f"{len(found)} orders have the external id {reference!r} ({matches}): "
            "give the channel as well, or the order's own id (ord_…)"
        )
        ambiguous = AmbiguousOrder("order_ambiguous", message, field=field, details=[FieldError(field, message)])
        ambiguous.matches = tuple((o.channel, o.id) for o in found)
        raise ambiguous
    return found[0] if found else None


def find_order(session: Session, caller: Principal, reference: str) -> Order | None:
    """The order a person typed (see ``resolve_order``); None if there is none, or the external id is ambiguous."""
    try:
        return resolve_order(session, caller, reference)
    except AmbiguousOrder:
        return None


def row_view(order: Order) -> dict[str, Any]:
    """A row of the list (and of the CSV): the summary plus who ordered what."""
    customer = order.document.get("customer") or {}
    return {
        "id": order.id,
        "external_id": order.external_id,
        "channel": order.channel,
        "status": order.status,
        "customer": str(customer.get("name") or ""),
        "email": str(customer.get("email") or ""),
        "phone": order.phone or "",
        "skus": sorted({str(line.get("sku")) for line in order.document.get("lines") or []}),
        "tags": list(order.tags),
        "total": order.total,
        "currency": str(order.document.get("currency") or ""),
        "created_at": order.created_at,
    }
