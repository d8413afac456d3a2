"""Wherever a person types an order, its external id works as well as the internal ``ord_…`` id; an external id
that orders of two channels have is refused where one order is meant, naming both, until the channel says which.

On SQLite and PostgreSQL, against the real web app, worker and dev server.
"""

from __future__ import annotations

import httpx

from tests.conftest import order_payload, unique
from tests.integration.test_returns import delivered_order, get_return, post_return
from web.deps import SESSION_COOKIE

LINE = {"lines": [{"line": 1, "qty": 1}], "reason": "changed_mind"}


def _page(stack, path: str) -> httpx.Response:
    """A page as the signed-in operator sees it (the API token is the session cookie), redirects not followed."""
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        client.cookies.set(SESSION_COOKIE, stack.token("operator"))
        return client.get(path)


def test_an_external_id_two_channels_have_asks_for_the_channel_or_the_orders_own_id(stack):
    shared = unique("SHARED")
    web = delivered_order(stack, external_id=shared)
    placed = stack.submit(order_payload(channel="phone", external_id=shared))
    assert placed.status_code == 201, placed.text
    phone_id = placed.json()["id"]
    message = (
        f"2 orders have the external id {shared!r} ({phone_id} in channel phone, {web['id']} in channel web): "
        "give the channel as well, or the order's own id (ord_…)"
    )

    refused = post_return(stack, {"order_id": shared, **LINE})
    assert (refused.status_code, refused.json()["errors"]) == (422, [{"field": "order_id", "message": message}])
    elsewhere = post_return(stack, {"order_id": shared, "channel": "store", **LINE})
    assert (elsewhere.status_code, elsewhere.json()["errors"]) == (
        404,
        [{"field": "order_id", "message": f"no order {shared!r} in channel 'store'"}],
    )
    not_a_name = post_return(stack, {"order_id": shared, "channel": ["web"], **LINE})
    assert (not_a_name.status_code, not_a_name.json()["errors"]) == (
        422,
        [{"field": "channel", "message": "channel must be a channel's name (text)"}],
    )
    taken = post_return(stack, {"order_id": shared, "channel": "web", **LINE})
    assert taken.status_code == 201, taken.text
    assert get_return(stack, taken.json()["id"])["order_id"] == web["id"]

    # The search box lists both; the order page sends the shared id to that list, a unique one to its order.
    with stack.client("operator") as client:
        found = client.get("/api/orders", params={"q": shared}).json()["orders"]
    assert sorted(o["id"] for o in found) == sorted([web["id"], phone_id])
    listed = _page(stack, f"/orders/{shared}")
    assert (listed.status_code, listed.headers["location"]) == (303, f"/orders?q={shared}")
    assert all(order_id in _page(stack, f"/orders?q={shared}").text for order_id in (web["id"], phone_id))
    # The return request page asks which channel's order it is (tests/integration/test_chinese_pages.py).
    asked = _page(stack, f"/returns/new?order_id={shared}")
    assert asked.status_code == 200
    assert all(f'name="channel" value="{channel}"' in asked.text for channel in ("phone", "web"))


def test_the_return_page_and_the_order_page_take_the_external_id(stack):
    order = delivered_order(stack)
    opened = _page(stack, f"/orders/{order['external_id']}")
    assert (opened.status_code, opened.headers["location"]) == (303, f"/orders/{order['id']}")
    form = _page(stack, f"/returns/new?order_id={order['external_id']}")
    assert form.status_code == 200 and f'value="{order["id"]}"' in form.text
    taken = post_return(stack, {"order_id": order["external_id"], **LINE})
    assert taken.status_code == 201, taken.text
    assert get_return(stack, taken.json()["id"])["order_id"] == order["id"]
