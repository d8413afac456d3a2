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

Templates run in Jinja2's ``SandboxedEnvironment`` (no access to Python
internals); print templates escape every value (autoescape). Names a
template may use are fixed per ``use``, so a mistyped one is refused when the
definition is validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from jinja2 import ChainableUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

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


class RenderError(ValueError):
    """A template that failed while rendering (e.g. a sandbox violation)."""


def _money(value: Any) -> str:
    try:
        return f"{float(value):,.2f}"
    except (TypeError, ValueError):
        return str(value)


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=autoescape, undefined=ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money
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
        try:
            return self._body.render(context)
        except SecurityError as exc:
            raise RenderError(f"template {self.name!r} was stopped by the sandbox: {exc}") from exc

    def languages(self) -> tuple[str, ...]:
        return tuple(self._languages or ())

    def message(self, context: dict[str, Any], language: str | None) -> Message:
        """Subject and body of a notification in ``language``, else the default language."""
        chosen = language if language in (self._languages or {}) else self.default_language
        subject, body = self._languages[chosen]
        try:
            return Message(" ".join(subject.render(context).split()), body.render(context), chosen)
        except SecurityError as exc:
            raise RenderError(f"template {self.name!r} was stopped by the sandbox: {exc}") from exc


def parse_template(raw: dict) -> Template:
    """Compile every Jinja2 text of a definition that passed validation."""
    common = {"name": raw["name"], "use": raw["use"], "title": raw.get("title", raw["name"])}
    if raw["use"] == "notification":
        languages = {
            language: (TEXT.from_string(texts["subject"]), TEXT.from_string(texts["body"]))
            for language, texts in raw["languages"].items()
        }
        default = raw.get("default_language") or next(iter(raw["languages"]))
        return Template(**common, event=raw["event"], default_language=default, _languages=languages)
    return Template(**common, event=None, default_language=None, _body=HTML.from_string(raw["body"]))


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


def check_template(raw: dict) -> Iterator[DefinitionError]:
    """Semantic checks: each text compiles and uses only the names its kind sees."""
    use = raw["use"]
    allowed = VARIABLES[use]
    if use == "notification" and "body" in raw:
        yield DefinitionError("$.body", "a notification has no single body; write subject and body per language under languages")
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
