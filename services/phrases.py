"""Sentences people read, kept so that a page can say them in the reader's language.

Services speak English: the API's messages, a timeline line's ``message`` and an
error's text are a contract and stay as they are. Beside the English, a sentence
can carry its *wording* — the English with ``%(name)s`` places, which is the
gettext message id the pages translate (web/locale) — and the *values* that fill
the places. A page then says ``gettext(wording) % values``; without a wording it
shows the English.

A sentence gets its wording in one of two ways:

- said with it: ``phrase(N_("a note needs %(range)s characters"), range="1 to 2000")``;
- recognised from the English a service or a workflow wrote, by a ``Catalogue`` that
  lists the wordings each code (a timeline line's type, an error's code) is written
  in. Workflows and activities keep writing the English they always wrote (their
  histories replay unchanged); the catalogue reads it back into wording and values
  when the line is stored or the error shown. Text no wording matches stays English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def N_(text: str) -> str:  # the name gettext's tools look for
    """Marks a wording for the pages' catalogues (web/locale); the wording itself is the English."""
    return text


@dataclass(frozen=True)
class Phrase:
    """A sentence: its ``wording`` (English with ``%(name)s`` places) and the ``values`` it was filled with."""

    wording: str = ""
    values: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        """The sentence in English."""
        return self.wording % dict(self.values) if self.values else self.wording.replace("%%", "%")


def phrase(wording: str, **values: object) -> Phrase:
    return Phrase(wording, tuple((key, str(value)) for key, value in values.items()))


_PLACE = re.compile(r"%\((\w+)\)s")


def _pattern(wording: str) -> re.Pattern[str]:
    """The English sentences ``wording`` writes: its text as it is, each place any text (shortest first)."""
    parts = _PLACE.split(wording)
    regex = "".join(
        re.escape(part.replace("%%", "%")) if index % 2 == 0 else f"(?P<{part}>.*?)" for index, part in enumerate(parts)
    )
    return re.compile(regex, re.DOTALL)


class Catalogue:
    """The wordings each code's English is written in, most specific first; ``"*"`` lists those of any code."""

    def __init__(self, wordings: Mapping[str, Sequence[str]]):
        self.wordings = {code: tuple(listed) for code, listed in wordings.items()}
        self._patterns = {
            code: tuple((wording, _pattern(wording)) for wording in listed) for code, listed in self.wordings.items()
        }

    def recognise(self, code: str | None, text: str) -> Phrase | None:
        """The wording and values ``text`` was written with, or None when no wording of ``code`` matches it."""
        if not text:
            return None
        for wording, pattern in (*self._patterns.get(code or "", ()), *self._patterns.get("*", ())):
            match = pattern.fullmatch(text)
            if match is not None:
                return Phrase(wording, tuple(match.groupdict().items()))
        return None

    def all_wordings(self) -> set[str]:
        return {wording for listed in self.wordings.values() for wording in listed}
