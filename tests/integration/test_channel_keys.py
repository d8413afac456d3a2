"""Channel API keys: bound to one channel, shown once, stored hashed; rotate and revoke take effect at once."""

from __future__ import annotations

import hashlib

import httpx

from tests.conftest import order_payload


def _key_client(stack, key: str) -> httpx.Client:
    return httpx.Client(base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _create(stack, channel: str, label: str = "") -> dict:
    with stack.client("admin") as admin:
        response = admin.post("/api/channel-keys", json={"channel": channel, "label": label})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_key_is_shown_once_listed_without_it_and_stored_as_its_hash(stack):
    issued = _create(stack, "phone", "call centre")
    assert issued["key"].startswith(f"omsk_{issued['id']}_") and len(issued["key"]) > 40
    with stack.client("admin") as admin:
        listed = admin.get("/api/channel-keys", params={"channel": "phone"}).json()["keys"]
    mine = next(k for k in listed if k["id"] == issued["id"])
    assert "key" not in mine and (mine["label"], mine["created_by"], mine["active"]) == ("call centre", "admin", True)
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.env["OMS_DATABASE_URL"])
    with engine.connect() as db:
        stored = db.execute(text("SELECT key_hash FROM channel_keys WHERE id = :id"), {"id": issued["id"]}).scalar()
    engine.dispose()
    assert stored == hashlib.sha256(issued["key"].encode()).hexdigest()


def test_a_key_sees_and_acts_on_its_own_channels_orders_only(stack):
    key = _create(stack, "phone")["key"]
    web_order = stack.submit(order_payload()).json()["id"]
    with _key_client(stack, key) as client:
        mine = client.post("/api/orders", json=order_payload(channel="phone"))
        assert mine.status_code == 201, mine.text
        seen = {o["id"] for o in client.get("/api/orders", params={"limit": 500}).json()["orders"]}
        assert mine.json()["id"] in seen and web_order not in seen
        assert client.get(f"/api/orders/{web_order}").status_code == 404
        assert client.post(f"/api/orders/{web_order}/events", json={"type": "cancel_requested"}).status_code == 404
        other = client.post("/api/orders", json=order_payload(channel="web"))
        assert other.status_code == 403
        assert other.json()["detail"] == f"key:{key.split('_')[1]} acts for channel phone only, not 'web'"
        me = client.get("/api/auth/me").json()
        assert (me["roles"], me["channels"]) == (["channel"], ["phone"])
        assert client.get("/api/users").status_code == 403
        assert client.put("/api/inventory/BER/MUG-LOGO", json={"on_hand": 1}).status_code == 403


def test_payment_received_never_comes_from_a_channel_key_and_other_events_only_if_the_channel_allows(stack):
    key = _create(stack, "web")["key"]
    order_id = stack.submit(order_payload(payment={"method": "invoice", "status": "pending"})).json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    with _key_client(stack, key) as client:
        paid = client.post(f"/api/orders/{order_id}/events", json={"type": "payment_received"})
        assert paid.status_code == 403
        assert paid.json()["detail"] == (
            "a channel key may not send payment_received: it comes from the payment side or an operator"
        )
        delivered = client.post(f"/api/orders/{order_id}/events", json={"type": "delivered"})
        assert delivered.status_code == 403
        assert delivered.json()["detail"] == (
            "channel 'web' may send cancel_requested, not delivered (the channel definition's `events` list them)"
        )
        cancel = client.post(f"/api/orders/{order_id}/events", json={"type": "cancel_requested"})
        assert cancel.status_code == 202, cancel.text
    order = stack.wait_for(order_id, lambda o: any(e["type"] == "event" for e in o["timeline"]))
    event = next(e for e in order["timeline"] if e["type"] == "event")
    assert event["data"]["type"] == "cancel_requested"
    assert event["data"]["data"]["by"] == f"key:{key.split('_')[1]}"


def test_rotating_a_key_stops_the_old_one_and_revoking_stops_the_new_one_at_once(stack):
    old = _create(stack, "store")
    with _key_client(stack, old["key"]) as client:
        assert client.get("/api/orders").status_code == 200
    with stack.client("admin") as admin:
        rotated = admin.post(f"/api/channel-keys/{old['id']}/rotate")
        assert rotated.status_code == 201
        new = rotated.json()
        assert new["channel"] == "store" and new["id"] != old["id"]
        with _key_client(stack, old["key"]) as client:
            assert client.get("/api/orders").status_code == 401
        with _key_client(stack, new["key"]) as client:
            assert client.get("/api/orders").status_code == 200
        again = admin.post(f"/api/channel-keys/{old['id']}/rotate")
        assert (again.status_code, again.json()["detail"]) == (
            409,
            f"channel key {old['id']!r} is revoked; create a new one",
        )
        revoked = admin.delete(f"/api/channel-keys/{new['id']}")
        assert revoked.status_code == 200 and revoked.json()["active"] is False
    with _key_client(stack, new["key"]) as client:
        assert client.get("/api/orders").status_code == 401


def test_a_key_for_an_unknown_channel_is_refused(stack):
    with stack.client("admin") as admin:
        response = admin.post("/api/channel-keys", json={"channel": "nowhere"})
    assert (response.status_code, response.json()["detail"]) == (422, "no published channel 'nowhere'")
