"""zen-engine expressions: compiled once per text, evaluated many times."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import zen


class ExpressionError(ValueError):
    """An expression that does not compile or fails when evaluated."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail or message


def _first_line_message(raw: str) -> str:
    """zen reports errors as a JSON line followed by a Rust backtrace; keep the message."""
    first = raw.strip().splitlines()[0] if raw.strip() else raw
    try:
        payload = json.loads(first)
    except ValueError:
        return first
    source = payload.get("source", first)
    kind = payload.get("type", "")
    return f"{kind}: {source}" if kind else str(source)


def compile_error(text: str) -> str | None:
    """Return why ``text`` is not a valid expression (or one too costly to run), or None."""
    problem = _syntax_error(text)
    return problem or cost_error(text)


def _syntax_error(text: str) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "expression is empty"
    problem = zen.validate_expression(text)
    if problem is None:
        return None
    return f"{problem.get('type', 'error')}: {problem.get('source', problem)}"


# How many values the ranges of one expression may hold together when a function walks them
# (`map([1..10], # * 2)`): zen materialises a walked range, so `map([0..1e10], #)` would hold the
# process for minutes and take all its memory. A range only tested (`x in [1..1e9]`) costs nothing.
MAX_RANGE_VALUES = 10_000
_RANGE = re.compile(r"[\[(]([^\[\]()]*?)\.\.([^\[\]()]*?)[\])]")
_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")
_CALL = re.compile(r"[A-Za-z_]\w*\s*\(")


def range_values(text: str) -> int | None:
    """How many range values one evaluation of ``text`` may walk; None when a walked range's bounds are not numbers."""
    code = _STRING_LITERAL.sub("''", text)
    ranges = _RANGE.findall(code)
    if not ranges or not _CALL.search(code):
        return 0
    values = 1
    for low, high in ranges:
        if not (_NUMBER.match(low) and _NUMBER.match(high)):
            return None
        values *= abs(int(float(high)) - int(float(low))) + 1
    return values


def cost_error(text: str) -> str | None:
    """Why ``text`` could cost unbounded work (a range walked by a function), or None."""
    values = range_values(text)
    if values is None:
        return "a range walked by a function needs numbers written out as its bounds, like [1..10]"
    if values > MAX_RANGE_VALUES:
        return f"its ranges hold {values} values; at most {MAX_RANGE_VALUES}"
    return None


_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_LONE_EQUALS = re.compile(r"(?<![=!<>])=(?!=)")


def condition_error(text: str) -> str | None:
    """Like ``compile_error``, for expressions that must be true or false.

    zen reads a lone ``=`` as an assignment, which compiles and is never
    true: the condition would silently never match.
    """
    problem = compile_error(text)
    if problem:
        return problem
    if _LONE_EQUALS.search(_STRING_LITERAL.sub("''", text)):
        return "'=' assigns; use '==' to compare"
    return None


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> Expression:
    """Compile ``text`` once; the result is cached by its text.

    The cost check is validation's (a published or pinned text compiles as it did when published).
    """
    problem = _syntax_error(text)
    if problem:
        raise ExpressionError(f"expression {text!r} does not compile ({problem})")
    return Expression(text, zen.compile_expression(text))


class Expression:
    """A compiled zen-engine expression."""

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str, compiled: Any):
        self.text = text
        self._compiled = compiled

    def evaluate(self, context: dict[str, Any]) -> Any:
        try:
            return self._compiled.evaluate(context)
        except RuntimeError as exc:
            detail = _first_line_message(str(exc))
            raise ExpressionError(f"expression {self.text!r} failed: {detail}", detail) from exc

    def is_true(self, context: dict[str, Any]) -> bool:
        """Evaluate a condition; anything but true or false is an error, not a silent false."""
        value = self.evaluate(context)
        if isinstance(value, bool):
            return value
        raise ExpressionError(f"condition {self.text!r} gave {to_text(value)}, not true or false")

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def to_text(value: Any) -> str:
    """A value as an analyst would write it: 5000 not 5000.0, null not None."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(to_text(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")


def render_template(template: str, context: dict[str, Any]) -> str:
    """Render a reason such as ``amount {{ order.total }}``: each placeholder is an
    expression, compiled once, its value written as an analyst would (``to_text``)."""
    try:
        return _PLACEHOLDER.sub(lambda m: to_text(compile_expression(m.group(1).strip()).evaluate(context)), template)
    except ExpressionError as exc:
        raise ExpressionError(f"template {template!r} failed: {exc.detail}", exc.detail) from exc


def template_error(template: str) -> str | None:
    """Return why a reason template cannot be rendered, or None."""
    for inner in re.findall(r"\{\{(.*?)\}\}", template):
        problem = compile_error(inner.strip())
        if problem:
            return f"placeholder {{{{{inner}}}}} does not compile ({problem})"
    if template.count("{{") != template.count("}}"):
        return "unbalanced '{{' and '}}'"
    return None


def suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close name exists, else an empty string."""
    matches = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""
