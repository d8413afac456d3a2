"""Print and notification templates: Jinja2 that analysts edit, rendered in a sandbox.

```yaml
kind: template
name: shipping_label
use: label                 # label | packing_slip | pick_list | notification
body: |                    # print templates: HTML, values escaped
  <h1>{{ shipment.tracking_number }}</h1>
```

A notification has one subject and plain-text body per language and the
event it is for; the language of the order picks one, else ``default_language``:

```yaml
kind: template
name: notify_shipped
use: notification
event: shipped
languages:
  en: {subject: "Order {{ order.external_id }} shipped", body: "..."}
```

Templates run in Jinja2's ``ImmutableSandboxedEnvironment`` (no access to
Python internals, no method that changes a list or dict) on a deep copy of
their context; print templates escape every value (autoescape). A render is
bounded: at most ``MAX_LOOP_ITERATIONS`` loop iterations, ``MAX_OUTPUT_CHARS``
characters, no ``*`` that builds a huge string and no ``**`` with a huge
exponent. Names a template may use are fixed per ``use``, so a mistyped one is
refused when the definition is validated, and so are ``|safe``, ``{% autoescape
false %}``, ``<script>``, ``on…=`` event handlers and ``javascript:`` URLs in a
print template: what an analyst writes never runs in an operator's browser (the
pages are also served with a Content-Security-Policy that forbids scripts).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from engine.errors import DefinitionError, join_path
from engine.expressions import suggest

# The names each kind of template sees.
VARIABLES: dict[str, tuple[str, ...]] = {
    "label": ("order", "shipment", "sender", "printed_at"),
    "packing_slip": ("order", "shipments", "printed_at"),
    "pick_list": ("wave", "printed_at"),
    "notification": ("order", "shipments", "event"),
}
PRINT_USES = ("label", "packing_slip", "pick_list")


# What one render may cost: loop iterations over all loops, characters written, the size of a
# string or list built with `*`, and the exponent of `**`.
MAX_LOOP_ITERATIONS = 10_000
MAX_OUTPUT_CHARS = 1_000_000
MAX_REPEAT = 10_000
MAX_EXPONENT = 64


class RenderError(ValueError):
    """A template that failed while rendering (e.g. a sandbox violation)."""


_iterations: ContextVar[list[int]] = ContextVar("template_iterations")


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every ``{% for %}`` iterates through this: the render's iterations are counted and capped."""
    counter = _iterations.get()
    for item in iterable:
        counter[0] += 1
        if counter[0] > MAX_LOOP_ITERATIONS:
            raise SecurityError(f"more than {MAX_LOOP_ITERATIONS} loop iterations")
        yield item


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with `*` and `**` checked so one expression cannot exhaust memory or CPU."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                repeats = isinstance(sequence, (str, list, tuple)) and isinstance(times, int)
                if repeats and len(sequence) * times > MAX_REPEAT:
                    raise SecurityError(f"a repeated value longer than {MAX_REPEAT}")
        return super().call_binop(context, operator, left, right)


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value)


def _environment(autoescape: bool) -> _BoundedSandbox:
    env = _BoundedSandbox(autoescape=autoescape, undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
    env.globals["_loop_guard"] = _loop_guard
    return env


HTML = _environment(autoescape=True)
TEXT = _environment(autoescape=False)


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    language: str


@dataclass(frozen=True)
class Template:
    name: str
    use: str
    title: str
    event: str | None
    default_language: str | None
    _body: Any = None  # compiled print template
    _languages: Mapping[str, tuple[Any, Any]] | None = None  # language -> (subject, body)

    def render(self, context: dict[str, Any]) -> str:
        """The printable HTML of a print template."""
        return _bounded_render(self.name, self._body, context)

    def languages(self) -> tuple[str, ...]:
        return tuple(self._languages or ())

    def message(self, context: dict[str, Any], language: str | None) -> Message:
        """Subject and body of a notification in ``language``, else the default language."""
        if self._languages is None or self.default_language is None:
            raise TypeError(f"template {self.name!r} is a print template: it has no message")
        chosen = language if language is not None and language in self._languages else self.default_language
        subject, body = self._languages[chosen]
        subject_text = _bounded_render(self.name, subject, context)
        return Message(" ".join(subject_text.split()), _bounded_render(self.name, body, context), chosen)


def _bounded_render(name: str, compiled: Any, context: dict[str, Any]) -> str:
    """Render on a deep copy of ``context``, within the loop and output caps."""
    token = _iterations.set([0])
    try:
        parts, size = [], 0
        for part in compiled.generate(copy.deepcopy(context)):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"output longer than {MAX_OUTPUT_CHARS} characters")
            parts.append(part)
        return "".join(parts)
    except SecurityError as exc:
        raise RenderError(f"template {name!r} was stopped by the sandbox: {exc}") from exc
    finally:
        _iterations.reset(token)


def _compile(env: _BoundedSandbox, text: str) -> Any:
    """Compile with every loop's iterable passed through ``_loop_guard``."""
    ast = env.parse(text)
    for loop in ast.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name("_loop_guard", "load"), [loop.iter], [], None, None)
    return env.from_string(ast)


def compile_text(text: str) -> Any:
    """A plain-text template another kind of definition holds (an http step's URL, headers, body): unescaped,
    in the same bounded sandbox."""
    return _compile(TEXT, text)


def render_text(name: str, compiled: Any, context: dict[str, Any]) -> str:
    """Render a template from ``compile_text`` within the loop and output caps; RenderError if the sandbox stops it."""
    return _bounded_render(name, compiled, context)


def parse_template(raw: dict) -> Template:
    """Compile every Jinja2 text of a definition that passed validation."""
    common = {"name": raw["name"], "use": raw["use"], "title": raw.get("title", raw["name"])}
    if raw["use"] == "notification":
        languages = {
            language: (_compile(TEXT, texts["subject"]), _compile(TEXT, texts["body"]))
            for language, texts in raw["languages"].items()
        }
        default = raw.get("default_language") or next(iter(raw["languages"]))
        return Template(**common, event=raw["event"], default_language=default, _languages=languages)
    return Template(**common, event=None, default_language=None, _body=_compile(HTML, raw["body"]))


def _texts(raw: dict) -> Iterator[tuple[str, str, bool]]:
    """(path, text, is_html) of every template text in a definition."""
    if raw["use"] == "notification":
        for language, texts in raw.get("languages", {}).items():
            for key in ("subject", "body"):
                yield join_path("$.languages", language, key), texts[key], False
    else:
        yield "$.body", raw["body"], True


def _assigned(ast: nodes.Template) -> set[str]:
    return {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}


def template_problems(text: str, allowed: tuple[str, ...], html: bool) -> Iterator[str]:
    """Why a Jinja2 text cannot be used: syntax errors with their line, unknown names."""
    env = HTML if html else TEXT
    try:
        ast = env.parse(text)
    except TemplateSyntaxError as exc:
        yield f"template syntax error at line {exc.lineno}: {exc.message}"
        return
    known = set(allowed) | set(env.globals) | _assigned(ast)
    for name in sorted(meta.find_undeclared_variables(ast) - known):
        yield f"unknown name {name!r}{suggest(name, allowed)}; this template sees {', '.join(allowed)}"
    yield from _unsafe_markup(ast, html)


# Markup that would run in the browser of whoever prints: a script element, an event-handler
# attribute (onload=, onerror=, ...) or a javascript: URL.
_SCRIPT = re.compile(r"<\s*script\b", re.IGNORECASE)
_HANDLER = re.compile(r"(?:^|[\s/\"'])on[a-z]+\s*=", re.IGNORECASE)
_JS_URL = re.compile(r"javascript\s*:", re.IGNORECASE)


def _unsafe_markup(ast: nodes.Template, html: bool) -> Iterator[str]:
    """``|safe`` and ``{% autoescape false %}`` (values unescaped), and in HTML scripts and handlers."""
    for node in ast.find_all(nodes.Filter):
        if node.name == "safe":
            yield f"line {node.lineno}: '|safe' is not allowed: every value is escaped"
    for modifier in ast.find_all(nodes.ScopedEvalContextModifier):
        if any(option.key == "autoescape" for option in modifier.options):
            yield f"line {modifier.lineno}: '{{% autoescape %}}' is not allowed: every value is escaped"
    if not html:
        return
    for data in ast.find_all(nodes.TemplateData):
        for pattern, what in (
            (_SCRIPT, "a <script> element"),
            (_HANDLER, "an on...= event handler"),
            (_JS_URL, "a javascript: URL"),
        ):
            match = pattern.search(data.data)
            if match:
                line = data.lineno + data.data.count("\n", 0, match.start())
                yield f"line {line}: {what} is not allowed in a printable template: scripts never run in print pages"


def check_template(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks: each text compiles and uses only the names its kind sees."""
    use = raw["use"]
    allowed = VARIABLES[use]
    if use == "notification" and "body" in raw:
        yield DefinitionError(
            "$.body", "a notification has no single body; write subject and body per language under languages"
        )
    if use != "notification" and "languages" in raw:
        yield DefinitionError("$.languages", f"a {use} template has one body; languages are for notifications")
    if use == "notification":
        default = raw.get("default_language")
        if default and default not in raw["languages"]:
            yield DefinitionError(
                "$.default_language", f"{default!r} is not among the languages: {', '.join(raw['languages'])}"
            )
    for path, text, html in _texts(raw):
        for problem in template_problems(text, allowed, html):
            yield DefinitionError(path, problem)
