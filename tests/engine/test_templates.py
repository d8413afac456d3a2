"""Print and notification templates: sandboxed Jinja2, escaped HTML, names checked when validated."""

from __future__ import annotations

import pytest

from engine.definitions import compile_text, validate_text
from engine.templates import RenderError, Template
from tests.engine.shipped import DEFINITIONS, TEMPLATE_NAMES

ORDER = {
    "id": "ord_1",
    "external_id": "A-1",
    "channel": "web",
    "total": 1234.5,
    "customer": {"name": "Ann <Example>", "email": "ann@example.com"},
    "shipping_address": {"street": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    "lines": [{"sku": "MUG-LOGO", "qty": 2, "price": 9.5}],
    "payment": {"status": "paid"},
}
SHIPMENT = {
    "parcel": 1,
    "parcels": 2,
    "carrier_title": "Simulated Post",
    "service": "small_parcel",
    "tracking_number": "SIMABC",
    "weight_kg": 0.8,
    "lines": [{"sku": "MUG-LOGO", "name": "Mug", "qty": 2}],
    "warehouse": "BER",
}


def shipped(name: str) -> Template:
    return compile_text((DEFINITIONS / "templates" / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_shipped_templates_are_valid(name):
    assert validate_text((DEFINITIONS / "templates" / f"{name}.yaml").read_text(encoding="utf-8")).errors == ()


def test_label_escapes_what_the_order_says():
    html = shipped("shipping_label").render(
        {
            "order": ORDER,
            "shipment": SHIPMENT,
            "sender": {"code": "BER", "name": "Berlin", "country": "DE"},
            "printed_at": "now",
        }
    )
    assert "<strong>Ann &lt;Example&gt;</strong>" in html
    assert '<div class="tracking">SIMABC</div>' in html
    assert "parcel 1 of 2" in html


def test_packing_slip_lists_each_parcel():
    html = shipped("packing_slip").render({"order": ORDER, "shipments": [SHIPMENT], "printed_at": "now"})
    assert "Parcel 1: SIMABC from BER" in html
    assert "<td>MUG-LOGO</td><td>Mug</td><td>2</td>" in html
    assert "Order total: 1,234.50" in html


def test_notification_in_the_order_language_else_the_default():
    template = shipped("notify_shipped")
    context = {"order": ORDER, "shipments": [SHIPMENT], "event": {}}
    german = template.message(context, "de")
    assert (german.language, german.subject) == ("de", "Ihre Bestellung A-1 ist unterwegs")
    assert "Sendungsnummer SIMABC" in german.body
    assert "Ann <Example>" in german.body  # plain text: not escaped
    assert template.message(context, "fr").language == "en"
    assert template.message(context, None).subject == "Your order A-1 is on its way"


def _template(body: str, use: str = "label") -> str:
    return f"kind: template\nname: t\nuse: {use}\nbody: {body!r}\n"


def test_unknown_name_is_refused_with_a_suggestion():
    assert [(e.path, e.message) for e in validate_text(_template("{{ ordr.id }}")).errors] == [
        (
            "$.body",
            "unknown name 'ordr' (did you mean 'order'?); this template sees order, shipment, sender, printed_at",
        )
    ]


def test_syntax_error_names_the_line():
    text = "kind: template\nname: t\nuse: label\nbody: |\n  ok\n  {% for x in order.lines %}\n"
    assert [(e.path, e.message) for e in validate_text(text).errors] == [
        (
            "$.body",
            "template syntax error at line 2: Unexpected end of template. Jinja was looking for the "
            "following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'.",
        )
    ]


def test_names_set_inside_the_template_are_known():
    body = "{% set n = order.lines | length %}{% for l in order.lines %}{{ l.sku }}{% endfor %}{{ n }}"
    assert validate_text(_template(body)).errors == ()


def test_the_sandbox_stops_reaching_into_python():
    assert compile_text(_template("[{{ order.__class__.__mro__ }}]")).render({"order": {}}) == "[]"
    template = compile_text(_template("{{ order.__class__.__mro__[1].__subclasses__() }}"))
    with pytest.raises(RenderError, match=r"^template 't' was stopped by the sandbox: access to attribute '__class__'"):
        template.render({"order": {}})


def test_a_notification_needs_texts_per_language_not_a_body():
    text = (
        "kind: template\nname: n\nuse: notification\nevent: shipped\nbody: hi\nlanguages: {en: {subject: s, body: b}}\n"
    )
    assert [(e.path, e.message) for e in validate_text(text).errors] == [
        ("$.body", "a notification has no single body; write subject and body per language under languages")
    ]
    text = (
        "kind: template\nname: n\nuse: notification\nevent: shipped\ndefault_language: de\n"
        "languages: {en: {subject: s, body: b}}\n"
    )
    assert [(e.path, e.message) for e in validate_text(text).errors] == [
        ("$.default_language", "'de' is not among the languages: en")
    ]
    text = "kind: template\nname: n\nuse: notification\nlanguages: {en: {subject: s, body: b}}\n"
    assert [(e.path, e.message) for e in validate_text(text).errors] == [("$", "'event' is required")]
