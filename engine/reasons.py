"""A rule's reason in several languages: ``reason: "..."`` or ``reason: {en: "...", zh: "..."}``.

English is the reason: it is what the audit stores, the API returns and the
flow's tasks quote. The other languages are translations rendered beside it
when the rule fires, so a page can show the reader's own; a translation that
fails to render is left out (the English one is always there).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.errors import DefinitionError, join_path
from engine.expressions import ExpressionError, render_template, template_error

# (language, text) of each translation; a tuple so that rules and fired rules stay hashable.
Translations = tuple[tuple[str, str], ...]


def split_reason(raw: str | Mapping[str, str]) -> tuple[str, Translations]:
    """The English reason and its translations, from a definition that passed validation."""
    if isinstance(raw, str):
        return raw, ()
    return raw["en"], tuple((language, text) for language, text in raw.items() if language != "en")


def english_reason(raw: Any) -> str:
    """The English text of a reason as written (plain or per language); "" when there is none."""
    if isinstance(raw, Mapping):
        return str(raw.get("en") or "")
    return raw if isinstance(raw, str) else ""


def reason_errors(raw: str | Mapping[str, str], path: str) -> Iterator[DefinitionError]:
    """Each text of the reason must render: placeholders that compile, braces that match."""
    texts = [(path, raw)] if isinstance(raw, str) else [(join_path(path, lang), text) for lang, text in raw.items()]
    for where, text in texts:
        problem = template_error(text)
        if problem:
            yield DefinitionError(where, problem)


def render_translations(translations: Translations, context: dict[str, Any]) -> Translations:
    """Each translation rendered over ``context``; one that cannot be rendered is left out."""
    rendered = []
    for language, template in translations:
        try:
            rendered.append((language, render_template(template, context)))
        except ExpressionError:
            continue
    return tuple(rendered)
