"""Form definitions: parse, check, compile to JSON Schema, validate submissions.

Analysts describe a document (an order, a return...) as a form. The form
compiles to one JSON Schema that validates API intake, imports and manual entry
alike; ``visible_if`` and defaults are applied in Python around it, and errors
come back in the form's own words (``engine.form_messages``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as attribute
from datetime import date
from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from engine.errors import DefinitionError, join_path
from engine.expressions import (
    Expression,
    ExpressionError,
    compile_error,
    compile_expression,
)
from engine.form_messages import (
    COUNTRY_PATTERN,
    DECIMALS_KEYWORD,
    EMAIL_PATTERN,
    ENGLISH,
    EXPECTED,
    PHONE_PATTERN,
    FieldError,
    Wording,
    english,
    field_errors,
)

__all__ = [
    "ADDRESS_FIELDS",
    "Field",
    "FieldError",
    "Form",
    "FormValidator",
    "Wording",
    "check_form",
    "form_json_schema",
    "parse_form",
]


@dataclass(frozen=True)
class Field:
    """One field of a form. Labels are ``{language: text}`` with ``en`` always present.

    ``fields`` holds the parts of a group (or the fixed parts of an address),
    ``columns`` the fields of each row of a table.
    """

    id: str
    type: str
    label: Mapping[str, str] = attribute(hash=False)
    help: Mapping[str, str] | None = attribute(default=None, hash=False)
    required: bool = False
    default: Any = attribute(default=None, hash=False)
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: tuple[tuple[str, Mapping[str, str]], ...] = attribute(default=(), hash=False)
    visible_if: str | None = None
    fields: tuple[Field, ...] = ()
    columns: tuple[Field, ...] = ()
    row_label: Mapping[str, str] | None = attribute(default=None, hash=False)
    min_rows: int | None = None
    max_rows: int | None = None


@dataclass(frozen=True)
class Form:
    """A parsed form definition."""

    name: str
    title: Mapping[str, str] = attribute(hash=False)
    fields: tuple[Field, ...]


# Lower-case labels read well after the address's own: "Shipping address: city is required".
ADDRESS_FIELDS = (
    Field("name", "text", {"en": "name", "zh": "收件人"}, max_length=200),
    Field("street", "text", {"en": "street", "zh": "街道"}, required=True, max_length=200),
    Field("city", "text", {"en": "city", "zh": "城市"}, required=True, max_length=100),
    Field("postal_code", "text", {"en": "postal code", "zh": "邮编"}, required=True, max_length=20),
    Field("country", "text", {"en": "country", "zh": "国家"}, required=True, pattern=COUNTRY_PATTERN),
    Field("region", "text", {"en": "region", "zh": "地区"}, max_length=100),
)


def parse_form(raw: dict) -> Form:
    """Turn a form definition that passed ``form.json`` into frozen objects."""
    return Form(raw["name"], _localized(raw["title"]), tuple(_parse_field(f) for f in raw["fields"]))


def _parse_field(raw: dict) -> Field:
    kind = raw["type"]
    return Field(
        id=raw["id"],
        type=kind,
        label=_localized(raw.get("label", raw["id"])),
        help=_localized(raw["help"]) if "help" in raw else None,
        required=bool(raw.get("required", False)),
        default=raw.get("default"),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        min_length=raw.get("min_length"),
        max_length=raw.get("max_length"),
        pattern=raw.get("pattern"),
        options=tuple(_parse_option(o) for o in raw.get("options", ())),
        visible_if=raw.get("visible_if"),
        fields=ADDRESS_FIELDS if kind == "address" else tuple(_parse_field(f) for f in raw.get("fields", ())),
        columns=tuple(_parse_field(f) for f in raw.get("columns", ())),
        row_label=_localized(raw.get("row_label", "Row")) if kind == "table" else None,
        min_rows=raw.get("min_rows"),
        max_rows=raw.get("max_rows"),
    )


def _parse_option(raw: str | dict) -> tuple[str, Mapping[str, str]]:
    if isinstance(raw, dict):
        return raw["value"], _localized(raw.get("label", raw["value"]))
    return raw, {"en": raw}


def _localized(raw: str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(raw, str):
        return {"en": raw}
    return {"en": english(raw), **raw}


# ---- semantic checks -------------------------------------------------------

_COMMON_KEYS = {"id", "type", "label", "help", "required", "visible_if"}
_TEXT_KEYS = {"default", "min_length", "max_length", "pattern"}
_NUMBER_KEYS = {"default", "min", "max"}
# Keys that mean something for each type, beyond the common ones.
_TYPE_KEYS = {
    "text": _TEXT_KEYS,
    "email": _TEXT_KEYS,
    "phone": _TEXT_KEYS,
    "number": _NUMBER_KEYS,
    "integer": _NUMBER_KEYS,
    "money": _NUMBER_KEYS,
    "date": {"default"},
    "boolean": {"default"},
    "select": {"default", "options"},
    "address": set(),
    "group": {"fields"},
    "table": {"columns", "row_label", "min_rows", "max_rows"},
}
_RANGES = (("min", "max"), ("min_length", "max_length"), ("min_rows", "max_rows"))


def check_form(raw: dict) -> Iterator[DefinitionError]:
    """Yield every semantic problem of a form definition that already passed ``form.json``."""
    yield from _check_fields(raw.get("fields", []), "$.fields")


def _check_fields(fields: list[dict], path: str) -> Iterator[DefinitionError]:
    first_at: dict[str, str] = {}
    for index, raw in enumerate(fields):
        here = join_path(path, index)
        field_id = raw["id"]  # form.json requires it
        if field_id in first_at:
            yield DefinitionError(
                join_path(here, "id"), f"duplicate field id {field_id!r} (first used at {first_at[field_id]})"
            )
        first_at.setdefault(field_id, here)
        yield from _check_field(raw, here)


def _check_field(raw: dict, path: str) -> Iterator[DefinitionError]:
    kind: str = raw["type"]  # form.json requires it
    for key in raw:
        if key not in _COMMON_KEYS and key not in _TYPE_KEYS.get(kind, set()):
            yield DefinitionError(join_path(path, key), f"{key} does not apply to a {kind} field")
    for low, high in _RANGES:
        if raw.get(low) is not None and raw.get(high) is not None and raw[low] > raw[high]:
            yield DefinitionError(join_path(path, low), f"{low} ({raw[low]}) is greater than {high} ({raw[high]})")
    if "pattern" in raw:
        try:
            re.compile(raw["pattern"])
        except (re.error, TypeError) as exc:
            yield DefinitionError(join_path(path, "pattern"), f"pattern is not a valid regular expression ({exc})")
    if "visible_if" in raw and (problem := compile_error(raw["visible_if"])):
        yield DefinitionError(join_path(path, "visible_if"), f"visible_if does not compile ({problem})")
    if kind == "select" and not raw.get("options"):
        yield DefinitionError(path, "a select field needs options")
    if (
        "default" in raw
        and "default" in _TYPE_KEYS.get(kind, ())
        and (problem := _default_problem(kind, raw["default"], raw.get("options", [])))
    ):
        yield DefinitionError(join_path(path, "default"), problem)
    for key, kinds in (("fields", "group"), ("columns", "table")):
        if kind == kinds and not raw.get(key):
            yield DefinitionError(path, f"a {kind} field needs {key}")
        yield from _check_fields(raw.get(key) or [], join_path(path, key))


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "email": str,
    "phone": str,
    "date": str,
    "select": str,
    "number": (int, float),
    "money": (int, float),
    "integer": int,
    "boolean": bool,
}


def _default_problem(kind: str, value: Any, options: list) -> str | None:
    if kind == "select":
        values = [o["value"] if isinstance(o, dict) else o for o in options]
        if value not in values:
            return f"default {value!r} is not one of the options: {', '.join(map(str, values))}"
        return None
    if not _has_type(kind, value):
        return f"default {EXPECTED[kind]}"
    if kind == "date" and not _is_date(value):
        return f"default {EXPECTED['date']}"
    if kind == "money" and not _has_decimals(value, 2):
        return "default must have at most 2 decimals"
    return None


def _has_type(kind: str, value: Any) -> bool:
    # bool is an int in Python, but true is no number in a form
    return isinstance(value, _PYTHON_TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))


def _is_date(value: str) -> bool:
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _has_decimals(value: float, places: int) -> bool:
    # str() gives the shortest repr, so 19.99 stays 19.99 and 0.1 + 0.2 shows its noise;
    # NaN and infinity have a letter for an exponent (and no decimals).
    exponent = Decimal(str(value)).as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -places


# ---- JSON Schema -----------------------------------------------------------

_SCALAR_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "email": {"type": "string"},
    "phone": {"type": "string"},
    "date": {"type": "string", "format": "date"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "money": {"type": "number", DECIMALS_KEYWORD: 2},
    "boolean": {"type": "boolean"},
    "select": {"type": "string"},
}
_BUILTIN_PATTERNS = {"email": EMAIL_PATTERN, "phone": PHONE_PATTERN}


def form_json_schema(form: Form) -> dict:
    """JSON Schema (draft 2020-12) of a document filled in with ``form``.

    ``visible_if`` is not in it: hidden fields are removed before validating,
    and a field that may be hidden is never listed as ``required``. Unknown keys
    are allowed at the top level (channels send extra data), nowhere else.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": english(form.title),
        **_object_schema(form.fields, closed=False),
    }


def _object_schema(fields: tuple[Field, ...], closed: bool = True) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": {f.id: _field_schema(f) for f in fields}}
    if required := [f.id for f in fields if f.required and f.visible_if is None]:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def _field_schema(field: Field) -> dict:
    schema: dict[str, Any] = {"title": english(field.label)}
    if field.help:
        schema["description"] = english(field.help)
    if field.default is not None:
        schema["default"] = field.default
    if field.type in ("group", "address"):
        return schema | _object_schema(field.fields)
    if field.type == "table":
        schema |= {"type": "array", "items": _object_schema(field.columns)}
        bounds: dict[str, float | None] = {"minItems": field.min_rows, "maxItems": field.max_rows}
    else:
        schema |= _SCALAR_SCHEMAS[field.type]
        bounds = {
            "minimum": field.minimum,
            "maximum": field.maximum,
            "minLength": field.min_length,
            "maxLength": field.max_length,
        }
        if field.options:
            schema["enum"] = [value for value, _ in field.options]
        patterns = [p for p in (_BUILTIN_PATTERNS.get(field.type), field.pattern) if p]
        if patterns:
            schema["pattern"] = patterns[0]
        if len(patterns) > 1:  # one keyword holds one pattern
            schema["allOf"] = [{"pattern": patterns[1]}]
    return schema | {key: value for key, value in bounds.items() if value is not None}


def _max_decimals(validator: Any, places: int, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if validator.is_type(instance, "number") and not _has_decimals(instance, places):
        yield ValidationError(f"{instance!r} has more than {places} decimals")


_SchemaValidator = validators.extend(Draft202012Validator, {DECIMALS_KEYWORD: _max_decimals})


# ---- validating submissions -------------------------------------------------


class FormValidator:
    """Validates documents against one form; build it once per form version."""

    def __init__(self, form: Form):
        self.form = form
        self.schema = form_json_schema(form)
        self._schema_validator = _SchemaValidator(self.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        self._conditions = {text: compile_expression(text) for text in _conditions(form.fields)}

    def validate(self, data: Any, wording: Wording = ENGLISH) -> tuple[dict, list[FieldError]]:
        """Return the cleaned document (defaults in, hidden fields out) and its errors.

        Empty values (null, blank text) count as absent. Defaults are applied
        first, so ``visible_if`` sees them; an absent optional group is created
        when some of its fields have defaults. The errors are worded as ``wording`` says (English).
        """
        if not isinstance(data, dict):
            return {}, [FieldError("", f"The {english(self.form.title).lower()} must be a JSON object")]
        filled = _fill(self.form.fields, data)
        visible = {text: _is_visible(expression, filled) for text, expression in self._conditions.items()}
        missing: list[tuple] = []
        cleaned = _drop_hidden(self.form.fields, filled, visible, (), missing)
        errors = field_errors(self.form, self._schema_validator.iter_errors(cleaned), missing, wording)
        return cleaned, errors


def _conditions(fields: tuple[Field, ...]) -> Iterator[str]:
    for field in fields:
        if field.visible_if:
            yield field.visible_if
        yield from _conditions(field.fields + field.columns)


def _is_visible(expression: Expression, document: dict) -> bool:
    try:
        return expression.is_true(document)
    except ExpressionError:
        return True  # validate rather than silently drop data


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _fill(fields: tuple[Field, ...], data: dict) -> dict:
    """Drop empty values and apply defaults, keeping keys the form does not know."""
    out = dict(data)
    for field in fields:
        value = out.get(field.id)
        if _blank(value):
            out.pop(field.id, None)
            value = _default(field)
            if value is None:
                continue
        if isinstance(value, dict) and field.type in ("group", "address"):
            value = _fill(field.fields, value)
        elif isinstance(value, list) and field.type == "table":
            value = [_fill(field.columns, row) if isinstance(row, dict) else row for row in value]
        elif field.type == "integer" and isinstance(value, float) and value.is_integer():
            value = int(value)
        out[field.id] = value
    return out


def _default(field: Field) -> Any:
    if field.default is not None:
        return copy.deepcopy(field.default)
    # a required group stays absent so the error says "Customer is required"
    if field.type == "group" and not field.required and _has_defaults(field.fields):
        return {}
    return None


def _has_defaults(fields: tuple[Field, ...]) -> bool:
    return any(f.default is not None or (f.type == "group" and _has_defaults(f.fields)) for f in fields)


def _drop_hidden(fields: tuple[Field, ...], data: dict, visible: dict[str, bool], path: tuple, missing: list) -> dict:
    """Remove hidden fields; note visible conditional required fields that are absent."""
    out = dict(data)
    for field in fields:
        if field.visible_if and not visible[field.visible_if]:
            out.pop(field.id, None)
            continue
        here = (*path, field.id)
        value = out.get(field.id)
        if value is None:
            if field.required and field.visible_if:
                missing.append(here)
        elif isinstance(value, dict) and field.type in ("group", "address"):
            out[field.id] = _drop_hidden(field.fields, value, visible, here, missing)
        elif isinstance(value, list) and field.type == "table":
            out[field.id] = [
                _drop_hidden(field.columns, row, visible, (*here, i), missing) if isinstance(row, dict) else row
                for i, row in enumerate(value)
            ]
    return out
