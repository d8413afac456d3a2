"""Manual order entry (/orders/new) in a real browser, and what the page's server accepts.

Orders are entered on the shipped ``phone`` channel; every order gets a street
of its own so the address-velocity rule never holds one. The main test runs with
JavaScript off: adding a line, the errors and submitting with Enter are plain HTML.
Set OMS_TEST_SCREENSHOTS to a folder to keep the screenshots.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from starlette.datastructures import FormData

from engine.definitions import compile_text
from engine.forms import FieldError, FormValidator
from services.orders.intake import order_id_for
from tests.conftest import unique
from web.pages.entry import Entry, build_page, simple_condition

ROOT = Path(__file__).resolve().parents[2]
ORDER_FORM = compile_text((ROOT / "definitions" / "forms" / "order.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("OMS_TEST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def open_as(signed_in_at) -> Callable[..., Page]:
    """A function: a fresh browser context signed in as ``role``, on ``path`` (default the entry page)."""

    def open_page(role: str, path: str = "/orders/new", javascript: bool = True) -> Page:
        return signed_in_at(role, path, javascript)

    return open_page


def _field(page: Page, label: str):
    return page.get_by_label(label, exact=True)


def _fill_address(page: Page) -> str:
    street = f"Telefonweg {uuid.uuid4().int % 1_000_000}"
    _field(page, "Street").fill(street)
    _field(page, "City").fill("Berlin")
    _field(page, "Postal code").fill("10115")
    _field(page, "Country").fill("DE")
    return street


def _fill_line(page: Page, number: int, sku: str, qty: str, price: str) -> None:
    _field(page, f"Line {number}: SKU").fill(sku)
    _field(page, f"Line {number}: quantity").fill(qty)
    _field(page, f"Line {number}: price").fill(price)


def _post_of_entry(response) -> bool:
    return response.url.endswith("/orders/new") and response.request.method == "POST"


def _error_beside(page: Page, input_id: str, message: str) -> None:
    control = page.locator(f"#{input_id}")
    expect(control).to_have_attribute("aria-invalid", "true")
    expect(control).to_have_attribute("aria-describedby", re.compile(rf"\be-{input_id[2:]}\b"))
    expect(page.locator(f"#e-{input_id[2:]}")).to_have_text(message)


def _order_id(page: Page) -> str:
    expect(page).to_have_url(re.compile(r"/orders/ord_[0-9a-f]{16}$"))
    return page.url.rsplit("/", 1)[1]


def test_operator_enters_a_phone_order_without_javascript(stack, open_as, shots):
    page = open_as("operator", javascript=False)
    expect(page.get_by_role("heading", level=1)).to_contain_text("New order")
    expect(page.get_by_role("link", name="New order")).to_have_attribute("aria-current", "page")
    expect(_field(page, "Channel")).to_have_value("phone")
    external_id = _field(page, "External order id").input_value()
    assert re.fullmatch(r"PHONE-[0-9A-F]{10}", external_id)
    expect(page.locator("table.entry-rows tbody tr")).to_have_count(1)
    page.screenshot(path=str(shots / "entry-empty.png"), full_page=True)

    # The keyboard goes through the form in reading order.
    _field(page, "Channel").focus()
    button = page.get_by_role("button")
    for stop in [
        button.filter(has_text="Use this channel"),
        _field(page, "External order id"),
        _field(page, "Customer name"),
        _field(page, "Email"),
    ]:
        page.keyboard.press("Tab")
        expect(stop).to_be_focused()
    _field(page, "Line 1: SKU").focus()
    for stop in [
        _field(page, "Line 1: quantity"),
        _field(page, "Line 1: price"),
        page.get_by_role("button", name="Remove line 1"),
        page.get_by_role("button", name="Add line"),
        _field(page, "Payment method"),
    ]:
        page.keyboard.press("Tab")
        expect(stop).to_be_focused()

    # Partly wrong: no customer name, a bad email; line 2 (added without JavaScript) has quantity 0.
    _field(page, "Email").fill("not-an-email")
    street = _fill_address(page)
    _fill_line(page, 1, "MUG-LOGO", "2", "9.5")
    page.get_by_role("button", name="Add line").click()
    expect(page.locator("table.entry-rows tbody tr")).to_have_count(2)
    expect(_field(page, "Line 2: SKU")).to_be_focused()
    expect(_field(page, "Line 1: SKU")).to_have_value("MUG-LOGO")
    expect(_field(page, "Street")).to_have_value(street)
    expect(_field(page, "External order id")).to_have_value(external_id)
    _fill_line(page, 2, "TSHIRT-BLK-M", "0", "19.9")

    # Enter in a field creates the order (it is the form's default action, not "Add line").
    with page.expect_response(_post_of_entry) as refused:
        _field(page, "Line 2: price").press("Enter")
    assert refused.value.status == 422
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("li")).to_have_text(
        [
            "Customer name is required",
            "Email must be a valid email address",
            "Line 2: quantity must be at least 1",
        ]
    )
    expect(summary.get_by_role("link", name="Customer name is required")).to_have_attribute("href", "#f-customer-name")
    _error_beside(page, "f-customer-name", "Customer name is required")
    _error_beside(page, "f-customer-email", "Email must be a valid email address")
    _error_beside(page, "f-lines-1-qty", "Line 2: quantity must be at least 1")
    expect(page.locator("[aria-invalid=true]")).to_have_count(3)
    # Everything typed is still there.
    expect(_field(page, "Email")).to_have_value("not-an-email")
    expect(_field(page, "Line 2: quantity")).to_have_value("0")
    expect(_field(page, "Line 2: SKU")).to_have_value("TSHIRT-BLK-M")
    expect(_field(page, "Street")).to_have_value(street)
    expect(_field(page, "External order id")).to_have_value(external_id)
    page.screenshot(path=str(shots / "entry-errors.png"), full_page=True)
    summary.get_by_role("link", name="Line 2: quantity must be at least 1").click()
    expect(_field(page, "Line 2: quantity")).to_be_focused()

    # One line too many, removed again: the rows below move up, nothing else changes.
    page.get_by_role("button", name="Add line").click()
    page.get_by_role("button", name="Add line").click()
    expect(page.locator("table.entry-rows tbody tr")).to_have_count(4)
    _fill_line(page, 3, "WRONG-SKU", "1", "1")
    _fill_line(page, 4, "HOODIE-GRY-M", "1", "49")
    page.get_by_role("button", name="Remove line 3").click()
    expect(page.locator("table.entry-rows tbody tr")).to_have_count(3)
    expect(_field(page, "Line 3: SKU")).to_have_value("HOODIE-GRY-M")
    expect(_field(page, "Line 3: SKU")).to_be_focused()
    expect(_field(page, "Line 2: SKU")).to_have_value("TSHIRT-BLK-M")

    _field(page, "Customer name").fill("Ann Phone")
    _field(page, "Email").fill("ann.phone@example.com")
    _field(page, "Line 2: quantity").fill("3")
    page.get_by_role("button", name="Create order", exact=True).click()

    order_id = _order_id(page)
    expect(page.locator(".notices")).to_contain_text("Order created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(order_id)
    assert order_id == order_id_for("phone", external_id)
    order = stack.wait_for(order_id, lambda o: o["status"] in ("awaiting_payment", "shipped"))
    assert (order["channel"], order["external_id"]) == ("phone", external_id)
    assert [(line["sku"], line["qty"], line["price"]) for line in order["lines"]] == [
        ("MUG-LOGO", 2, 9.5),
        ("TSHIRT-BLK-M", 3, 19.9),
        ("HOODIE-GRY-M", 1, 49.0),
    ]
    assert order["customer"] == {"name": "Ann Phone", "email": "ann.phone@example.com", "type": "consumer"}
    assert order["shipping_address"] == {"street": street, "city": "Berlin", "postal_code": "10115", "country": "DE"}
    assert order["payment"] == {"method": "card", "status": "pending"}
    assert order["status"] == "awaiting_payment"


def _valid_order(page: Page, name: str) -> None:
    _field(page, "Customer name").fill(name)
    _fill_address(page)
    _fill_line(page, 1, "MUG-LOGO", "1", "9.5")


def test_company_tax_id_counts_for_business_customers_only(stack, open_as, shots):
    # With JavaScript the field shows once the customer is a business; the server keeps it.
    page = open_as("operator")
    tax_id = _field(page, "Company tax id")
    expect(tax_id).to_be_hidden()
    _field(page, "Customer type").select_option("b2b")
    expect(tax_id).to_be_visible()
    tax_id.fill("DE123456789")
    _valid_order(page, "Firma GmbH")
    _field(page, "Payment status").select_option("paid")  # prepaid: no credit check holds it
    page.screenshot(path=str(shots / "entry-b2b.png"), full_page=True)
    page.get_by_role("button", name="Create order", exact=True).click()
    order = stack.wait_status(_order_id(page), "shipped")
    assert order["customer"]["type"] == "b2b"
    assert order["customer"]["tax_id"] == "DE123456789"

    # Without JavaScript the field shows with a note; for a consumer the server drops it.
    page = open_as("operator", javascript=False)
    tax_id = _field(page, "Company tax id")
    expect(tax_id).to_be_visible()
    expect(page.locator(".field", has=tax_id)).to_contain_text(
        "Only used when Customer type is b2b. Not used for this order as it stands."
    )
    tax_id.fill("DE999")
    _valid_order(page, "Carl Consumer")
    page.get_by_role("button", name="Create order", exact=True).click()
    order = stack.order(_order_id(page))
    assert order["customer"] == {"name": "Carl Consumer", "type": "consumer"}


def test_language_and_channel_change_without_losing_what_was_typed(stack, open_as):
    page = open_as("operator", "/orders/new?lang=zh")
    expect(page.locator("label[for=f-external_id]")).to_have_text("外部订单号")
    expect(page.locator("label[for=f-external_id]")).to_have_attribute("lang", "zh")
    expect(_field(page, "配送方式").locator("option:checked")).to_have_text("快递到地址")
    expect(_field(page, "客户姓名")).to_be_visible()
    expect(_field(page, "行 1: SKU")).to_be_visible()  # the column has no Chinese label: English
    page.get_by_role("link", name="English").click()
    expect(_field(page, "External order id")).to_have_value(re.compile(r"^PHONE-"))

    _field(page, "Customer name").fill("Wen Web")
    _field(page, "Line 1: SKU").fill("MUG-LOGO")
    _field(page, "Channel").select_option("web")
    page.get_by_role("button", name="Use this channel").click()
    expect(_field(page, "Channel")).to_have_value("web")
    expect(_field(page, "Channel")).to_be_focused()
    expect(_field(page, "External order id")).to_have_value(re.compile(r"^WEB-[0-9A-F]{10}$"))
    expect(_field(page, "Customer name")).to_have_value("Wen Web")
    expect(_field(page, "Line 1: SKU")).to_have_value("MUG-LOGO")


def test_analysts_are_refused(stack, open_as):
    page = open_as("analyst", "/inbox")
    expect(page.get_by_role("link", name="New order")).to_have_count(0)
    response = page.goto("/orders/new")
    assert response.status == 403
    expect(page.get_by_role("alert")).to_have_text(
        "Role 'analyst' cannot enter orders; manual order entry needs operator or admin."
    )
    token = page.locator('header form input[name="csrf_token"]').get_attribute("value")
    external_id = unique("ANALYST")
    posted = page.request.post(
        "/orders/new",
        form={
            "csrf_token": token,
            "channel": "phone",
            "external_id": external_id,
            "customer.name": "X",
            "shipping_address.street": "S 1",
            "shipping_address.city": "C",
            "shipping_address.postal_code": "1",
            "shipping_address.country": "DE",
            "lines[0].sku": "MUG-LOGO",
            "lines[0].qty": "1",
            "lines[0].price": "1",
        },
        max_redirects=0,
    )
    assert posted.status == 403
    assert "manual order entry needs operator or admin" in posted.text()
    with stack.client("operator") as client:
        assert client.get(f"/api/orders/{order_id_for('phone', external_id)}").status_code == 404


def test_the_server_checks_what_the_browser_sends(stack, open_as):
    page = open_as("operator")
    external_id = unique("FORGED")
    order = {
        "channel": "phone",
        "external_id": external_id,
        "customer.name": "Eve",
        "shipping_address.street": f"Gasse {uuid.uuid4().int % 100000}",
        "shipping_address.city": "Wien",
        "shipping_address.postal_code": "1010",
        "shipping_address.country": "AT",
        "lines[0].sku": "MUG-LOGO",
        "lines[0].qty": "1",
        "lines[0].price": "9.5",
    }
    # No CSRF token, or a wrong one: refused, nothing stored.
    for form in (order, {**order, "csrf_token": "not-the-token"}):
        response = page.request.post("/orders/new", form=form, max_redirects=0)
        assert response.status == 403
        assert "CSRF check failed" in response.text()
    with stack.client("operator") as client:
        assert client.get(f"/api/orders/{order_id_for('phone', external_id)}").status_code == 404

    token = page.locator('form.entry input[name="csrf_token"]').get_attribute("value")
    # What no browser form would send: text in number fields, a channel nobody published, a bad option.
    bad = {
        **order,
        "csrf_token": token,
        "lines[0].qty": "two",
        "lines[0].price": "9.999",
        "delivery_method": "teleport",
    }
    response = page.request.post("/orders/new", form=bad, max_redirects=0)
    assert response.status == 422
    page.set_content(response.text())
    expect(page.locator("#e-lines-0-qty")).to_have_text("Line 1: quantity must be a whole number")
    expect(page.locator("#e-lines-0-price")).to_have_text("Line 1: price must have at most 2 decimals")
    expect(page.locator("#e-delivery_method")).to_have_text("Delivery must be one of: ship, pickup")
    expect(page.locator("#f-lines-0-qty")).to_have_attribute("value", "two")  # kept, though no number

    response = page.request.post("/orders/new", form={**order, "csrf_token": token, "channel": "nope"}, max_redirects=0)
    assert response.status == 422
    assert "unknown channel &#39;nope&#39;" in response.text()

    # Fields the form does not have are not read; the order is created as the form says.
    response = page.request.post(
        "/orders/new", form={**order, "csrf_token": token, "total": "0.01", "customer.vip": "yes"}, max_redirects=0
    )
    assert response.status == 303
    order_id = response.headers["location"].rsplit("/", 1)[1]
    created = stack.order(order_id)
    assert created["total"] == 9.5 and created["customer"] == {"name": "Eve", "type": "consumer"}
    # The same form again (a double click, a re-sent page) names the same order.
    again = page.request.post("/orders/new", form={**order, "csrf_token": token}, max_redirects=0)
    assert again.status == 303 and again.headers["location"] == f"/orders/{order_id}"


# ---- the page's own logic, without a browser ---------------------------------------


def test_submitted_names_become_the_nested_order():
    data = FormData(
        [
            ("customer.name", " Ann "),
            ("customer.type", "b2b"),
            ("shipping_address.postal_code", "01067"),
            ("lines[0].sku", "A"),
            ("lines[0].qty", "2"),
            ("lines[0].price", "9.50"),
            ("lines[7].sku", ""),
            ("lines[7].qty", ""),
            ("lines[7].price", ""),
            ("lines[9].sku", "B"),
            ("lines[9].qty", "1.0"),
            ("lines[9].price", "nan"),
            ("unknown", "x"),
        ]
    )
    entry = Entry.read(ORDER_FORM, data)
    assert entry.rows == {"lines": 3}
    assert entry.values["lines[2].sku"] == "B" and "unknown" not in entry.values
    document = entry.without_blank_rows(ORDER_FORM).document(ORDER_FORM)
    assert document["customer"] == {"name": "Ann", "type": "b2b"}
    assert document["shipping_address"] == {"postal_code": "01067"}  # text stays text
    assert document["lines"] == [{"sku": "A", "qty": 2, "price": 9.5}, {"sku": "B", "qty": 1, "price": "nan"}]


def test_a_blank_form_gets_its_errors_beside_the_required_parts():
    entry = Entry.blank(ORDER_FORM)
    entry.add_row("lines", 500)  # a spare row goes; the one row the table needs stays
    _, errors = FormValidator(ORDER_FORM).validate(
        {**entry.without_blank_rows(ORDER_FORM).document(ORDER_FORM), "channel": "phone"}
    )
    assert [e.field for e in errors] == [
        "external_id",
        "customer.name",
        "shipping_address.street",
        "shipping_address.city",
        "shipping_address.postal_code",
        "shipping_address.country",
        "lines[0].sku",
        "lines[0].qty",
        "lines[0].price",
    ]


def test_errors_land_beside_their_fields_or_their_nearest_container():
    entry = Entry.blank(ORDER_FORM)
    entry.add_row("lines", 500)
    page = build_page(
        ORDER_FORM,
        entry,
        errors=[
            FieldError("lines[1].qty", "Line 2: quantity must be at least 1"),
            FieldError("lines", "Order lines must have at least 1 line"),
            FieldError("shipping_address", "Shipping address is required"),
            FieldError("", "The order must be a JSON object"),
        ],
    )
    assert page.summary == [
        ("Line 2: quantity must be at least 1", "f-lines-1-qty"),
        ("Order lines must have at least 1 line", "f-lines-0-sku"),
        ("Shipping address is required", "f-shipping_address-name"),
        ("The order must be a JSON object", None),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer.type == 'b2b'", {"name": "customer.type", "values": ["b2b"], "negate": False}),
        (
            "payment.method not in ['card', \"paypal\"]",
            {"name": "payment.method", "values": ["card", "paypal"], "negate": True},
        ),
        ("gift != true", {"name": "gift", "values": [True], "negate": True}),
        ("order.total > 100", None),
        ("a == 'x' and b == 'y'", None),
    ],
)
def test_only_simple_conditions_are_left_to_the_browser(text, expected):
    assert simple_condition(text) == expected
