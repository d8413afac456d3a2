"""Say what is wrong with a form submission in the form's own words.

jsonschema reports ``'abc' is not of type 'integer'`` at ``['lines', 1, 'qty']``;
people filling the form need ``Line 2: quantity must be a whole number``. This
module follows each jsonschema error's path back to the form field it is about
and words the broken rule with that field's label.

The words are English unless a ``Wording`` says otherwise: the pages pass one
with the reader's language (labels in it where the form has them) and a
translation of the phrases below, each marked with ``N_`` for the catalogues.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import ValidationError

if TYPE_CHECKING:  # engine.forms imports this module; avoid the cycle at runtime
    from engine.forms import Field, Form


def N_(phrase: str) -> str:
    """Marks a phrase for the translation catalogues (web/locale); the phrase itself is the English."""
    return phrase


# Built-in patterns, shared with the schema builder so a failure can be worded
# by which pattern failed rather than by the regex itself.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9 ()\-]{6,20}$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
PATTERN_MESSAGES = {
    EMAIL_PATTERN: N_("must be a valid email address"),
    PHONE_PATTERN: N_("must be a valid phone number"),
    COUNTRY_PATTERN: N_("must be a 2-letter country code"),
}

# Custom keyword for money: JSON Schema's multipleOf 0.01 is float-unsafe.
DECIMALS_KEYWORD = "x-maxDecimals"

# What a value of each field type must be, said when it has the wrong type.
EXPECTED = {
    "text": N_("must be text"),
    "email": N_("must be a valid email address"),
    "phone": N_("must be a valid phone number"),
    "date": N_("must be a date (YYYY-MM-DD)"),
    "number": N_("must be a number"),
    "money": N_("must be a number"),
    "integer": N_("must be a whole number"),
    "boolean": N_("must be true or false"),
    "group": N_("must be a group of fields"),
    "address": N_("must be an address with street, city, postal code and country"),
}

# When one field breaks several rules, report the most basic one.
_RANK = (
    "type",
    "required",
    "additionalProperties",
    "enum",
    "format",
    "pattern",
    DECIMALS_KEYWORD,
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
)


@dataclass(frozen=True)
class FieldError:
    """One bad field: where (``lines[1].qty``, ``""`` for the document) and what, in words."""

    field: str
    message: str


def english(text: Mapping[str, str] | None) -> str:
    """The English text of a localized label (``en`` is always there after parsing); "" for no label."""
    if text is None:
        return ""
    return text.get("en") or next(iter(text.values()), "")


def _same(phrase: str) -> str:
    return phrase


@dataclass(frozen=True)
class Wording:
    """The language errors are worded in: labels in ``lang`` where the form has them, phrases through ``translate``."""

    lang: str = "en"
    translate: Callable[[str], str] = _same

    def label(self, text: Mapping[str, str] | None) -> str:
        if text is not None and self.lang != "en" and text.get(self.lang):
            return text[self.lang]
        return english(text)

    def say(self, phrase: str, **values: Any) -> str:
        text = self.translate(phrase)
        return text % values if values else text


ENGLISH = Wording()


def field_errors(
    form: Form,
    schema_errors: Iterable[ValidationError],
    missing_required: Iterable[tuple[str | int, ...]] = (),
    wording: Wording = ENGLISH,
) -> list[FieldError]:
    """One error per bad field, in document order.

    ``missing_required`` holds the paths of conditionally visible required
    fields that are absent: the static schema cannot require them.
    """
    problems = [p for error in schema_errors for p in _problems(error)]
    problems += [(path, "required", None) for path in missing_required]
    best: dict[str, tuple[int, tuple, FieldError]] = {}
    for keys, keyword, value in problems:
        error, order = _describe(form, keys, keyword, value, wording)
        rank = _RANK.index(keyword) if keyword in _RANK else len(_RANK)
        if error.field not in best or rank < best[error.field][0]:
            best[error.field] = (rank, order, error)
    return [error for _, _, error in sorted(best.values(), key=lambda b: b[1])]


def _problems(error: ValidationError) -> Iterator[tuple[tuple, str, Any]]:
    """Split a jsonschema error into (path of the field, keyword, keyword value)."""
    path = tuple(error.absolute_path)
    # The isinstance checks hold for every error a validator yields; they tell the type checker
    # that the keyword's value, the instance and the schema are set (jsonschema's stubs allow "unset").
    keyword, value, instance, schema = error.validator, error.validator_value, error.instance, error.schema
    if keyword == "required" and isinstance(value, list) and isinstance(instance, Mapping):
        # jsonschema puts these on the parent; point at the missing field itself
        for name in value:
            if name not in instance:
                yield (*path, name), "required", None
    elif keyword == "additionalProperties" and isinstance(instance, Mapping) and isinstance(schema, Mapping):
        for name in instance:
            if name not in schema.get("properties", {}):
                yield (*path, name), "additionalProperties", None
    else:
        yield path, str(keyword), value


@dataclass(frozen=True)
class _Node:
    """A place in the submitted document, seen through the form."""

    path: str  # lines[1].qty
    order: tuple  # (field index or row, unknown key) pairs, to sort in document order
    prefix: str  # "Line 2: " -- context from enclosing rows and addresses
    subject: str  # "quantity"
    fields: tuple = ()  # what a key below this node names
    field: Field | None = None  # None for the document itself and for table rows
    marks: bool = False  # rows and addresses name themselves before their parts


def _describe(form: Form, keys: tuple, keyword: str, value: Any, wording: Wording) -> tuple[FieldError, tuple]:
    say = wording.say
    node = _Node("", (), "", wording.label(form.title), form.fields)
    for key in keys:
        context = node.prefix + (say(N_("%(subject)s: "), subject=node.subject) if node.marks else "")
        if isinstance(key, int) and node.field is not None and node.field.type == "table":
            node = _Node(
                f"{node.path}[{key}]",
                (*node.order, (key, "")),
                context,
                say(N_("%(row)s %(n)s"), row=wording.label(node.field.row_label), n=key + 1),
                node.field.columns,
                marks=True,
            )
            continue
        index = next((i for i, f in enumerate(node.fields) if f.id == key), None)
        path = f"{node.path}.{key}" if node.path else str(key)
        if index is None:  # a key the form does not know (only reported inside objects)
            order = (*node.order, (len(node.fields), str(key)))
            problem = say(N_("has no field %(key)r"), key=key)
            return FieldError(
                path, node.prefix + say(N_("%(subject)s %(problem)s"), subject=node.subject, problem=problem)
            ), order
        field = node.fields[index]
        node = _Node(
            path,
            (*node.order, (index, "")),
            context,
            wording.label(field.label),
            field.fields,
            field,
            marks=field.type == "address",
        )
    problem = _phrase(node, keyword, value, wording)
    return FieldError(
        node.path, node.prefix + say(N_("%(subject)s %(problem)s"), subject=node.subject, problem=problem)
    ), node.order


def _phrase(node: _Node, keyword: str, value: Any, wording: Wording) -> str:
    say, field = wording.say, node.field
    if keyword == "required":
        return say(N_("is required"))
    if keyword == "type":
        return _expected(field, wording) if field is not None else say(EXPECTED["group"])
    if keyword == "enum":
        return say(N_("must be one of: %(values)s"), values=", ".join(str(v) for v in value))
    if keyword == "format":  # date is the only format a form uses
        return say(EXPECTED["date"])
    if keyword == "pattern":
        return say(PATTERN_MESSAGES.get(value, N_("is not in the expected format")))
    if keyword == DECIMALS_KEYWORD:
        return say(N_("must have at most %(n)s decimals"), n=value)
    if keyword == "minLength":
        phrase = N_("must be at least %(n)s character") if value == 1 else N_("must be at least %(n)s characters")
        return say(phrase, n=value)
    if keyword == "maxLength":
        phrase = N_("must be at most %(n)s character") if value == 1 else N_("must be at most %(n)s characters")
        return say(phrase, n=value)
    if keyword == "minimum":
        return say(N_("must be at least %(n)s"), n=_number(value))
    if keyword == "maximum":
        return say(N_("must be at most %(n)s"), n=_number(value))
    if keyword in ("minItems", "maxItems") and field is not None:
        noun = wording.label(field.row_label).lower()
        if keyword == "minItems":
            phrase = N_("must have at least %(n)s %(noun)s") if value == 1 else N_("must have at least %(n)s %(noun)ss")
        else:
            phrase = N_("must have at most %(n)s %(noun)s") if value == 1 else N_("must have at most %(n)s %(noun)ss")
        return say(phrase, n=value, noun=noun)
    return say(N_("is not valid"))


def _expected(field: Field, wording: Wording) -> str:
    if field.type == "select":
        return wording.say(N_("must be one of: %(values)s"), values=", ".join(value for value, _ in field.options))
    if field.type == "table":
        return wording.say(N_("must be a list of %(noun)ss"), noun=wording.label(field.row_label).lower())
    return wording.say(EXPECTED.get(field.type, N_("has the wrong type")))


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
