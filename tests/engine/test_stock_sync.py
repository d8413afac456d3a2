"""Stock sync in the engine: what a channel may sell, the batch bodies, and mistakes named at their path."""

from __future__ import annotations

import pytest

from engine.definitions import compile_text, validate_text
from engine.stock_sync import ItemError, channel_available
from tests.engine.shipped import CHANNELS_DIR

BASE = """\
kind: channel
name: woo_sync
type: web_shop
stock_sync:
  url: https://shop.example/wp-json/wc/v3/products/batch
  auth: {header: Authorization, prefix: 'Basic ', secret_env: OMS_CHANNEL_SECRET_WOO_API}
  batch_size: 50
  debounce: 10s
  safety_stock: 2
  warehouses: [BER]
  skus:
    MUG-LOGO: {id: 5}
    TSHIRT-BLK-M: {id: 22, safety_stock: 5}
  body:
    items_at: update
    item:
      id: {path: listing.id}
      stock_quantity: {path: quantity}
  response:
    errors: [update.*.error]
"""


def problems(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


def shipped(name: str):
    sync = compile_text((CHANNELS_DIR / f"{name}.yaml").read_text(encoding="utf-8")).stock_sync
    assert sync is not None
    return sync


def test_a_woocommerce_shaped_sync_is_valid_and_applies_safety_stock_per_channel_and_per_sku():
    assert problems(BASE) == []
    sync = compile_text(BASE).stock_sync
    assert sync is not None and sync.enabled
    assert (sync.batch_size, sync.debounce_seconds, sync.warehouses) == (50, 10, ("BER",))
    assert [sync.quantity("MUG-LOGO", a) for a in (10, 2, 0)] == [8, 0, 0]  # the channel's 2, never below 0
    assert sync.quantity("TSHIRT-BLK-M", 10) == 5  # its own 5
    assert sync.lists("MUG-LOGO") and not sync.lists("LAPTOP-14")
    body = sync.body([sync.item_for("MUG-LOGO", 10), sync.item_for("TSHIRT-BLK-M", 3)])
    assert body == {"update": [{"id": 5, "stock_quantity": 8}, {"id": 22, "stock_quantity": 0}]}


def test_the_shipped_woocommerce_sync_follows_its_batch_update_products_shape():
    sync = shipped("woocommerce")
    assert not sync.enabled  # a placeholder shop until its URL and product ids are filled in
    assert sync.url.endswith("/wp-json/wc/v3/products/batch") and sync.method == "POST"
    assert sync.auth is not None and (sync.auth.header, sync.auth.prefix) == ("Authorization", "Basic ")
    assert sync.body([sync.item_for("MUG-LOGO", 7)]) == {
        "update": [{"id": 5, "manage_stock": True, "stock_quantity": 5}]
    }
    answer = {
        "update": [
            {"id": 5, "stock_quantity": 5},
            {"id": 0, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID."}},
        ]
    }
    assert sync.failure_in(answer, sync.errors_at) == "update.*.error: Invalid ID."
    assert sync.failure_in({"update": [{"id": 5, "stock_quantity": 5}]}, sync.errors_at) is None


def test_the_shipped_shopify_sync_follows_the_inventory_set_quantities_mutation():
    sync = shipped("shopify")
    body = sync.body([sync.item_for("MUG-LOGO", 4), sync.item_for("HOODIE-GRY-M", 2)])
    assert "inventorySetQuantities(input: $input)" in body["query"]
    assert body["variables"]["input"] == {
        "name": "available",
        "reason": "correction",
        "ignoreCompareQuantity": True,
        "quantities": [
            {
                "inventoryItemId": "gid://shopify/InventoryItem/808950810",
                "locationId": "gid://shopify/Location/655441491",
                "quantity": 3,
            },
            {
                "inventoryItemId": "gid://shopify/InventoryItem/39072856",
                "locationId": "gid://shopify/Location/655441491",
                "quantity": 0,
            },
        ],
    }
    refused = {"data": {"inventorySetQuantities": {"userErrors": [{"field": ["input"], "message": "Not found."}]}}}
    assert sync.failure_in(refused, sync.errors_at) == "data.inventorySetQuantities.userErrors: Not found."
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    assert sync.failure_in(throttled, sync.retry_at) == "errors: Throttled"
    taken = {"data": {"inventorySetQuantities": {"userErrors": []}}}
    assert sync.failure_in(taken, sync.errors_at) is None and sync.failure_in(taken, sync.retry_at) is None
    # The template is copied: one batch's items never leak into the next body.
    assert sync.body([])["variables"]["input"]["quantities"] == []
    assert "quantities" not in sync.template["variables"]["input"]


def test_what_a_channel_may_sell_is_per_warehouse_after_other_channels_kept_stock():
    stock = [("BER", "MUG", 10), ("LYS", "MUG", 3), ("BER", "CUP", 1), ("LYS", "CUP", 4), ("LYS", "CUP", 2)]
    holds = {
        (
            "BER",
            "MUG",
        ): 4,
        ("LYS", "MUG"): 5,
        ("LYS", "CUP"): 1,
    }
    # LYS keeps 5 MUG for others but has 3: it gives 0, not -2. CUP's two lots in LYS count together.
    assert channel_available(stock, holds) == {"MUG": 6, "CUP": 6}
    assert channel_available(stock, holds, ["LYS"]) == {"MUG": 0, "CUP": 5}


def test_an_item_that_cannot_be_built_names_its_field():
    text = BASE.replace("      id: {path: listing.id}", "      id: {path: sku, table: {MUG-LOGO: 5}}").replace(
        "  skus:\n    MUG-LOGO: {id: 5}\n    TSHIRT-BLK-M: {id: 22, safety_stock: 5}\n", ""
    )
    assert problems(text) == []
    sync = compile_text(text).stock_sync
    assert sync is not None and sync.lists("ANY")
    with pytest.raises(ItemError, match=r"^item\.id: sku is 'CUP', not one of MUG-LOGO$"):
        sync.item_for("CUP", 3)


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("debounce: 10s", "debounce: 500ms", "$.stock_sync.debounce", "at least 1 second"),
        ("debounce: 10s", "debounce: soon", "$.stock_sync.debounce", "is not a duration"),
        (
            "    items_at: update\n",
            "    template: {update: []}\n    items_at: update\n",
            "$.stock_sync.body.items_at",
            "`template.update` already has a value",
        ),
        (
            "    items_at: update\n",
            "    template: {variables: 3}\n    items_at: variables.input\n",
            "$.stock_sync.body.items_at",
            "`template.variables` is not an object",
        ),
        (
            "    items_at: update\n",
            "    template: {update: {}}\n",
            "$.stock_sync.body.items_at",
            "say where the items go",
        ),
        (
            "stock_quantity: {path: quantity}",
            "stock_quantity: {path: quantty}",
            "$.stock_sync.body.item.stock_quantity.path",
            "not 'quantty' (did you mean 'quantity'?)",
        ),
        (
            "stock_quantity: {path: quantity}",
            "stock_quantity: {expr: 'quantity +'}",
            "$.stock_sync.body.item.stock_quantity.expr",
            "expression does not compile",
        ),
        (
            "    TSHIRT-BLK-M: {id: 22, safety_stock: 5}",
            "    TSHIRT-BLK-M: {safety_stock: 5}",
            "$.stock_sync.skus['TSHIRT-BLK-M']",
            "has no `id`, which `body.item.id` reads (listing.id)",
        ),
        (
            "  skus:\n    MUG-LOGO: {id: 5}\n    TSHIRT-BLK-M: {id: 22, safety_stock: 5}\n",
            "",
            "$.stock_sync.body.item.id.path",
            "`stock_sync.skus` lists no SKUs",
        ),
    ],
)
def test_stock_sync_mistakes_are_named_at_their_path(old, new, path, message):
    assert old in BASE
    found = problems(BASE.replace(old, new))
    assert any(p == path and message in m for p, m in found), found


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("secret_env: OMS_CHANNEL_SECRET_WOO_API", "secret_env: PATH", "$.stock_sync.auth.secret_env"),
        ("batch_size: 50", "batch_size: 0", "$.stock_sync.batch_size"),
        ("safety_stock: 2", "safety_stock: -1", "$.stock_sync.safety_stock"),
        ("url: https://", "url: ftp://", "$.stock_sync.url"),
        (
            "TSHIRT-BLK-M: {id: 22, safety_stock: 5}",
            "TSHIRT-BLK-M: {id: 22, safety_stock: many}",
            "$.stock_sync.skus['TSHIRT-BLK-M'].safety_stock",
        ),
        ("errors: [update.*.error]", "errors: ['update..error']", "$.stock_sync.response.errors[0]"),
    ],
)
def test_the_schema_refuses_bad_stock_sync_values_at_their_path(old, new, path):
    assert old in BASE
    found = problems(BASE.replace(old, new))
    assert any(p.startswith(path) for p, _ in found), found


def test_a_disabled_sync_parses_and_says_so():
    sync = compile_text(BASE.replace("stock_sync:\n", "stock_sync:\n  enabled: false\n")).stock_sync
    assert sync is not None and not sync.enabled
