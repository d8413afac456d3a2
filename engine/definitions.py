"""Definitions of every kind: load YAML, validate (schema + semantics), parse.

``validate_text`` is the one entry point the CLI, the API and publishing use,
so all of them refuse exactly the same definitions with the same messages.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Iterable, Iterator

from jsonschema.exceptions import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from engine.allocation import check_allocation, parse_allocation
from engine.carriers import check_carriers, parse_carriers
from engine.channels import check_channel, parse_channel
from engine.durations import DURATION_HELP, DURATION_PATTERN
from engine.errors import DefinitionError, InvalidDefinition, join_path
from engine.expressions import suggest
from engine.flows import check_flow, parse_flow
from engine.forms import check_form, parse_form
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

NAME_PATTERN = "^[a-z][a-z0-9_]*$"


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


def load_yaml(text: str) -> tuple[Any, list[DefinitionError]]:
    """Parse YAML; a syntax error becomes one error at ``$`` with its line.

    The C scanner (ruamel.yaml.clib) reads valid text about 5x faster, which
    validation as you type needs; a text it refuses is read again by the pure
    parser, whose messages say more (the same data either way: YAML 1.2).
    """
    try:
        return YAML(typ="safe").load(text), []
    except YAMLError:
        pass
    try:
        return YAML(typ="safe", pure=True).load(text), []
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        return None, [DefinitionError("$", f"YAML syntax error{where}: {exc.problem}")]
    except YAMLError as exc:
        return None, [DefinitionError("$", f"YAML syntax error: {exc}")]


# Patterns of the schemas, said in words.
PATTERN_MEANING = {
    DURATION_PATTERN: f"is not a duration; {DURATION_HELP}",
    NAME_PATTERN: "is not a valid name: use lower-case letters, digits and _, starting with a letter",
    "^[A-Z][A-Z0-9_]*$": "is not an environment variable name: use upper-case letters, digits and _",
    "^https?://": "is not a URL: start it with http:// or https://",
}


def _schema_message(error: ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "additionalProperties":
        properties = error.schema.get("properties", {})
        extra = sorted(k for k in error.instance if k not in properties)
        # `true` marks keys a parent schema describes; those already given (a step's id and type) go unsaid.
        allowed = ", ".join(sorted(k for k, v in properties.items() if not (v is True and k in error.instance)))
        return f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))}" + (
            f"; allowed here: {allowed}" if allowed else ""
        )
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(repr, error.validator_value))}"
    if error.validator == "const":
        return f"must be {error.validator_value!r}"
    if error.validator == "type":
        if isinstance(error.instance, date):  # YAML reads an unquoted 2026-01-01 as a date
            return f"write the date in quotes: '{error.instance.isoformat()}'"
        return f"must be of type {error.validator_value}, not {type(error.instance).__name__}"
    if error.validator == "pattern":
        meaning = PATTERN_MEANING.get(error.validator_value)
        if meaning:
            return f"{error.instance!r} {meaning}"
        return f"{error.instance!r} does not match {error.validator_value!r}"
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
        return _with_test_cases(Source(text, raw, ()))
    return Source(text, raw, tuple(errors))


def _with_test_cases(source: Source) -> Source:
    """Run the stored test cases of a definition that passed every other check."""
    errors = list(check_cases(source.kind, source.raw))
    if errors:
        return Source(source.text, source.raw, tuple(errors))
    model = _PARSED.get(source.sha256) or KINDS[source.kind].parse(source.raw)
    _PARSED[source.sha256] = model
    results = tuple(run_cases(source.kind, model, source.raw))
    return Source(source.text, source.raw, tuple(case_errors(list(results))), results)


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


_PARSED: dict[str, Any] = {}


def compile_text(text: str) -> Any:
    """The typed model of a valid definition, compiled once per content hash."""
    key = content_hash(text)
    model = _PARSED.get(key)
    if model is None:
        source = load(text)
        if source.errors:
            raise InvalidDefinition(list(source.errors))
        model = KINDS[source.kind].parse(source.raw)
        _PARSED[key] = model
    return model
