"""Pull connectors in the engine: validation at the definition path, URLs, paging, cursors."""

from __future__ import annotations

import pytest

from engine.channel_pulls import PullShapeError, next_link, retry_after_seconds
from engine.definitions import compile_text, validate_text

BASE = """\
kind: channel
name: woo_pull
type: web_shop
pull:
  url: https://shop.example/wp-json/wc/v3/orders
  interval: 5m
  auth: {header: Authorization, prefix: 'Basic ', secret_env: OMS_CHANNEL_SECRET_WOO}
  query: {per_page: 50, orderby: modified, order: asc}
  cursor: {param: modified_after, item: date_modified_gmt, initial: '2024-01-01T00:00:00'}
  paging: {page_param: page, total_pages_header: X-WP-TotalPages}
  rate_limit: {per_second: 2}
"""


def problems(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


def test_a_woocommerce_shaped_pull_is_valid_and_builds_its_pages():
    assert problems(BASE) == []
    pull = compile_text(BASE).pull
    assert pull is not None and pull.interval_seconds == 300 and pull.min_gap_seconds == 0.5
    first = pull.first_url(None)
    assert first == (
        "https://shop.example/wp-json/wc/v3/orders?per_page=50&orderby=modified&order=asc"
        "&modified_after=2024-01-01T00%3A00%3A00&page=1"
    )
    headers = {"X-WP-TotalPages": "2"}
    second = pull.next_url(first, 1, headers, [{}])
    assert second is not None and second.endswith("&page=2")
    assert pull.next_url(second, 2, headers, [{}]) is None  # the last page by the header
    assert pull.next_url(first, 1, {}, []) is None  # an empty page ends the run
    items = [{"date_modified_gmt": "2025-01-02T00:00:00"}, {"date_modified_gmt": "2025-01-01T00:00:00"}]
    assert pull.cursor_after("2024-12-31T00:00:00", items, items) == "2025-01-02T00:00:00"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ("interval: 5m", "$.pull.interval", "poll at most every 10 seconds"),
        ("url: https://shop.example/wp-json/wc/v3/orders", "$.pull.url", "give query parameters in `query`"),
        ("cursor: {param: modified_after, item: date_modified_gmt", "$.pull.cursor", "`item` or `field`"),
        ("paging: {page_param: page,", "$.pull.paging", "not both"),
        ("query: {per_page: 50,", "$.pull.cursor.param", "'modified_after' is also in `query`"),
    ],
)
def test_pull_mistakes_are_named_at_their_path(change, path, message):
    replacement = {
        "interval: 5m": "interval: 2s",
        "url: https://shop.example/wp-json/wc/v3/orders": "url: https://shop.example/orders?page=1",
        "cursor: {param: modified_after, item: date_modified_gmt": "cursor: {param: modified_after",
        "paging: {page_param: page,": "paging: {next_link: true, page_param: page,",
        "query: {per_page: 50,": "query: {modified_after: x, per_page: 50,",
    }[change]
    found = problems(BASE.replace(change, replacement))
    assert any(p == path and message in m for p, m in found), found


def test_the_schema_refuses_a_secret_in_the_definition():
    found = problems(BASE.replace("secret_env: OMS_CHANNEL_SECRET_WOO", "secret_env: PATH"))
    assert any(p.startswith("$.pull.auth.secret_env") for p, _ in found), found


def test_shopify_shaped_paging_follows_the_next_link_and_reads_items():
    text = BASE.replace(
        "paging: {page_param: page, total_pages_header: X-WP-TotalPages}", "paging: {next_link: true}\n  items: orders"
    )
    assert problems(text) == []
    pull = compile_text(text).pull
    assert pull is not None
    link = '<https://shop.example/wp-json/wc/v3/orders?page_info=abc&limit=50>; rel="next", <https://x>; rel="previous"'
    assert (
        pull.next_url(pull.url, 1, {"link": link}, [{}])
        == "https://shop.example/wp-json/wc/v3/orders?page_info=abc&limit=50"
    )
    assert pull.items_of({"orders": [1]}) == [1]
    with pytest.raises(PullShapeError, match="orders is missing"):
        pull.items_of({"order": []})
    assert next_link('<https://x?page_info=p>; rel="previous"') is None


def test_retry_after_is_read_in_seconds():
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 1
    assert retry_after_seconds("100000") == 300
