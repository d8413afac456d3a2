"""Fulfilment end to end: parcels per warehouse, carrier by the table, labels and packing slips."""

from __future__ import annotations

from tests.conftest import ROOT, fast_flow, order_payload


def shipped(stack, **overrides) -> dict:
    response = stack.submit(order_payload(**overrides))
    assert response.status_code == 201, response.text
    return stack.wait_for(response.json()["id"], lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)


def test_light_domestic_parcel_goes_by_post_at_the_table_price(stack):
    order = shipped(stack)  # 2 mugs of 0.4 kg to Berlin
    [parcel] = order["shipments"]
    assert (parcel["carrier"], parcel["service"], parcel["price"], parcel["weight_kg"]) == (
        "sim_post",
        "small_parcel",
        3.9,
        0.8,
    )
    assert parcel["tracking_number"].startswith("SIM")
    assert parcel["status"] == "label_created"
    assert parcel["lines"] == [{"line": 1, "sku": "MUG-LOGO", "qty": 2, "name": "Mug with logo"}]
    line = next(e for e in order["timeline"] if e["type"] == "shipped")
    assert line["message"] == (
        f"shipped in 1 parcel: parcel 1 from {parcel['warehouse']} (0.8 kg) with sim_post small_parcel for 3.90, "
        f"tracking {parcel['tracking_number']}"
    )


def test_heavy_parcel_abroad_goes_by_parcel_service_priced_by_weight(stack):
    order = shipped(
        stack,
        lines=[{"sku": "CHAIR-OFFICE", "qty": 1, "price": 399.0}],
        shipping_address={"street": "1 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"},
    )
    [parcel] = order["shipments"]
    assert (parcel["carrier"], parcel["service"], parcel["price"], parcel["weight_kg"]) == (
        "sim_parcel",
        "parcel_international",
        17.9,
        15.0,
    )


def test_express_service_level_chooses_express(stack):
    order = shipped(stack, service_level="express")
    assert [(p["carrier"], p["service"]) for p in order["shipments"]] == [("sim_express", "express")]


def test_label_and_packing_slip_print_from_the_templates(stack):
    order = shipped(stack, customer={"name": "Ann <Example>", "email": "ann@example.com"})
    [parcel] = order["shipments"]
    with stack.client("operator") as client:
        label = client.get(f"/api/orders/{order['id']}/label")
        slip = client.get(f"/api/orders/{order['id']}/packing-slip")
        one = client.get(f"/api/shipments/{parcel['id']}/label")
    assert label.status_code == 200 and label.headers["content-type"].startswith("text/html")
    assert f'<div class="tracking">{parcel["tracking_number"]}</div>' in label.text
    assert "Ann &lt;Example&gt;" in label.text and "Ann <Example>" not in label.text
    assert "@page { size: A6" in label.text
    assert one.status_code == 200 and parcel["tracking_number"] in one.text
    assert slip.status_code == 200
    assert f"Parcel 1: {parcel['tracking_number']} from {parcel['warehouse']}" in slip.text
    assert "<td>MUG-LOGO</td><td>Mug with logo</td><td>2</td>" in slip.text


def test_an_edited_label_template_prints_for_orders_taken_after_it(stack):
    # The label template is pinned with the order at intake: a reprint of an earlier order stays the same.
    before = shipped(stack)
    stack.publish(
        "kind: template\nname: shipping_label\nuse: label\n"
        "body: '<p class=\"mine\">{{ shipment.tracking_number }} for {{ order.external_id }}</p>'\n"
    )
    try:
        order = shipped(stack)
        with stack.client("operator") as client:
            label = client.get(f"/api/orders/{order['id']}/label")
            earlier = client.get(f"/api/orders/{before['id']}/label")
        assert (
            f'<p class="mine">{order["shipments"][0]["tracking_number"]} for {order["external_id"]}</p>' in label.text
        )
        assert earlier.status_code == 200
        assert 'class="mine"' not in earlier.text
        assert before["shipments"][0]["tracking_number"] in earlier.text
    finally:
        stack.publish(SHIPPED_LABEL)  # back to the shipped text, as a new version


def test_printing_before_shipping_and_unknown_ids_are_clear_4xx(stack):
    response = stack.submit(order_payload(payment={"method": "card", "status": "pending"}))
    order_id = response.json()["id"]
    stack.wait_status(order_id, "awaiting_payment")
    with stack.client("operator") as client:
        early = client.get(f"/api/orders/{order_id}/label")
        missing = client.get("/api/orders/ord_nope/packing-slip")
        no_parcel = client.get("/api/shipments/999999/label")
    assert early.status_code == 409
    assert early.json()["detail"] == (
        f"order {order_id} has no parcels yet (awaiting_payment); labels print once it ships"
    )
    assert (missing.status_code, missing.json()["detail"]) == (404, "no order 'ord_nope'")
    assert (no_parcel.status_code, no_parcel.json()["detail"]) == (404, "no shipment 999999")
    with stack.client("channel") as client:
        assert client.post(f"/api/orders/{order_id}/cancel", json={"reason": "test over"}).status_code == 202


def test_lines_matching_the_apart_rule_ship_in_a_parcel_of_their_own(stack):
    """The split rule: a flow whose ship step puts electronics (as it could pre-sale items) in their own parcel."""
    name = "order_electronics_apart"
    stack.publish(flow_with_ship_params(name, "{carriers: default, apart: \"sku.category == 'electronics'\"}"))
    response = stack.submit(
        order_payload(
            lines=[
                {"sku": "MUG-LOGO", "qty": 1, "price": 9.5},
                {"sku": "HEADPHONES-NC", "qty": 1, "price": 249.0},
            ]
        ),
        flow=name,
    )
    order = stack.wait_for(response.json()["id"], lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    parcels = sorted((tuple(line["sku"] for line in p["lines"]), p["parcel"]) for p in order["shipments"])
    assert [skus for skus, _ in parcels] == [("HEADPHONES-NC",), ("MUG-LOGO",)]
    assert len({p["tracking_number"] for p in order["shipments"]}) == 2


def flow_with_ship_params(name: str, params: str) -> str:
    text = fast_flow(name)
    old = "    activity: create_shipment\n    params: {carriers: default}\n"
    assert old in text
    return text.replace(old, f"    activity: create_shipment\n    params: {params}\n")


SHIPPED_LABEL = (ROOT / "definitions" / "templates" / "shipping_label.yaml").read_text(encoding="utf-8")


def test_an_order_allocated_from_two_warehouses_ships_one_parcel_each(stack):
    from tests.integration.test_stock import new_sku

    # A SKU of this test's own: one left in Berlin, one in Lyon, and both serve Germany.
    sku = new_sku(stack, {"BER": 1, "LYS": 1}, price=59.0, weight_kg=0.9)
    order = shipped(stack, lines=[{"sku": sku, "qty": 2, "price": 59.0}])
    parcels = sorted(
        (p["warehouse"], p["parcel"], [(line["sku"], line["qty"]) for line in p["lines"]]) for p in order["shipments"]
    )
    assert [(w, lines) for w, _, lines in parcels] == [("BER", [(sku, 1)]), ("LYS", [(sku, 1)])]
    assert sorted(p for _, p, _ in parcels) == [1, 2]
    assert all(p["carrier"] == "sim_post" for p in order["shipments"])  # 0.9 kg each, domestic


def test_orders_of_one_customer_and_address_within_the_window_are_packed_together(stack):
    name = "order_merged"
    stack.publish(flow_with_ship_params(name, "{carriers: default, merge_window: 1h}"))
    customer = {"name": "Merle Merge", "email": "merle@example.com"}
    address = {"street": "Mergeweg 7", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    ids = [
        stack.submit(order_payload(customer=customer, shipping_address=address), flow=name).json()["id"]
        for _ in range(2)
    ]
    first = stack.wait_for(ids[0], lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    second = stack.wait_for(ids[1], lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    a, b = sorted([first["shipments"][0], second["shipments"][0]], key=lambda p: p["created_at"])
    assert a["consolidation"] is None
    assert b["consolidation"] == a["tracking_number"]
    later = second if b is second["shipments"][0] else first
    line = next(e for e in later["timeline"] if e["type"] == "shipped")
    assert line["message"].endswith(f", packed with {a['tracking_number']}")
    other = stack.submit(
        order_payload(customer={"name": "Someone Else", "email": "else@example.com"}, shipping_address=address),
        flow=name,
    ).json()["id"]
    alone = stack.wait_for(other, lambda o: o["status"] == "shipped" and o["shipments"], timeout=60)
    assert alone["shipments"][0]["consolidation"] is None
