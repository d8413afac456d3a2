"""Analyst templates cannot run script in a printer's browser, change their context or run away."""

from __future__ import annotations

import json

import pytest

from engine.definitions import compile_text, validate_text
from engine.templates import MAX_LOOP_ITERATIONS, RenderError


def _template(body: str, use: str = "label") -> str:
    return f"kind: template\nname: t\nuse: {use}\nbody: {json.dumps(body)}\n"


def _notification(body: str) -> str:
    return (
        "kind: template\nname: t\nuse: notification\nevent: shipped\n"
        f"languages: {{en: {{subject: hi, body: {json.dumps(body)}}}}}\n"
    )


def _errors(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


SCRIPTS = "scripts never run in print pages"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<b>{{ order.id | safe }}</b>", "line 1: '|safe' is not allowed: every value is escaped"),
        ("{% filter safe %}{{ order.id }}{% endfilter %}", "line 1: '|safe' is not allowed: every value is escaped"),
        (
            "{% autoescape false %}{{ order.id }}{% endautoescape %}",
            "line 1: '{% autoescape %}' is not allowed: every value is escaped",
        ),
        (
            "<p>x</p>\n<SCRIPT src=x></script>",
            f"line 2: a <script> element is not allowed in a printable template: {SCRIPTS}",
        ),
        (
            '<img src="{{ order.id }}" onerror="fetch(1)">',
            f"line 1: an on...= event handler is not allowed in a printable template: {SCRIPTS}",
        ),
        (
            "<a href='javascript:x()'>x</a>",
            f"line 1: a javascript: URL is not allowed in a printable template: {SCRIPTS}",
        ),
    ],
)
def test_markup_that_would_run_is_refused_with_its_path(body, message):
    assert _errors(_template(body)) == [("$.body", message)]


def test_safe_is_refused_in_notifications_too():
    assert _errors(_notification("{{ order.id | safe }}")) == [
        ("$.languages.en.body", "line 1: '|safe' is not allowed: every value is escaped")
    ]


def test_ordinary_markup_passes():
    assert _errors(_template('<p class="one">{{ order.id }} on time</p>')) == []


def test_a_template_cannot_change_its_context():
    context = {"order": {"customer": {"name": "Ann"}, "lines": [1]}}
    for body in ("{{ order.customer.update({'name': 'Eve'}) }}", "{{ order.lines.append(2) }}"):
        template = compile_text(_template(body))
        with pytest.raises(RenderError, match="is unsafe"):
            template.render(context)
    assert context == {"order": {"customer": {"name": "Ann"}, "lines": [1]}}


def test_a_notification_cannot_change_its_context():
    context = {"order": {"customer": {"name": "Ann"}}, "shipments": [], "event": {}}
    template = compile_text(_notification("{{ order.customer.update({'name': 'Eve'}) }}{{ order.customer.name }}"))
    with pytest.raises(RenderError, match=r"^template 't' was stopped by the sandbox: access to attribute 'update'"):
        template.message(context, "en")
    assert context["order"]["customer"] == {"name": "Ann"}


def test_loops_are_capped():
    nested = "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}"
    with pytest.raises(RenderError, match=f"more than {MAX_LOOP_ITERATIONS} loop iterations"):
        compile_text(_template(nested)).render({})
    looped = "{% for l in order.lines %}{{ loop.index }}/{{ loop.length }} {% endfor %}"
    assert compile_text(_template(looped)).render({"order": {"lines": [1, 2, 3]}}) == "1/3 2/3 3/3 "


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{ 'x' * 100000000 }}", "a repeated value longer than 10000"),
        ("{{ 7 ** 1000000000 }}", "exponent 1000000000 is larger than 64"),
        ("{% for i in range(9000) %}{{ 'x' * 9000 }}{% endfor %}", "output longer than 1000000 characters"),
    ],
)
def test_output_and_arithmetic_are_capped(body, message):
    with pytest.raises(RenderError, match=f"^template 't' was stopped by the sandbox: {message}$"):
        compile_text(_template(body)).render({})
