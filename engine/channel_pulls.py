"""Pull connectors: a channel whose platform does not push polls the platform's HTTP API instead.

A channel's ``pull:`` section says where its orders are listed (a URL, checked
against the outbound address rules when it is called), how the request is
authorised (a header whose value is read from an ``OMS_..._SECRET...``
environment variable), how often (``interval``), where the orders are in the
answer (``items``), the cursor that carries one run's progress to the next
(from the items, e.g. the greatest ``date_modified_gmt``, or from a field of the
answer, sent back as a query parameter), paging (a page number until a page
comes back empty or the total-pages header is reached, or the ``Link:
rel="next"`` header) and a rate limit (requests per second; a 429's
Retry-After is honoured by the runtime).

This module is pure: it builds the URLs and reads the answers; the service
(services/orders/channel_pull.py) does the HTTP and the intake.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engine.durations import parse_duration
from engine.errors import DefinitionError, join_path
from engine.outbound_config import SecretHeader, check_duration, parse_auth
from engine.outbound_config import retry_after_seconds as retry_after_seconds  # where its tests read it
from engine.payloads import MISSING, dig

# Longest a single run may page before it stops and leaves the rest to the next run.
DEFAULT_MAX_PAGES = 100
_LINK = re.compile(r"<([^>]*)>\s*;([^,]*)")


class PullShapeError(ValueError):
    """The platform's answer does not have the shape the ``pull:`` section describes."""


@dataclass(frozen=True)
class PullCursor:
    param: str  # the query parameter the cursor is sent in
    item: str | None  # the greatest value of this item field seen in a run becomes the next cursor
    field: str | None  # or: this field of the last page's answer
    initial: str | None  # sent on the first run, before any cursor is stored


@dataclass(frozen=True)
class PullPaging:
    page_param: str | None  # page numbers from 1 ...
    total_pages_header: str | None  # ... up to this header's number (WooCommerce's X-WP-TotalPages)
    next_link: bool  # or the Link header's rel="next" URL (Shopify's page_info)
    max_pages: int = DEFAULT_MAX_PAGES


@dataclass(frozen=True)
class Pull:
    url: str
    method: str
    interval_seconds: float
    items: str | None  # dotted path of the order list in the answer; None: the answer is the list
    query: Mapping[str, str]
    auth: SecretHeader | None
    cursor: PullCursor | None
    paging: PullPaging
    per_second: float | None

    @property
    def min_gap_seconds(self) -> float:
        """The least time between two requests of one run."""
        return 1 / self.per_second if self.per_second else 0.0

    def first_url(self, cursor: str | None) -> str:
        """The first page's URL: the definition's query, the cursor (or its initial value), page 1."""
        params = dict(self.query)
        value = cursor if cursor is not None else (self.cursor.initial if self.cursor else None)
        if self.cursor is not None and value is not None:
            params[self.cursor.param] = value
        if self.paging.page_param:
            params[self.paging.page_param] = "1"
        return _with_query(self.url, params)

    def next_url(self, url: str, page: int, headers: Mapping[str, str], items: list) -> str | None:
        """The URL of the page after ``page`` (fetched from ``url``), or None when that was the last.

        ``headers`` must look names up regardless of case, as a response's headers do.
        """
        if not items or page >= self.paging.max_pages:
            return None
        if self.paging.next_link:
            return next_link(headers.get("link") or "")
        if self.paging.page_param:
            total = (headers.get(self.paging.total_pages_header) or "") if self.paging.total_pages_header else ""
            if total.strip().isdigit() and page >= int(total):
                return None
            params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
            params[self.paging.page_param] = str(page + 1)
            return _with_query(url, params)
        return None

    def items_of(self, body: Any) -> list:
        """The orders in an answer; raises PullShapeError naming the path."""
        found = body if self.items is None else dig(body, self.items)
        where = self.items or "the answer"
        if found is MISSING or found is None:
            raise PullShapeError(f"{where} is missing: `pull.items` says the orders are there")
        if not isinstance(found, list):
            raise PullShapeError(f"{where} must be a list of orders, not {type(found).__name__}")
        return found

    def cursor_after(self, previous: str | None, body: Any, items: list) -> str | None:
        """The cursor once this page is taken: the greatest item value so far, or the answer's field."""
        if self.cursor is None:
            return previous
        if self.cursor.field is not None:
            value = dig(body, self.cursor.field)
            return previous if value is MISSING or value is None or value == "" else str(value)
        best = previous
        for item in items:
            value = dig(item, self.cursor.item or "")
            if value is MISSING or value is None or value == "":
                continue
            text = str(value)
            if best is None or _later(text, best):
                best = text
        return best

    def same_origin(self, url: str) -> bool:
        """Whether ``url`` (a next link the platform sent) is on the configured URL's scheme, host and port."""
        mine, theirs = urlsplit(self.url), urlsplit(url)
        return (mine.scheme, mine.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())


def _later(a: str, b: str) -> bool:
    """Numbers compare as numbers, anything else (ISO 8601 times) as text."""
    try:
        return float(a) > float(b)
    except ValueError:
        return a > b


def next_link(header: str) -> str | None:
    """The rel="next" URL of an RFC 8288 ``Link`` header (Shopify's paging), or None."""
    for target, params in _LINK.findall(header):
        rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', params)
        if any("next" in rel.split() for rel in rels):
            return target.strip()
    return None


def _with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    merged = dict(parse_qsl(parts.query, keep_blank_values=True))
    merged.update(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(merged), parts.fragment))


def parse_pull(raw: dict | None) -> Pull | None:
    if raw is None:
        return None
    cursor = raw.get("cursor")
    paging = raw.get("paging") or {}
    rate = raw.get("rate_limit") or {}
    return Pull(
        url=raw["url"],
        method=raw.get("method", "GET"),
        interval_seconds=parse_duration(raw.get("interval", "5m")),
        items=raw.get("items"),
        query={str(k): str(v) for k, v in (raw.get("query") or {}).items()},
        auth=parse_auth(raw.get("auth")),
        cursor=(
            PullCursor(cursor["param"], cursor.get("item"), cursor.get("field"), cursor.get("initial"))
            if cursor
            else None
        ),
        paging=PullPaging(
            paging.get("page_param"),
            paging.get("total_pages_header"),
            bool(paging.get("next_link", False)),
            int(paging.get("max_pages", DEFAULT_MAX_PAGES)),
        ),
        per_second=float(rate["per_second"]) if "per_second" in rate else None,
    )


def check_pull(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks of ``pull:`` the schema cannot express, each at its path."""
    base = "$.pull"
    yield from check_duration(
        raw, "interval", base, lambda seconds: seconds >= 10, "poll at most every 10 seconds ('10s' or longer)"
    )
    url = urlsplit(str(raw.get("url", "")))
    if url.query or url.fragment:
        yield DefinitionError(join_path(base, "url"), "give query parameters in `query`, not in the URL")
    cursor = raw.get("cursor") or {}
    if cursor and ("item" in cursor) == ("field" in cursor):
        yield DefinitionError(
            join_path(base, "cursor"), "say where the next cursor comes from: `item` or `field`, one of them"
        )
    paging = raw.get("paging") or {}
    if paging.get("next_link") and paging.get("page_param"):
        yield DefinitionError(join_path(base, "paging"), "page by `page_param` or by `next_link`, not both")
    if "total_pages_header" in paging and "page_param" not in paging:
        yield DefinitionError(join_path(base, "paging.total_pages_header"), "needs `page_param`")
    taken = {"query": set(raw.get("query") or {})}
    for name, param in (
        ("cursor.param", cursor.get("param")),
        ("paging.page_param", paging.get("page_param")),
    ):
        if param is not None and param in taken["query"]:
            yield DefinitionError(
                join_path(base, name), f"{param!r} is also in `query`: the connector sets it on each request"
            )
