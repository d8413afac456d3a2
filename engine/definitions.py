"""Definitions of every kind: load YAML, validate (schema + semantics), parse.

``validate_text`` is the one entry point the CLI, the API and publishing use,
so all of them refuse exactly the same definitions with the same messages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from jsonschema.exceptions import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent

from engine.allocation import check_allocation, parse_allocation
from engine.carriers import check_carriers, parse_carriers
from engine.channels import check_channel, parse_channel
from engine.durations import DURATION_HELP, DURATION_PATTERN
from engine.errors import DefinitionError, InvalidDefinition, join_path
from engine.expressions import range_values, suggest
from engine.flows import check_flow, parse_flow
from engine.forms import check_form, parse_form
from engine.lru import Lru
from engine.payments import check_payments, parse_payments
from engine.reference import (
    check_promotions,
    check_regions,
    parse_promotions,
    parse_regions,
)
from engine.rules import check_rules, parse_rules
from engine.schemas import fast_check, validator_for
from engine.templates import check_template, parse_template
from engine.testcases import case_errors, check_cases, run_cases
from engine.yaml_syntax import plain_message

NAME_PATTERN = "^[a-z][a-z0-9_]*$"

# A definition's text is refused above this many characters; the shipped ones are under 20,000.
MAX_TEXT_CHARS = 200_000
# Mappings, lists and scalars one definition may hold once loaded.
MAX_NODES = 50_000
# Stored test cases run on every validation: at most this many, and at most this many range values
# walked by all of them together (engine.expressions.range_values), so validating costs well under a second.
MAX_TEST_CASES = 200
MAX_CASE_RANGE_VALUES = 1_000_000
ALIAS_MESSAGE = "YAML anchors and aliases (&name, *name, <<: merge) are not allowed in definitions: write the value out"


@dataclass(frozen=True)
class Kind:
    name: str
    check: Callable[[dict], Iterator[DefinitionError]]
    parse: Callable[[dict], Any]


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("form", check_form, parse_form),
        Kind("rules", check_rules, parse_rules),
        Kind("flow", check_flow, parse_flow),
        Kind("regions", check_regions, parse_regions),
        Kind("promotions", check_promotions, parse_promotions),
        Kind("channel", check_channel, parse_channel),
        Kind("allocation", check_allocation, parse_allocation),
        Kind("carriers", check_carriers, parse_carriers),
        Kind("payments", check_payments, parse_payments),
        Kind("template", check_template, parse_template),
    )
}


@dataclass(frozen=True)
class Source:
    """A definition's text and what it says about itself."""

    text: str
    raw: dict | None
    errors: tuple[DefinitionError, ...]
    # Results of the definition's stored test cases (engine/testcases.py), when it has any.
    tests: tuple = ()

    @property
    def kind(self) -> str | None:
        return self.raw.get("kind") if isinstance(self.raw, dict) else None

    @property
    def name(self) -> str | None:
        return self.raw.get("name") if isinstance(self.raw, dict) else None

    @property
    def sha256(self) -> str:
        return content_hash(self.text)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_yaml(text: str, strict: bool = True) -> tuple[Any, list[DefinitionError]]:
    """Parse YAML; a syntax error becomes one error at ``$``, in plain words with its line.

    The C scanner (ruamel.yaml.clib) reads valid text about 5x faster, which
    validation as you type needs; a text it refuses is read again by the pure
    parser, whose messages say more (the same data either way: YAML 1.2).

    A text longer than ``MAX_TEXT_CHARS`` is not parsed, and one that uses an
    alias (the "billion laughs": a few hundred bytes that expand to billions of
    nodes for whatever walks them) or holds more than ``MAX_NODES`` is refused.
    ``strict=False`` (a published or pinned text) skips these checks: they came
    in a later release than some texts, which must still parse.
    """
    if strict and len(text) > MAX_TEXT_CHARS:
        return None, [DefinitionError("$", f"the definition is {len(text)} characters; at most {MAX_TEXT_CHARS}")]
    alias = _alias_error(text) if strict else None
    if alias:
        return None, [alias]
    try:
        loaded = YAML(typ="safe").load(text)
    except YAMLError:
        pass
    else:
        return _checked(loaded, strict)
    try:
        return _checked(YAML(typ="safe", pure=True).load(text), strict)
    except MarkedYAMLError as exc:  # in plain words, at the line where the mistake is
        return None, [DefinitionError("$", plain_message(text, exc))]
    except YAMLError as exc:
        return None, [DefinitionError("$", f"YAML cannot read this: {exc}")]


_MAYBE_ALIAS = re.compile(r"[&*][^\s,\[\]{}]")


def _alias_error(text: str) -> DefinitionError | None:
    """The first anchor or alias, with its line (a scan of the parser's events, only when '&' or '*' is there)."""
    if not _MAYBE_ALIAS.search(text):
        return None
    try:
        for event in YAML(typ="safe").parse(text):
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                return DefinitionError("$", f"line {mark.line + 1}: {ALIAS_MESSAGE}")
    except YAMLError:
        return None  # a syntax error: loading says where
    return None


def _checked(loaded: Any, strict: bool) -> tuple[Any, list[DefinitionError]]:
    shape = _shape_error(loaded) if strict else None
    return (None, [shape]) if shape else (loaded, [])


def _shape_error(data: Any) -> DefinitionError | None:
    """An alias (a mapping or list met twice) or too many nodes, else None; walks each node once."""
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(data, "$")]
    count = 0
    while stack:
        node, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            return DefinitionError("$", f"the definition holds more than {MAX_NODES} values")
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                return DefinitionError(path, ALIAS_MESSAGE)
            seen.add(id(node))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((value, join_path(path, key)) for key, value in items)
    return None


# Patterns of the schemas, said in words.
PATTERN_MEANING = {
    DURATION_PATTERN: f"is not a duration; {DURATION_HELP}",
    NAME_PATTERN: "is not a valid name: use lower-case letters, digits and _, starting with a letter",
    "^[A-Z][A-Z0-9_]*$": "is not an environment variable name: use upper-case letters, digits and _",
    "^OMS_[A-Z0-9_]*SECRET[A-Z0-9_]*$": (
        "is not a secret's variable: name an OMS_..._SECRET... environment variable, e.g. OMS_CHANNEL_SECRET_WEB"
    ),
    "^https?://": "is not a URL: start it with http:// or https://",
    "^/": "must start with /",
    "^([3-5][0-9][0-9]|[3-5]xx|timeout|unreachable)$": (
        "is not an outcome of an http step: a status (404), a class (4xx, 5xx), timeout or unreachable"
    ),
    "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$": "is not a header name: letters, digits and - (e.g. X-Request-Id)",
}


def _schema_message(error: ValidationError) -> str:
    # The isinstance checks hold for every error a validator yields; they tell the type checker
    # that the keyword's value, the instance and the schema are set (jsonschema's stubs allow "unset").
    keyword, value, instance, schema = error.validator, error.validator_value, error.instance, error.schema
    if keyword == "required":
        return error.message.replace("is a required property", "is required")
    if keyword == "additionalProperties" and isinstance(schema, Mapping) and isinstance(instance, Mapping):
        properties = schema.get("properties", {})
        extra = sorted(k for k in instance if k not in properties)
        # `true` marks keys a parent schema describes; those already given (a step's id and type) go unsaid.
        allowed = ", ".join(sorted(k for k, v in properties.items() if not (v is True and k in instance)))
        return f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}" + (
            f"; allowed here: {allowed}" if allowed else ""
        )
    if keyword == "enum" and isinstance(value, list):
        return f"{instance!r} is not one of {', '.join(map(repr, value))}"
    if keyword == "const":
        return f"must be {value!r}"
    if keyword == "not" and isinstance(value, Mapping) and "const" in value:
        return f"must not be {value['const']!r}"
    if keyword == "type":
        if isinstance(instance, date):  # YAML reads an unquoted 2026-01-01 as a date
            return f"write the date in quotes: '{instance.isoformat()}'"
        return f"must be of type {value}, not {type(instance).__name__}"
    if keyword == "pattern" and isinstance(value, str):
        meaning = PATTERN_MEANING.get(value)
        if meaning:
            return f"{instance!r} {meaning}"
        return f"{instance!r} does not match {value!r}"
    return error.message


def _schema_errors(kind: str, raw: dict) -> list[DefinitionError]:
    if fast_check(kind, raw):  # valid: the compiled check says so in well under a millisecond
        return []
    errors = []
    for error in validator_for(kind).iter_errors(raw):
        # `if`/`then` wrappers repeat the inner error; report the leaves only.
        leaves = [error] if not error.context else list(_leaves(error))
        for leaf in leaves:
            errors.append(DefinitionError(leaf.json_path, _schema_message(leaf)))
    return sorted(set(errors), key=lambda e: (e.path, e.message))


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    for child in error.context:
        if child.context:
            yield from _leaves(child)
        else:
            yield child


def load(text: str) -> Source:
    """Load a definition's text and run every check that needs only the text."""
    raw, errors = load_yaml(text)
    if errors:
        return Source(text, None, tuple(errors))
    if not isinstance(raw, dict):
        return Source(text, None, (DefinitionError("$", "a definition must be a mapping with kind and name"),))
    kind = raw.get("kind")
    if kind not in KINDS:
        message = (
            "kind is required"
            if kind is None
            else f"unknown kind {kind!r}{suggest(str(kind), KINDS)}; kinds are {', '.join(KINDS)}"
        )
        return Source(text, raw, (DefinitionError("$.kind", message),))
    errors = _schema_errors(kind, raw)
    if not errors:
        errors = list(KINDS[kind].check(raw))
    if not errors and raw.get("tests"):
        return _with_test_cases(text, kind, raw)
    return Source(text, raw, tuple(errors))


def _with_test_cases(text: str, kind: str, raw: dict) -> Source:
    """Run the stored test cases of a definition that passed every other check."""
    errors = list(check_cases(kind, raw)) or _case_cost_errors(raw)
    if errors:
        return Source(text, raw, tuple(errors))
    sha256 = content_hash(text)
    model = _PARSED.get(sha256) or _PARSED.put(sha256, KINDS[kind].parse(raw))
    results = tuple(run_cases(kind, model, raw))
    return Source(text, raw, tuple(case_errors(list(results))), results)


def _case_cost_errors(raw: dict) -> list[DefinitionError]:
    """Too many test cases, or cases that together would walk too many range values."""
    cases = len(raw["tests"])
    if cases > MAX_TEST_CASES:
        return [DefinitionError("$.tests", f"{cases} test cases; at most {MAX_TEST_CASES}")]
    per_case = sum(range_values(text) or 0 for text in _strings({k: v for k, v in raw.items() if k != "tests"}))
    if per_case * cases > MAX_CASE_RANGE_VALUES:
        return [
            DefinitionError(
                "$.tests",
                f"the test cases would walk {per_case * cases} range values ({per_case} per case); "
                f"at most {MAX_CASE_RANGE_VALUES}: use fewer cases or smaller ranges",
            )
        ]
    return []


def _strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def references(source: Source) -> Iterator[tuple[str, str, str]]:
    """(kind, name, path) of every other definition this one names."""
    raw = source.raw or {}
    if source.kind == "channel":
        yield "flow", raw.get("flow", "order"), "$.flow"
    if source.kind == "flow":
        if raw.get("form"):
            yield "form", raw["form"], "$.form"
        for index, step in enumerate(raw.get("steps", [])):
            if step.get("type") == "audit" and "rules" in step:
                yield "rules", step["rules"], join_path("$.steps", index, "rules")
            allocation = (step.get("params") or {}).get("allocation") if step.get("type") == "activity" else None
            if isinstance(allocation, str):
                yield "allocation", allocation, join_path("$.steps", index, "params", "allocation")


def check_references(source: Source, known: Iterable[tuple[str, str]]) -> list[DefinitionError]:
    """Errors for references to definitions that do not exist in ``known``."""
    known = set(known)
    errors = []
    for kind, name, path in references(source):
        if (kind, name) not in known:
            names = [n for k, n in known if k == kind]
            errors.append(DefinitionError(path, f"unknown {kind} {name!r}{suggest(name, names)}"))
    return errors


def validate_text(text: str, known: Iterable[tuple[str, str]] | None = None) -> Source:
    """Every error of a definition; ``known`` (kind, name) pairs resolve references."""
    source = load(text)
    if not source.errors and known is not None:
        extra = check_references(source, known)
        if extra:
            source = Source(source.text, source.raw, tuple(extra), source.tests)
    return source


# Compiled models and validated drafts, by content hash: bounded, since drafts are anyone's to send.
_PARSED: Lru[str, Any] = Lru(1024)


_VALIDATED: Lru[str, bool] = Lru(1024)


def compile_text(text: str) -> Any:
    """The typed model of a definition that is not published yet (a draft): validated, then compiled."""
    key = content_hash(text)
    if key not in _VALIDATED:
        source = load(text)
        if source.errors:
            raise InvalidDefinition(list(source.errors))
        _VALIDATED.put(key, True)
    return parse_published(text)


def parse_published(text: str) -> Any:
    """The typed model of a published (or pinned) definition, parsed once per content hash.

    Validation happened when it was published and is not run again: a check
    added in a later release must not break an order pinned to an older text.
    """
    key = content_hash(text)
    model = _PARSED.get(key)
    if model is None:
        raw, errors = load_yaml(text, strict=False)
        if errors:
            raise InvalidDefinition(errors)
        model = _PARSED.put(key, KINDS[raw["kind"]].parse(raw))
    return model
