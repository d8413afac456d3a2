"""GET /api/orders as a search: every filter, keyset pages and bad input, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import order_payload, unique


def _search(stack, role: str = "operator", **params) -> dict:
    with stack.client(role) as client:
        response = client.get("/api/orders", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _ids(body: dict) -> list[str]:
    return [o["id"] for o in body["orders"]]


def test_the_api_finds_orders_by_every_field_and_pages_by_keyset(stack):
    word = f"Quill{uuid.uuid4().hex[:8]}"
    phone = f"+49 30 {uuid.uuid4().int % 10**8:08d}"
    placed = []
    for n in range(3):
        payload = order_payload(
            customer={"name": f"Ada {word}", "email": f"{word}.{n}@Example.com", "phone": phone},
            lines=[{"sku": "SNEAKER-42" if n == 0 else "MUG-LOGO", "qty": 1, "price": 9.5}],
        )
        response = stack.submit(payload)
        assert response.status_code == 201, response.text
        placed.append((response.json()["id"], payload["external_id"]))
    newest_first = [order_id for order_id, _ in reversed(placed)]

    assert _ids(_search(stack, q=placed[1][1])) == [placed[1][0]]  # the external id
    assert _ids(_search(stack, q=placed[1][0])) == [placed[1][0]]  # the internal id
    assert _ids(_search(stack, q=word.lower())) == newest_first  # a word of the name, any case
    assert _ids(_search(stack, q=f"ada {word[:6]}")) == newest_first  # two words, the last a prefix
    assert _ids(_search(stack, q=f"{word}.2@EXAMPLE.com")) == [placed[2][0]]  # the e-mail, any case
    assert _ids(_search(stack, q=phone.replace(" ", "-"))) == newest_first  # the phone, however written
    assert _ids(_search(stack, q=word, sku="SNEAKER-42")) == [placed[0][0]]
    today = datetime.now(UTC).date()
    in_range = _search(stack, q=word, **{"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()})
    assert _ids(in_range) == newest_first
    assert _ids(_search(stack, q=word, to=(today - timedelta(days=2)).isoformat())) == []
    assert _ids(_search(stack, q=word, channel="shop")) == []
    assert _ids(_search(stack, q=word, sort="created")) == list(reversed(newest_first))

    # Keyset pages: one order a page, each page after the last row of the one before.
    seen, after = [], None
    while True:
        body = _search(stack, q=word, limit=1, **({"after": after} if after else {}))
        seen += _ids(body)
        after = body["next_cursor"]
        if after is None:
            break
    assert seen == newest_first

    row = _search(stack, q=placed[0][1])["orders"][0]
    assert row["customer"] == f"Ada {word}" and row["skus"] == ["SNEAKER-42"] and row["external_id"] == placed[0][1]

    # Once the orders have moved on, status finds them (and the old status no longer does).
    for order_id, _ in placed:
        stack.wait_status(order_id, "shipped", timeout=60)
    assert set(_ids(_search(stack, q=word, status="shipped,completed"))) == set(newest_first)
    assert _ids(_search(stack, q=word, status="received")) == []


def test_bad_search_parameters_are_field_errors_not_500s(stack):
    with stack.client("operator") as client:
        for params, field in (
            ({"sort": "price"}, "sort"),
            ({"from": "2026-13-01"}, "from"),
            ({"limit": "0"}, "limit"),
            ({"offset": str(10**6)}, "offset"),
        ):
            response = client.get("/api/orders", params=params)
            assert response.status_code == 422, (params, response.text)
            assert field in response.text
        response = client.get("/api/orders", params={"from": "2026-02-01", "to": "2026-01-01"})
        assert response.status_code == 422 and "ends before it starts" in response.text
        response = client.get("/api/orders", params={"after": "not-a-cursor"})
        assert response.status_code == 422 and "cursor" in response.text


def test_the_old_status_and_channel_filters_still_answer(stack):
    external_id = unique()
    order_id = stack.submit(order_payload(external_id=external_id)).json()["id"]
    order = stack.wait_status(order_id, "shipped", timeout=60)
    body = _search(stack, status=order["status"], channel="web", limit=500, offset=0)
    assert order_id in _ids(body) and body["offset"] == 0 and body["limit"] == 500
